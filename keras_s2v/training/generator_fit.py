"""`train_generator`: model.fit of one phase of a recipe with checkpoints, TensorBoard, a CSV
log, early stopping, warm-up of the sync weight, resume after a kill and a NaN guard.
`train_recipe_generator` trains every phase of a recipe with it."""

import os
import shutil

import keras

from keras_s2v.errors import FileError, TrainingError
from keras_s2v.models import check_generator
from keras_s2v.precision import computing_in, resolve_precision, with_policy
from keras_s2v.saving import load_model, save_model
from keras_s2v.training.build import build_trainer, generator_datasets, generator_schedule
from keras_s2v.training.callbacks import FrameGrid, GeneratorCheckpoint, NaNGuard, ProgressLog, SyncWeightWarmup, finite
from keras_s2v.training.distribute import get_strategy
from keras_s2v.training.recipe import Recipe, write_recipe
from keras_s2v.training.runs import backup_folder, phase_outputs, refuse_interrupted, run_folder


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
        keras.callbacks.EarlyStopping(
            "val_objective", mode="min", patience=patience, start_from_epoch=warmup_epochs, restore_best_weights=True
        ),
    ]
    if verbose:
        callbacks.append(ProgressLog("generator"))
    return callbacks


def train_generator(
    shards: str,
    manifest: dict,
    syncnet_path: str,
    out: str,
    recipe: Recipe,
    phase_index: int = 0,
    *,
    initial: str | None = None,
    resume: bool = False,
    seed: int = 0,
    strategy: str = "default",
    precision: str = "auto",
    patience: int = 5,
    verbose: bool = True,
    train_data=None,
) -> keras.callbacks.History:
    """Train phase `phase_index` (0-based) of `recipe` through a frozen SyncNet and save the
    generator to `out` (.keras).

    Every setting is the recipe's (`resolve_recipe` applies a user's changes); the trainer and
    the datasets are built by keras_s2v.training.build. The sync weight is held at 0 for the
    phase's warm-up epochs so that L1 settles first. With a `gan_weight`, the visual-quality
    discriminator's weights are in the run's backup, not in `out`, so each run starts a fresh
    one. `initial` is a generator .keras to fine-tune instead of a fresh one. The recipe is
    written to the run folder as recipe.json. `precision` is one of keras_s2v.precision.CHOICES;
    the saved generator computes in float32 whatever it trained in. `train_data` replaces the
    training split's dataset (tests use it). Returns the History.
    """
    phase = recipe.phases[phase_index]
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise FileError(out, "the output folder does not exist")
    folder = run_folder(out)
    if not resume:
        refuse_interrupted([out])
        shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    write_recipe(recipe, folder)

    keras.utils.set_random_seed(seed)
    epochs, epoch_steps = generator_schedule(manifest, recipe, phase)
    train, val = generator_datasets(shards, recipe, phase, seed)
    train = train_data or train

    strategy = get_strategy(strategy)
    policy = resolve_precision(precision)
    with strategy.scope(), computing_in(policy):
        syncnet = with_policy(load_model(syncnet_path, "SyncNet"), policy)
        generator = None
        if initial:
            generator = load_model(initial, "generator")
            check_generator(generator, initial)
            generator = with_policy(generator, policy)
        trainer = build_trainer(recipe, phase, syncnet, generator, synchronized_bn=strategy.num_replicas_in_sync > 1)

    callbacks = generator_callbacks(
        folder, recipe.sync_weight, phase.warmup_epochs, val, patience, append_log=resume, verbose=verbose
    )
    guard, checkpoint = callbacks[:2]
    history = trainer.fit(train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps, callbacks=callbacks, verbose=0)
    if guard.diverged:
        kept = (
            f"the last good checkpoint is {checkpoint.path} (epoch {checkpoint.saved_epoch})"
            if checkpoint.saved_epoch
            else "no epoch finished, so nothing was saved"
        )
        raise TrainingError(f"training stopped: {guard.diverged}; {kept}")
    save_model(trainer.generator, out)
    return history


def _describe(phase):
    length = f"{phase.steps} steps" if phase.steps else f"{phase.epochs} epochs"
    extras = "".join(
        f", {name} {value}"
        for name, value in (
            ("gradient weight", phase.gradient_weight),
            ("GAN weight", phase.gan_weight),
            ("still references", phase.still_reference_rate),
        )
        if value
    )
    return (
        f"{length}, warm-up {phase.warmup_epochs}, mouth weight {phase.mouth_weight}, "
        f"motion weight {phase.motion_weight}{extras}, learning rate {phase.learning_rate:g}"
    )


def _finished(path, previous):
    """A phase is done when its generator exists, no backup waits, and it is newer than the one it fine-tuned."""
    return (
        os.path.exists(path)
        and not os.path.isdir(backup_folder(path))
        and (previous is None or os.path.getmtime(path) >= os.path.getmtime(previous))
    )


def train_recipe_generator(
    shards: str,
    manifest: dict,
    syncnet_path: str,
    out: str,
    recipe: Recipe,
    initial: str | None = None,
    resume: bool = False,
    seed: int = 0,
    strategy: str = "default",
    precision: str = "auto",
    verbose: bool = True,
) -> keras.callbacks.History | None:
    """Train every generator phase of `recipe` (a Recipe, see `resolve_recipe`) and save the last to `out`.

    Phase k > 1 fine-tunes phase k - 1's generator (`phase_outputs`); phase 1 starts from
    `initial` if given. With `resume`, finished phases are kept and an interrupted one
    continues. Each phase's run folder records the recipe as recipe.json. Returns the History
    of the last phase trained (None if all were finished).
    """
    outputs = phase_outputs(out, len(recipe.phases))
    if not resume:
        refuse_interrupted(outputs)  # before any phase trains, not after the first
    history, done = None, resume
    for number, (phase, path) in enumerate(zip(recipe.phases, outputs)):
        previous = outputs[number - 1] if number else None
        done = done and _finished(path, previous)
        if verbose:
            print(
                f"generator phase {number + 1}/{len(outputs)}: "
                + (f"{path} is finished, kept" if done else f"{_describe(phase)} -> {path}"),
                flush=True,
            )
        if done:
            continue
        history = train_generator(
            shards,
            manifest,
            syncnet_path,
            path,
            recipe,
            number,
            initial=previous or initial,
            resume=resume and os.path.isdir(backup_folder(path)),
            seed=seed,
            strategy=strategy,
            precision=precision,
            verbose=verbose,
        )
    return history
