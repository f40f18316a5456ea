"""What a recipe builds: the generator's trainer and datasets, the SyncNet and its datasets.

Every entry point that trains (`s2v train`, `s2v train-syncnet`, `s2v tune`, `s2v demo` and
the scripts in pipelines/) builds through these functions, so each recipe field reaches the
models in one place; tests/test_recipes.py checks the trainers they build against the recipe.
"""

import math

import keras

from keras_s2v.data.datasets import generator_dataset, shard_files, syncnet_dataset
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.training.recipe import GeneratorPhase, Recipe, SyncNetRecipe
from keras_s2v.training.trainer import Speech2VidTrainer


def plan_epochs(
    examples: int, batch_size: int, epochs: int | None = None, steps: int | None = None, default_epochs: int = 10
) -> tuple:
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


# --------------------------------------------------------------------------- generator
def build_trainer(
    recipe: Recipe,
    phase: GeneratorPhase,
    syncnet: keras.Model,
    generator: keras.Model | None = None,
    synchronized_bn: bool = False,
) -> Speech2VidTrainer:
    """The compiled trainer of `phase` (one of `recipe.phases`) through the frozen `syncnet`.

    `generator` is the one to train on (a previous phase's, or one to fine-tune); None builds a
    fresh one of the recipe's preset and conditioning (`synchronized_bn` across replicas). Call
    it under the distribution strategy's scope.
    """
    if generator is None:
        generator = build_speech2vid(recipe.generator_preset, synchronized_bn=synchronized_bn, conditioning=recipe.conditioning)
    trainer = Speech2VidTrainer(
        generator,
        syncnet,
        sync_weight=recipe.sync_weight,
        mouth_weight=phase.mouth_weight,
        motion_weight=phase.motion_weight,
        gradient_weight=phase.gradient_weight,
        gan_weight=phase.gan_weight,
        starved_sync_weight=recipe.starved_sync_weight,
    )
    trainer.compile(optimizer=keras.optimizers.Adam(phase.learning_rate))
    return trainer


def generator_datasets(shards: str, recipe: Recipe, phase: GeneratorPhase, seed: int = 0) -> tuple:
    """(train, val) datasets of `phase`: augmented training windows, repeated, with the phase's
    share of still references; validation windows in a fixed order."""
    train = generator_dataset(
        shards,
        "train",
        recipe.batch_size,
        augment_frames=True,
        seed=seed,
        repeat=True,
        still_reference_rate=phase.still_reference_rate,
    )
    val = generator_dataset(shards, "val", recipe.batch_size, shuffle=False, deterministic=True)
    return train, val


def generator_schedule(manifest: dict, recipe: Recipe, phase: GeneratorPhase) -> tuple:
    """(epochs, steps_per_epoch) of `phase`: one epoch is one pass over the training windows."""
    return plan_epochs(manifest["windows"]["train"], recipe.batch_size, phase.epochs, phase.steps)


# --------------------------------------------------------------------------- SyncNet
def compile_syncnet(model: keras.Model, learning_rate: float = 1e-3, decay_steps: int | None = None) -> keras.Model:
    """BCE on P_sync and accuracy at 0.5; with `decay_steps`, the rate decays along a cosine to 10%."""
    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=0.1)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.5, name="accuracy")],
    )
    # Adam's slots made now, eagerly: left to fit, they are made while its first step is traced, ten
    # times slower (4 s for a tiny SyncNet).
    model.optimizer.build(model.trainable_variables)
    return model


def syncnet_schedule(shards: str, manifest: dict, syncnet: SyncNetRecipe, split: str = "train") -> tuple:
    """(epochs, steps_per_epoch): an epoch sees each window of the chosen clips twice, once aligned and once shifted."""
    fraction = len(shard_files(shards, split, syncnet.clips)) / len(shard_files(shards, split))
    return plan_epochs(int(2 * manifest["windows"][split] * fraction), syncnet.batch_size, syncnet.epochs, syncnet.steps)


def build_syncnet_model(syncnet: SyncNetRecipe, total_steps: int) -> keras.Model:
    """A fresh SyncNet of the recipe's preset, compiled with its learning rate decaying over `total_steps`."""
    return compile_syncnet(build_syncnet(syncnet.preset), syncnet.learning_rate, decay_steps=total_steps)


def syncnet_datasets(shards: str, syncnet: SyncNetRecipe, seed: int, split: str = "train", val_split: str = "val") -> tuple:
    """(train, val, recalibration) datasets of balanced windows: aligned audio (label 1) against audio
    shifted by >= 5 frames or from another clip (label 0). `seed` is the SyncNet's own (the run's +
    `seed_offset`); the recalibration windows re-estimate BatchNorm's statistics after training."""
    train = syncnet_dataset(shards, split, syncnet.batch_size, augment_frames=True, seed=seed, repeat=True, clips=syncnet.clips)
    val = syncnet_dataset(shards, val_split, syncnet.batch_size, shuffle=False, deterministic=True)
    recalibration = syncnet_dataset(shards, split, syncnet.batch_size, seed=seed, repeat=True, clips=syncnet.clips)
    return train, val, recalibration
