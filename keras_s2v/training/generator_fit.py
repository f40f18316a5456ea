"""`train_generator`: model.fit of the Speech2Vid trainer with checkpoints, TensorBoard, a CSV
log, early stopping, warm-up of the sync weight, resume after a kill and a NaN guard."""

import json
import math
import os
import shutil

import keras

from keras_s2v.data.datasets import generator_dataset
from keras_s2v.errors import FileError, TrainingError
from keras_s2v.models import build_speech2vid, check_generator
from keras_s2v.saving import load_model, save_model
from keras_s2v.training.callbacks import FrameGrid, GeneratorCheckpoint, NaNGuard, ProgressLog, SyncWeightWarmup
from keras_s2v.training.distribute import get_strategy, precision
from keras_s2v.training.trainer import LOSSES, Speech2VidTrainer

HPARAMS = ("learning_rate", "preset", "sync_weight")


def plan_epochs(examples, batch_size, epochs=None, steps=None, default_epochs=10):
    """(epochs, steps_per_epoch): an epoch is one pass over `examples`; `steps` (total) overrides `epochs`."""
    epoch_steps = max(1, examples // batch_size)
    if steps is not None:
        if steps < 1:
            raise ValueError(f"`steps` must be >= 1; received {steps}")
        epoch_steps = min(epoch_steps, steps)
        return math.ceil(steps / epoch_steps), epoch_steps
    epochs = default_epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"`epochs` must be >= 1; received {epochs}")
    return epochs, epoch_steps


def read_hparams(path):
    """The JSON that `s2v tune` writes: learning_rate, preset and sync_weight."""
    try:
        with open(path) as handle:
            hparams = json.load(handle)
    except (OSError, ValueError) as error:
        raise FileError(path, f"cannot read hyperparameters ({error.__class__.__name__})") from None
    unknown = set(hparams) - set(HPARAMS)
    if not isinstance(hparams, dict) or unknown:
        raise FileError(path, f"unknown hyperparameters {sorted(unknown)}; expected {list(HPARAMS)}")
    return hparams


def run_folder(out):
    """Where a run keeps its backup, checkpoint, TensorBoard logs and CSV log: `<out>.run/`."""
    return os.path.splitext(out)[0] + ".run"


def backup_folder(out):
    """Where an unfinished run keeps the state that `resume=True` continues from."""
    return os.path.join(run_folder(out), "backup")


class _Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that never backs up an epoch whose metrics are NaN or Inf."""

    def on_epoch_end(self, epoch, logs=None):
        if all(math.isfinite(float(v)) for v in (logs or {}).values()):
            super().on_epoch_end(epoch, logs)


def train_generator(
    shards, manifest, syncnet_path, out, preset="small", loss="l1+sync", sync_weight=0.03, mouth_weight=0.0, motion_weight=0.0,
    learning_rate=1e-3, epochs=None, steps=None, batch_size=16, warmup_epochs=None, patience=5,
    strategy="default", mixed_precision=None, resume=False, seed=0, verbose=True, train_data=None, initial=None,
):
    """Train a Speech2Vid generator through a frozen SyncNet and save it to `out` (.keras).

    `loss="sync"` is the seed's pure sync objective (s_w = 1). The sync weight is held at 0
    for `warmup_epochs` (default: the first 40% of epochs) so L1 settles first.
    `initial` is a generator .keras to fine-tune instead of a fresh `preset` model.
    `train_data` replaces the training split's dataset (tests use it). Returns the History.
    """
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}; received {loss!r}")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise FileError(out, "the output folder does not exist")
    folder = run_folder(out)
    backup = backup_folder(out)
    if os.path.isdir(backup) and not resume:
        raise TrainingError(f"{folder} holds an interrupted run: pass --resume to continue it, or delete the folder")
    if not resume:
        shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)

    keras.utils.set_random_seed(seed)
    sync_weight = 1.0 if loss == "sync" else sync_weight
    epochs, epoch_steps = plan_epochs(manifest["windows"]["train"], batch_size, epochs, steps)
    warmup_epochs = (0 if loss == "sync" else int(0.4 * epochs)) if warmup_epochs is None else warmup_epochs
    train = train_data or generator_dataset(shards, "train", batch_size, augment_frames=True, seed=seed, repeat=True)
    val = generator_dataset(shards, "val", batch_size, shuffle=False, deterministic=True)

    strategy = get_strategy(strategy)
    with strategy.scope(), precision(mixed_precision):
        syncnet = load_model(syncnet_path, "SyncNet")
        if initial:
            generator = load_model(initial, "generator")
            check_generator(generator, initial)
        else:
            generator = build_speech2vid(preset, synchronized_bn=strategy.num_replicas_in_sync > 1)
        trainer = Speech2VidTrainer(generator, syncnet, sync_weight=sync_weight, mouth_weight=mouth_weight,
                                    motion_weight=motion_weight)
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate))

    guard, checkpoint = NaNGuard(), GeneratorCheckpoint(os.path.join(folder, "checkpoint.keras"))
    sample_inputs, sample_target = next(iter(val))
    callbacks = [
        guard,
        SyncWeightWarmup(sync_weight, warmup_epochs),
        checkpoint,
        _Backup(backup, double_checkpoint=True),
        keras.callbacks.CSVLogger(os.path.join(folder, "training.csv"), append=resume),
        keras.callbacks.TensorBoard(os.path.join(folder, "logs")),
        FrameGrid(os.path.join(folder, "logs"), sample_inputs, sample_target),
        # The saved generator is the epoch after warm-up with the best validation L1 + E_sync (the
        # tuner's objective): a late jump in E_sync is not kept, nor a smaller L1 bought with lost sync.
        keras.callbacks.EarlyStopping("val_objective", mode="min", patience=patience, start_from_epoch=warmup_epochs,
                                      restore_best_weights=True),
    ]
    if verbose:
        callbacks.append(ProgressLog("generator"))
    history = trainer.fit(train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps, callbacks=callbacks, verbose=0)
    if guard.diverged:
        kept = f"the last good checkpoint is {checkpoint.path} (epoch {checkpoint.saved_epoch})" if checkpoint.saved_epoch else "no epoch finished, so nothing was saved"
        raise TrainingError(f"training stopped: {guard.diverged}; {kept}")
    save_model(trainer.generator, out)
    return history
