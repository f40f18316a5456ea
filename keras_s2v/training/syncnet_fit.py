"""Training the SyncNet expert (docs/design.md): model.fit with BCE on P_sync.

The same function trains the independent evaluation SyncNet: the recipe's `evaluator`, with
another seed and other clips.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_s2v.data.datasets import syncnet_dataset
from keras_s2v.precision import computing_in, resolve_precision
from keras_s2v.training.build import build_syncnet_model, syncnet_datasets, syncnet_schedule
from keras_s2v.training.callbacks import ProgressLog
from keras_s2v.training.recipe import SyncNetRecipe

RECALIBRATION_STEPS = 50
# About this many training steps between two passes over the validation windows. The demo's SyncNet epochs are 94
# steps, and validating after each took a sixth of the training's time (docs/experiments.md); validation only reports,
# so how often it runs changes no weight.
STEPS_PER_VALIDATION = 750


def validated_epochs(epochs: int, epoch_steps: int) -> list:
    """The epochs (from 1) that end with a validation: about every STEPS_PER_VALIDATION steps (every epoch where
    epochs are longer), and the last."""
    every = max(1, round(STEPS_PER_VALIDATION / epoch_steps))
    return [epoch for epoch in range(1, epochs + 1) if epoch % every == 0 or epoch == epochs]


def recalibrate_batchnorm(model: keras.Model, dataset, steps: int) -> None:
    """Re-estimate BatchNormalization moving statistics for the final weights.

    Forward passes in training mode update only the moving statistics (no optimizer
    step). Without it the statistics lag the weights and held-out accuracy swings.
    """
    forward = tf.function(lambda inputs: model(inputs, training=True))  # eager passes took 8 s for a tiny model
    for inputs, _ in dataset.take(steps):
        forward(inputs)


def sync_accuracy(model: keras.Model, shards: str, split: str, batch_size: int = 64, foreign_fraction: float = 0.0) -> float:
    """Accuracy (threshold 0.5) on a split, aligned windows against windows shifted by >= 5 frames."""
    dataset = syncnet_dataset(shards, split, batch_size, shuffle=False, foreign_fraction=foreign_fraction, deterministic=True)
    hits = total = 0
    for inputs, labels in dataset:
        predicted = model.predict_on_batch(inputs) >= 0.5
        hits += int(np.sum(predicted == (labels.numpy() >= 0.5)))
        total += labels.shape[0]
    return hits / max(total, 1)


def train_syncnet(
    shards: str,
    manifest: dict,
    syncnet: SyncNetRecipe | None = None,
    seed: int = 0,
    split: str = "train",
    val_split: str = "val",
    callbacks=(),
    verbose: bool = True,
    precision: str = "auto",
) -> tuple:
    """Train the SyncNet that `syncnet` describes (a recipe's `expert` or `evaluator`, see
    `resolve_syncnet`) on one split, validating on another; returns (model, history).

    Its seed is `seed + syncnet.seed_offset`. One epoch sees every window of the chosen clips
    of `split` once as a positive and once as a negative, and `validated_epochs` says which end with a validation.
    No `syncnet`: the recipe's defaults.
    `precision` is one of keras_s2v.precision.CHOICES.
    """
    syncnet = syncnet or SyncNetRecipe()
    seed += syncnet.seed_offset
    keras.utils.set_random_seed(seed)
    epochs, epoch_steps = syncnet_schedule(shards, manifest, syncnet, split)
    train, val, recalibration = syncnet_datasets(shards, syncnet, seed, split, val_split)
    with computing_in(resolve_precision(precision)):
        model = build_syncnet_model(syncnet, total_steps=epochs * epoch_steps)
    history = model.fit(
        train,
        validation_data=val,
        epochs=epochs,
        steps_per_epoch=epoch_steps,
        validation_freq=validated_epochs(epochs, epoch_steps),
        callbacks=[ProgressLog("syncnet") if verbose else keras.callbacks.Callback(), *callbacks],
        verbose=0,
    )
    recalibrate_batchnorm(model, recalibration, RECALIBRATION_STEPS)
    return model, history
