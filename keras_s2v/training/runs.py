"""Where a generator run keeps its files, and the refusal to start over an interrupted one.
Imports no TensorFlow: `s2v train` refuses at once, before it loads."""

import os

from keras_s2v.errors import TrainingError


def run_folder(out):
    """Where a run keeps its backup, checkpoint, TensorBoard logs and CSV log: `<out>.run/`."""
    return os.path.splitext(out)[0] + ".run"


def backup_folder(out):
    """Where an unfinished run keeps the state that `resume=True` continues from."""
    return os.path.join(run_folder(out), "backup")


def phase_outputs(out, phases):
    """Where each of `phases` phases saves its generator: `<out>_phase<k>.keras`, the last `out`."""
    stem = os.path.splitext(out)[0]
    return [f"{stem}_phase{number}.keras" for number in range(1, phases)] + [out]


def refuse_interrupted(outputs):
    """TrainingError if a run saving to one of `outputs` was interrupted: only --resume continues it."""
    for path in outputs:
        if os.path.isdir(backup_folder(path)):
            raise TrainingError(
                f"{run_folder(path)} holds an interrupted run: pass --resume to continue it, or delete the folder"
            )
