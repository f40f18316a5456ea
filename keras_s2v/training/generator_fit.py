"""`train_generator`: model.fit of the Speech2Vid trainer with checkpoints, TensorBoard, a CSV
log, early stopping, warm-up of the sync weight, resume after a kill and a NaN guard.
`train_recipe_generator` trains every phase of a recipe with it."""

import math
import os
import shutil

import keras

from keras_s2v.data.datasets import generator_dataset
from keras_s2v.errors import FileError, TrainingError
from keras_s2v.models import build_speech2vid, check_generator
from keras_s2v.saving import load_model, save_model
from keras_s2v.training.callbacks import FrameGrid, GeneratorCheckpoint, NaNGuard, ProgressLog, SyncWeightWarmup, finite
from keras_s2v.training.distribute import get_strategy, precision
from keras_s2v.training.recipe import recipes, write_recipe
from keras_s2v.training.trainer import LOSSES, Speech2VidTrainer

# train_generator's defaults are the first phase of the default recipe, never numbers of their own.
DEFAULT_RECIPE = recipes["synthetic-small"]
_FIRST_PHASE = DEFAULT_RECIPE.phases[0]


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


def run_folder(out):
    """Where a run keeps its backup, checkpoint, TensorBoard logs and CSV log: `<out>.run/`."""
    return os.path.splitext(out)[0] + ".run"


def backup_folder(out):
    """Where an unfinished run keeps the state that `resume=True` continues from."""
    return os.path.join(run_folder(out), "backup")


class _Backup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that never backs up an epoch whose metrics are NaN or Inf."""

    def on_epoch_end(self, epoch, logs=None):
        if finite(logs):
            super().on_epoch_end(epoch, logs)


def generator_callbacks(folder, sync_weight, warmup_epochs, val, patience=5, append_log=False, verbose=True):
    """The callbacks of every generator run, in `folder` (its run folder): NaN guard, sync-weight
    warm-up and ramp, a checkpoint each epoch, a backup for resume, CSV and TensorBoard logs with
    a frame grid from `val`, and the best-epoch restore. The first two are the NaNGuard and the
    GeneratorCheckpoint, which say where a diverged run stopped."""
    sample_inputs, sample_target = next(iter(val))
    callbacks = [
        NaNGuard(),
        GeneratorCheckpoint(os.path.join(folder, "checkpoint.keras")),
        SyncWeightWarmup(sync_weight, warmup_epochs),
        _Backup(os.path.join(folder, "backup"), double_checkpoint=True),
        keras.callbacks.CSVLogger(os.path.join(folder, "training.csv"), append=append_log),
        keras.callbacks.TensorBoard(os.path.join(folder, "logs"), write_graph=False),
        FrameGrid(os.path.join(folder, "logs"), sample_inputs, sample_target),
        # The saved generator is the epoch after warm-up with the best validation L1 + E_sync (the
        # tuner's objective): a late jump in E_sync is not kept, nor a smaller L1 bought with lost sync.
        keras.callbacks.EarlyStopping("val_objective", mode="min", patience=patience, start_from_epoch=warmup_epochs,
                                      restore_best_weights=True),
    ]
    if verbose:
        callbacks.append(ProgressLog("generator"))
    return callbacks


def train_generator(
    shards, manifest, syncnet_path, out, preset=DEFAULT_RECIPE.generator_preset, conditioning=DEFAULT_RECIPE.conditioning,
    loss=DEFAULT_RECIPE.loss,
    sync_weight=DEFAULT_RECIPE.sync_weight, mouth_weight=_FIRST_PHASE.mouth_weight, motion_weight=_FIRST_PHASE.motion_weight,
    gradient_weight=_FIRST_PHASE.gradient_weight, gan_weight=_FIRST_PHASE.gan_weight, learning_rate=_FIRST_PHASE.learning_rate, epochs=_FIRST_PHASE.epochs, steps=None, batch_size=DEFAULT_RECIPE.batch_size,
    warmup_epochs=None, patience=5, strategy="default", mixed_precision=None, resume=False, seed=0, verbose=True,
    train_data=None, initial=None, recipe=None, still_reference_rate=_FIRST_PHASE.still_reference_rate,
    starved_sync_weight=DEFAULT_RECIPE.starved_sync_weight,
):
    """Train a Speech2Vid generator through a frozen SyncNet and save it to `out` (.keras).

    The defaults are the first phase of `recipes["synthetic-small"]`; `train_recipe_generator`
    runs all phases of a recipe. `loss="sync"` is the seed's pure sync objective (s_w = 1).
    The sync weight is held at 0 for `warmup_epochs` (default: the first 40% of epochs) so L1
    settles first. `gradient_weight` charges the L1 of the mouth's edges, `gan_weight` trains
    the visual-quality discriminator beside the generator (Speech2VidTrainer); its weights are
    in the run's backup, not in `out`, so each run starts a fresh one. `initial` is a generator .keras to fine-tune instead of a fresh `preset`
    model with the given `conditioning` ("composite" or "concat", keras_s2v.models.speech2vid). `recipe`, the Recipe this run belongs to, is written to the run folder as
    recipe.json. `train_data` replaces the training split's dataset (tests use it).
    Returns the History.
    """
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}; received {loss!r}")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise FileError(out, "the output folder does not exist")
    folder = run_folder(out)
    if os.path.isdir(backup_folder(out)) and not resume:
        raise TrainingError(f"{folder} holds an interrupted run: pass --resume to continue it, or delete the folder")
    if not resume:
        shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    if recipe is not None:
        write_recipe(recipe, folder)

    keras.utils.set_random_seed(seed)
    sync_weight = 1.0 if loss == "sync" else sync_weight
    epochs, epoch_steps = plan_epochs(manifest["windows"]["train"], batch_size, epochs, steps)
    warmup_epochs = (0 if loss == "sync" else int(0.4 * epochs)) if warmup_epochs is None else warmup_epochs
    train = train_data or generator_dataset(shards, "train", batch_size, augment_frames=True, seed=seed, repeat=True,
                                             still_reference_rate=still_reference_rate)
    val = generator_dataset(shards, "val", batch_size, shuffle=False, deterministic=True)

    strategy = get_strategy(strategy)
    with strategy.scope(), precision(mixed_precision):
        syncnet = load_model(syncnet_path, "SyncNet")
        if initial:
            generator = load_model(initial, "generator")
            check_generator(generator, initial)
        else:
            generator = build_speech2vid(preset, synchronized_bn=strategy.num_replicas_in_sync > 1, conditioning=conditioning)
        trainer = Speech2VidTrainer(generator, syncnet, sync_weight=sync_weight, mouth_weight=mouth_weight,
                                    motion_weight=motion_weight, gradient_weight=gradient_weight, gan_weight=gan_weight,
                                    starved_sync_weight=starved_sync_weight)
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate))

    callbacks = generator_callbacks(folder, sync_weight, warmup_epochs, val, patience, append_log=resume, verbose=verbose)
    guard, checkpoint = callbacks[:2]
    history = trainer.fit(train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps, callbacks=callbacks, verbose=0)
    if guard.diverged:
        kept = f"the last good checkpoint is {checkpoint.path} (epoch {checkpoint.saved_epoch})" if checkpoint.saved_epoch else "no epoch finished, so nothing was saved"
        raise TrainingError(f"training stopped: {guard.diverged}; {kept}")
    save_model(trainer.generator, out)
    return history


def phase_outputs(out, phases):
    """Where each of `phases` phases saves its generator: `<out>_phase<k>.keras`, the last `out`."""
    stem = os.path.splitext(out)[0]
    return [f"{stem}_phase{number}.keras" for number in range(1, phases)] + [out]


def _describe(phase):
    length = f"{phase.steps} steps" if phase.steps else f"{phase.epochs} epochs"
    extras = "".join(f", {name} {value}" for name, value in (("gradient weight", phase.gradient_weight),
                                                             ("GAN weight", phase.gan_weight),
                                                             ("still references", phase.still_reference_rate)) if value)
    return (f"{length}, warm-up {phase.warmup_epochs}, mouth weight {phase.mouth_weight}, "
            f"motion weight {phase.motion_weight}{extras}, learning rate {phase.learning_rate:g}")


def _finished(path, previous):
    """A phase is done when its generator exists, no backup waits, and it is newer than the one it fine-tuned."""
    return (os.path.exists(path) and not os.path.isdir(backup_folder(path))
            and (previous is None or os.path.getmtime(path) >= os.path.getmtime(previous)))


def train_recipe_generator(shards, manifest, syncnet_path, out, recipe, initial=None, resume=False, seed=0,
                           strategy="default", mixed_precision=None, verbose=True):
    """Train every generator phase of `recipe` (a Recipe, see `resolve_recipe`) and save the last to `out`.

    Phase k > 1 fine-tunes phase k - 1's generator (`phase_outputs`); phase 1 starts from
    `initial` if given. With `resume`, finished phases are kept and an interrupted one
    continues. Each phase's run folder records the recipe as recipe.json. Returns the History
    of the last phase trained (None if all were finished).
    """
    outputs = phase_outputs(out, len(recipe.phases))
    if not resume:
        for path in outputs:  # refuse before any phase trains, not after the first
            if os.path.isdir(backup_folder(path)):
                raise TrainingError(f"{run_folder(path)} holds an interrupted run: pass --resume to continue it, or delete the folder")
    history, done = None, resume
    for number, (phase, path) in enumerate(zip(recipe.phases, outputs)):
        previous = outputs[number - 1] if number else None
        done = done and _finished(path, previous)
        if verbose:
            print(f"generator phase {number + 1}/{len(outputs)}: "
                  + (f"{path} is finished, kept" if done else f"{_describe(phase)} -> {path}"), flush=True)
        if done:
            continue
        history = train_generator(
            shards, manifest, syncnet_path, path, preset=recipe.generator_preset, conditioning=recipe.conditioning, loss=recipe.loss,
            sync_weight=recipe.sync_weight, mouth_weight=phase.mouth_weight, motion_weight=phase.motion_weight,
            gradient_weight=phase.gradient_weight, gan_weight=phase.gan_weight, learning_rate=phase.learning_rate, epochs=phase.epochs, steps=phase.steps, batch_size=recipe.batch_size,
            warmup_epochs=phase.warmup_epochs, strategy=strategy, mixed_precision=mixed_precision,
            resume=resume and os.path.isdir(backup_folder(path)), seed=seed, verbose=verbose,
            initial=previous or initial, recipe=recipe, still_reference_rate=phase.still_reference_rate,
            starved_sync_weight=recipe.starved_sync_weight,
        )
    return history
