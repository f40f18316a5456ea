"""Training the SyncNet expert (docs/design.md): model.fit with BCE on P_sync.

The same function trains the independent evaluation SyncNet: another seed and other clips.
`train_recipe_syncnet` trains either with a recipe's numbers.
"""

import keras
import numpy as np

from keras_s2v.data.datasets import shard_files, syncnet_dataset
from keras_s2v.models import build_syncnet
from keras_s2v.training.callbacks import ProgressLog
from keras_s2v.training.generator_fit import plan_epochs


def compile_syncnet(model, learning_rate=1e-3, decay_steps=None):
    """BCE on P_sync and accuracy at 0.5; with `decay_steps`, the rate decays along a cosine to 10%."""
    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=0.1)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.5, name="accuracy")],
    )
    return model


def recalibrate_batchnorm(model, dataset, steps):
    """Re-estimate BatchNormalization moving statistics for the final weights.

    Forward passes in training mode update only the moving statistics (no optimizer
    step). Without it the statistics lag the weights and held-out accuracy swings.
    """
    for inputs, _ in dataset.take(steps):
        model(inputs, training=True)


def sync_accuracy(model, shards, split, batch_size=64, foreign_fraction=0.0):
    """Accuracy (threshold 0.5) on a split, aligned windows against windows shifted by >= 5 frames."""
    dataset = syncnet_dataset(shards, split, batch_size, shuffle=False, foreign_fraction=foreign_fraction, deterministic=True)
    hits = total = 0
    for inputs, labels in dataset:
        predicted = model.predict_on_batch(inputs) >= 0.5
        hits += int(np.sum(predicted == (labels.numpy() >= 0.5)))
        total += labels.shape[0]
    return hits / max(total, 1)


def train_syncnet(
    shards, manifest, preset="small", split="train", val_split="val", epochs=None, steps=None,
    batch_size=32, learning_rate=1e-3, seed=0, callbacks=(), verbose=True, clips="all",
):
    """Train a SyncNet on one split, validating on another; returns (model, history).

    `steps` (total optimizer steps) overrides `epochs`; one epoch sees every window of
    `split` once as a positive and once as a negative. `clips` ("all", "even", "odd") picks
    half of the split's clips, so the expert and the evaluation SyncNet see disjoint clips.
    """
    keras.utils.set_random_seed(seed)
    fraction = len(shard_files(shards, split, clips)) / len(shard_files(shards, split))
    epochs, epoch_steps = plan_epochs(int(2 * manifest["windows"][split] * fraction), batch_size, epochs, steps)
    train = syncnet_dataset(shards, split, batch_size, augment_frames=True, seed=seed, repeat=True, clips=clips)
    val = syncnet_dataset(shards, val_split, batch_size, shuffle=False, deterministic=True)
    model = compile_syncnet(build_syncnet(preset), learning_rate, decay_steps=epochs * epoch_steps)
    history = model.fit(
        train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps,
        callbacks=[ProgressLog("syncnet") if verbose else keras.callbacks.Callback(), *callbacks], verbose=0,
    )
    recalibrate_batchnorm(model, syncnet_dataset(shards, split, batch_size, seed=seed, repeat=True, clips=clips), steps=50)
    return model, history


def train_recipe_syncnet(shards, manifest, syncnet, seed=0, split="train", val_split="val", verbose=True):
    """Train the SyncNet that `syncnet` (a recipe's `expert` or `evaluator`, see `resolve_syncnet`)
    describes, with seed `seed + syncnet.seed_offset`; returns (model, history)."""
    return train_syncnet(
        shards, manifest, preset=syncnet.preset, split=split, val_split=val_split, epochs=syncnet.epochs,
        steps=syncnet.steps, batch_size=syncnet.batch_size, learning_rate=syncnet.learning_rate,
        seed=seed + syncnet.seed_offset, verbose=verbose, clips=syncnet.clips,
    )
