import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_s2v.data.datasets import generator_dataset
from keras_s2v.errors import ModelError, TrainingError
from keras_s2v.models import build_quality_discriminator, build_speech2vid, build_syncnet
from keras_s2v.models.speech2vid import blended_parts
from keras_s2v.precision import computing_in
from keras_s2v.saving import load_model
from keras_s2v.training import syncnet_fit
from keras_s2v.training.build import plan_epochs, syncnet_schedule
from keras_s2v.training.callbacks import SyncWeightWarmup
from keras_s2v.training.generator_fit import train_generator
from keras_s2v.training.recipe import SyncNetRecipe, read_hparams, read_recipe, recipes, resolve_recipe
from keras_s2v.training.runs import phase_outputs, run_folder
from keras_s2v.training.syncnet_fit import sync_accuracy
from keras_s2v.training.trainer import BLEND_AREA_WEIGHT, GAN_TERMS, TERMS, WARP_BLUR, Speech2VidTrainer, edge_error
from keras_s2v.windows import frame_changes, image_gradients, mouths, reversed_in_time, stack_frames, unstack_frames
from tests.helpers import s2v


def _batch(shards, batch_size=4):
    return next(iter(generator_dataset(shards, "train", batch_size, deterministic=True)))


def _trainer(syncnet, sync_weight=1.0):
    trainer = Speech2VidTrainer(build_speech2vid("tiny"), syncnet, sync_weight=sync_weight)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    return trainer


def test_syncnet_training_reports_validation_accuracy_and_saves(tiny_shards, tiny_syncnet_path, tmp_path):
    shards, _ = tiny_shards
    model = load_model(tiny_syncnet_path, "SyncNet")
    assert 0.0 <= sync_accuracy(model, shards, "val") <= 1.0
    result = s2v(
        "train-syncnet",
        "--data",
        shards,
        "--out",
        tmp_path / "eval.keras",
        "--preset",
        "tiny",
        "--steps",
        2,
        "--batch-size",
        8,
        "--seed",
        1,
        "--split",
        "val",
        "--val-split",
        "test",
    )
    assert result.returncode == 0, result.stderr
    assert "val_accuracy" in result.stdout and "held-out (test) accuracy" in result.stdout
    assert result.stderr.strip() == ""
    assert load_model(str(tmp_path / "eval.keras"), "SyncNet").get_layer("p_sync")


def test_a_syncnet_validates_about_every_750_steps_and_at_its_last_epoch_and_validation_changes_no_weight(
    tiny_shards, monkeypatch
):
    # The demo expert's 32 epochs of 94 steps, epochs too short to count, epochs longer than the spacing.
    assert syncnet_fit.validated_epochs(32, 94) == [8, 16, 24, 32]
    assert syncnet_fit.validated_epochs(7, 20) == [7]
    assert syncnet_fit.validated_epochs(3, 2000) == [1, 2, 3]

    class Weights(keras.callbacks.Callback):
        """The weights after the last step of each epoch, and at its end (after its validation)."""

        def on_train_begin(self, logs=None):
            self.after_steps, self.at_end = [], []

        def on_train_batch_end(self, batch, logs=None):
            if batch == self.params["steps"] - 1:
                self.after_steps.append([weight.numpy() for weight in self.model.weights])

        def on_epoch_end(self, epoch, logs=None):
            self.at_end.append([weight.numpy() for weight in self.model.weights])

    recipe = SyncNetRecipe("tiny", epochs=2, batch_size=32)
    _, epoch_steps = syncnet_schedule(tiny_shards[0], tiny_shards[1], recipe)
    monkeypatch.setattr(syncnet_fit, "STEPS_PER_VALIDATION", 4 * epoch_steps)
    weights = Weights()
    _, history = syncnet_fit.train_syncnet(*tiny_shards, recipe, callbacks=[weights], verbose=False)
    assert len(history.history["loss"]) == 2 and len(history.history["val_loss"]) == 1  # the last epoch's
    for before, after in zip(weights.after_steps[-1], weights.at_end[-1], strict=True):
        np.testing.assert_array_equal(before, after)


def test_frozen_syncnet_is_not_trained_and_runs_batchnorm_in_inference_mode(tiny_shards, tiny_syncnet_path):
    syncnet = load_model(tiny_syncnet_path, "SyncNet")
    before = [w.numpy().copy() for w in syncnet.weights]
    trainer = _trainer(syncnet)
    assert not syncnet.trainable and trainer.trainable_weights == trainer.generator.trainable_weights
    inputs, target = _batch(tiny_shards[0])
    generator_before = [w.numpy().copy() for w in trainer.generator.trainable_weights]
    trainer.fit(inputs, target, epochs=2, batch_size=4, verbose=0)
    for old, new in zip(before, syncnet.weights):
        np.testing.assert_array_equal(old, new.numpy())  # bit-identical, BN moving statistics included
    assert any(not np.array_equal(old, new.numpy()) for old, new in zip(generator_before, trainer.generator.trainable_weights))
    # The p_sync the step reports is the inference-mode (moving statistics) output of the expert.
    frames = trainer.generator(inputs, training=False)
    _, parts = trainer.objective_terms(inputs, target, training=False)
    expected = syncnet({"mfcc": inputs["mfcc"], "mouths": frames[:, 56:]}, training=False)
    backwards = dict(zip(("mfcc", "mouths"), reversed_in_time(inputs["mfcc"], frames[:, 56:])))
    np.testing.assert_allclose(parts["p_sync"], np.mean([expected, syncnet(backwards, training=False)]), rtol=1e-5)
    # Frozen, its BatchNormalization uses the moving statistics even when called in training mode;
    # a trainable copy in training mode would use the batch statistics and answer differently.
    window = {"mfcc": inputs["mfcc"], "mouths": frames[:, 56:]}
    np.testing.assert_array_equal(syncnet(window, training=True), expected)
    trainable_copy = load_model(tiny_syncnet_path, "SyncNet")
    assert not np.allclose(trainable_copy(window, training=True), expected, atol=1e-3)


def test_sync_gradients_flow_through_the_frozen_expert_into_the_generator(tiny_shards, tiny_syncnet_path):
    trainer = _trainer(load_model(tiny_syncnet_path, "SyncNet"), sync_weight=1.0)
    inputs, target = _batch(tiny_shards[0])
    with tf.GradientTape() as tape:
        _, parts = trainer.objective_terms(inputs, target, training=True)
    gradients = tape.gradient(parts["e_sync"], trainer.generator.trainable_weights)
    assert all(g is not None for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients) > 0
    assert trainer.syncnet.trainable_weights == []


def test_reversing_a_window_in_time_reverses_its_frames_and_mfcc_columns():
    mfcc = np.random.default_rng(0).normal(size=(2, 12, 20, 1)).astype("float32")
    frames = np.random.default_rng(1).uniform(size=(2, 5, 8, 8, 3)).astype("float32")
    backwards_mfcc, backwards_windows = reversed_in_time(mfcc, stack_frames(frames))
    np.testing.assert_array_equal(backwards_mfcc, mfcc[:, :, ::-1])
    np.testing.assert_array_equal(unstack_frames(backwards_windows), frames[:, ::-1])
    np.testing.assert_array_equal(reversed_in_time(*reversed_in_time(mfcc, stack_frames(frames)))[1], stack_frames(frames))


def test_the_sync_term_weighs_each_window_and_its_time_reversal_alike(tiny_shards, tiny_syncnet_path):
    """An expert that weighs a window's five frames unevenly would set a generator's timing
    off the centre frame; over a window and its reversal the weights are symmetric."""
    syncnet = load_model(tiny_syncnet_path, "SyncNet")
    inputs, target = _batch(tiny_shards[0])
    symmetric = Speech2VidTrainer(build_speech2vid("tiny"), syncnet)
    forward_only = Speech2VidTrainer(symmetric.generator, syncnet, symmetric_sync=False)
    mouth_windows = mouths(symmetric.generator(inputs, training=False))

    def e_sync(mfcc, windows):
        return np.mean(_minus_log(syncnet({"mfcc": mfcc, "mouths": windows}, training=False)), axis=1)

    forward, backward = e_sync(inputs["mfcc"], mouth_windows), e_sync(*reversed_in_time(inputs["mfcc"], mouth_windows))
    assert np.abs(forward - backward).max() > 1e-4  # the tiny expert is not symmetric in time by itself
    for trainer, expected in ((symmetric, np.mean([forward, backward])), (forward_only, np.mean(forward))):
        np.testing.assert_allclose(trainer.objective_terms(inputs, target, training=False)[1]["e_sync"], expected, rtol=1e-4)
    assert Speech2VidTrainer.from_config(forward_only.get_config()).symmetric_sync is False


def test_the_starved_sync_pull_has_no_value_and_moves_only_windows_at_p_sync_0(tiny_shards, tiny_syncnet_path):
    syncnet = load_model(tiny_syncnet_path, "SyncNet")
    inputs, _ = _batch(tiny_shards[0])
    trainer = Speech2VidTrainer(build_speech2vid("tiny"), syncnet, starved_sync_weight=5.0)
    windows = tf.Variable(mouths(trainer.generator(inputs, training=False)))
    starved = tf.constant([[0.0], [0.01], [0.5], [1.0]])  # P_sync of the four windows
    with tf.GradientTape() as tape:
        p_sync, audio, video = trainer.sync_embeddings({"mfcc": inputs["mfcc"], "mouths": windows}, training=False)
        pull = trainer._starved_sync_pull(audio, video, starved)
    # One pass gives P_sync and the embeddings it came from: the expert's own P_sync.
    np.testing.assert_allclose(p_sync, syncnet({"mfcc": inputs["mfcc"], "mouths": windows}, training=False), rtol=1e-6)
    gradient = np.abs(tape.gradient(pull, windows).numpy()).reshape(4, -1).max(axis=1)
    assert float(pull) == 0.0
    assert gradient[0] > 0 and gradient[1] > 0 and gradient[2] == 0 and gradient[3] == 0
    # Without the weight there is no pull, and the loss of a batch is the same with it.
    plain = Speech2VidTrainer(trainer.generator, syncnet)
    _, target = _batch(tiny_shards[0])
    np.testing.assert_allclose(
        trainer.objective_terms(inputs, target, training=False)[0],
        plain.objective_terms(inputs, target, training=False)[0],
        rtol=1e-6,
    )
    assert plain.sync_embeddings is None and len(trainer.weights) == len(plain.weights)
    assert Speech2VidTrainer.from_config(trainer.get_config()).starved_sync_weight == 5.0
    with pytest.raises(ValueError, match="`starved_sync_weight` must be >= 0; received -1"):
        Speech2VidTrainer(trainer.generator, syncnet, starved_sync_weight=-1)


def test_the_motion_term_charges_a_mouth_whose_change_differs_from_the_real_one(tiny_shards, tiny_syncnet_path):
    syncnet = load_model(tiny_syncnet_path, "SyncNet")
    inputs, target = _batch(tiny_shards[0])
    plain = Speech2VidTrainer(build_speech2vid("tiny"), syncnet, sync_weight=0.0)
    moving = Speech2VidTrainer(plain.generator, syncnet, sync_weight=0.0, motion_weight=2.0)
    frames = unstack_frames(plain.generator(inputs, training=False)).numpy()[:, :, 56:]
    real = unstack_frames(target).numpy()[:, :, 56:]
    expected = np.mean(np.abs(np.diff(frames, axis=1) - np.diff(real, axis=1)))
    l1_plain = plain.objective_terms(inputs, target, training=False)[1]["l1"]
    l1_moving = moving.objective_terms(inputs, target, training=False)[1]["l1"]
    np.testing.assert_allclose(l1_moving - l1_plain, 2.0 * expected, rtol=1e-4)
    # frame_changes is numpy's diff over frames; one mouth held over the window has no change, so it pays the real one.
    still = np.repeat(unstack_frames(target)[:, :1], 5, axis=1)
    np.testing.assert_allclose(np.mean(np.abs(frame_changes(mouths(target)))), np.mean(np.abs(np.diff(real, axis=1))), rtol=1e-5)
    assert float(tf.reduce_mean(tf.abs(frame_changes(mouths(stack_frames(still)))))) == 0.0
    with pytest.raises(ValueError, match="received -1"):
        Speech2VidTrainer(plain.generator, syncnet, motion_weight=-1)
    assert Speech2VidTrainer.from_config(moving.get_config()).motion_weight == 2.0


def _edge_error_by_hand(generated, real):
    """numpy's diff down the rows and across the columns, channel by channel."""
    down = np.abs(np.diff(generated, axis=-3) - np.diff(real, axis=-3))
    across = np.abs(np.diff(generated, axis=-2) - np.diff(real, axis=-2))
    return 0.5 * (down.mean() + across.mean())


def _blurred(windows):
    """A 5x5 box blur of every frame (each channel on its own), edges replicated."""
    padded = np.pad(windows, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="edge")
    height, width = windows.shape[1:3]
    return np.mean([padded[:, r : r + height, c : c + width] for r in range(5) for c in range(5)], axis=0)


def test_the_gradient_term_charges_a_blurred_mouth_and_not_a_sharp_copy(tiny_shards, tiny_syncnet_path):
    rng = np.random.default_rng(0)
    small, other = rng.random((2, 2, 6, 7, 15)).astype("float32")
    down, across = image_gradients(small)
    assert down.shape == (2, 5, 7, 15) and across.shape == (2, 6, 6, 15)  # within frames: all 15 channels kept
    np.testing.assert_allclose(edge_error(small, other), _edge_error_by_hand(small, other), rtol=1e-6)

    syncnet = load_model(tiny_syncnet_path, "SyncNet")
    inputs, target = _batch(tiny_shards[0])
    plain = Speech2VidTrainer(build_speech2vid("tiny"), syncnet, sync_weight=0.0)
    sharp = Speech2VidTrainer(plain.generator, syncnet, sync_weight=0.0, gradient_weight=3.0)
    frames = plain.generator(inputs, training=False).numpy()
    expected = _edge_error_by_hand(frames[:, 56:], target.numpy()[:, 56:])
    l1_plain = plain.objective_terms(inputs, target, training=False)[1]["l1"]
    l1_sharp = sharp.objective_terms(inputs, target, training=False)[1]["l1"]
    np.testing.assert_allclose(l1_sharp - l1_plain, 3.0 * expected, rtol=1e-4)

    real_mouths = mouths(target).numpy()
    assert float(edge_error(real_mouths, real_mouths)) == 0.0
    blurred, blurrier = _blurred(real_mouths), _blurred(_blurred(real_mouths))
    assert 0.0 < float(edge_error(blurred, real_mouths)) < float(edge_error(blurrier, real_mouths))
    with pytest.raises(ValueError, match="received -1"):
        Speech2VidTrainer(plain.generator, syncnet, gradient_weight=-1)
    assert Speech2VidTrainer.from_config(sharp.get_config()).gradient_weight == 3.0


def _weights(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return any(not np.array_equal(old, new.numpy()) for old, new in zip(before, variables))


def _minus_log(p):
    return -np.log(np.maximum(p, 1e-7))


def test_a_gan_step_trains_both_networks_with_wav2lips_loss_and_leaves_the_expert_alone(tiny_shards, tiny_syncnet_path):
    syncnet = load_model(tiny_syncnet_path, "SyncNet")
    expert_before = _weights(syncnet.weights)
    keras.utils.set_random_seed(0)
    trainer = Speech2VidTrainer(
        build_speech2vid("tiny"), syncnet, sync_weight=0.3, gan_weight=0.2, discriminator=build_quality_discriminator("tiny")
    )
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    generator_before, discriminator_before = _weights(trainer.generator.weights), _weights(trainer.discriminator.weights)
    inputs, target = _batch(tiny_shards[0])
    # By hand, before the step: what the generator draws and what the discriminator says of it.
    frames = trainer.generator(inputs, training=True).numpy()
    fake, real = (trainer.discriminator(m, training=True).numpy() for m in (frames[:, 56:], target.numpy()[:, 56:]))
    logs = trainer.train_on_batch(inputs, target, return_dict=True)

    assert set(logs) == set(TERMS + GAN_TERMS)
    np.testing.assert_allclose(logs["gan_adversarial"], _minus_log(fake).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["gan_discriminator"], _minus_log(real).mean() + _minus_log(1 - fake).mean(), rtol=1e-5)
    wav2lip = (1 - 0.3 - 0.2) * logs["l1"] + 0.3 * logs["e_sync"] + 0.2 * logs["gan_adversarial"]
    np.testing.assert_allclose(logs["loss"], wav2lip, rtol=1e-5)
    np.testing.assert_allclose(logs["objective"], logs["l1"] + logs["e_sync"], rtol=1e-6)  # model selection is unchanged

    assert _changed(generator_before, trainer.generator.weights) and _changed(discriminator_before, trainer.discriminator.weights)
    for old, new in zip(expert_before, syncnet.weights):
        np.testing.assert_array_equal(old, new.numpy())
    assert int(trainer.discriminator_optimizer.iterations.numpy()) == 1
    # The saved generator holds no discriminator.
    assert trainer.generator.count_params() == build_speech2vid("tiny").count_params()
    assert "quality_discriminator" not in [layer.name for layer in trainer.generator._flatten_layers()]
    # Validation reports both GAN terms and trains nothing.
    after_step = _weights(trainer.discriminator.weights)
    scores = trainer.evaluate(inputs, target, return_dict=True, verbose=0)
    assert set(scores) == set(TERMS + GAN_TERMS) and np.isfinite(scores["gan_discriminator"])
    assert not _changed(after_step, trainer.discriminator.weights)
    assert int(trainer.discriminator_optimizer.iterations.numpy()) == 1


def test_without_the_gan_no_discriminator_is_built_and_the_metrics_are_the_old_ones(tiny_shards, tiny_syncnet_path):
    syncnet = load_model(tiny_syncnet_path, "SyncNet")
    trainer = _trainer(syncnet, sync_weight=0.5)
    assert trainer.discriminator is None and trainer.discriminator_optimizer is None
    assert [m.name for m in trainer.metrics] == ["loss", "l1", "e_sync", "p_sync", "objective"]
    inputs, target = _batch(tiny_shards[0], batch_size=2)
    assert sorted(trainer.train_on_batch(inputs, target, return_dict=True)) == sorted(
        ["loss", "l1", "e_sync", "p_sync", "objective"]
    )
    assert Speech2VidTrainer.from_config(trainer.get_config()).discriminator is None
    generator = trainer.generator
    with pytest.raises(ValueError, match="received -0.1"):
        Speech2VidTrainer(generator, syncnet, gan_weight=-0.1)
    with pytest.raises(ValueError, match=r"<= 1; received 0.5 \+ 0.6"):
        Speech2VidTrainer(generator, syncnet, sync_weight=0.5, gan_weight=0.6)
    with pytest.raises(ValueError, match="gan_weight=0"):
        Speech2VidTrainer(generator, syncnet, discriminator=build_quality_discriminator("tiny"))
    with pytest.raises(ValueError, match="'huge'"):
        Speech2VidTrainer(generator, syncnet, gan_weight=0.1, discriminator_preset="huge")


def _random_batch(size=2, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {
        "mfcc": rng.standard_normal((size, 12, 20, 1)).astype("float32"),
        "identity": rng.random((size, 112, 112, 15)).astype("float32"),
        "reference": rng.random((size, 112, 112, 15)).astype("float32"),
    }
    target = rng.random((size, 112, 112, 15)).astype("float32")
    return {name: tf.constant(value) for name, value in inputs.items()}, tf.constant(target)


def test_resume_restores_the_discriminator_and_its_optimizer_state(tmp_path):
    from keras_s2v.training.generator_fit import _Backup

    data = tf.data.Dataset.from_tensors(_random_batch()).repeat()
    keras.utils.set_random_seed(0)
    trainer = Speech2VidTrainer(
        build_speech2vid("tiny"),
        build_syncnet("tiny"),
        gan_weight=0.1,
        discriminator_preset="tiny",
        discriminator_learning_rate=3e-4,
    )
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    saved = {}

    class Interrupt(Exception):
        pass

    def after_first_epoch(epoch, logs):
        saved.update(weights=_weights(trainer.discriminator.weights), state=_weights(trainer.discriminator_optimizer.variables))

    def kill(epoch, logs):
        if epoch == 1:
            raise Interrupt

    run = [_Backup(str(tmp_path / "backup")), keras.callbacks.LambdaCallback(on_epoch_end=after_first_epoch, on_epoch_begin=kill)]
    with pytest.raises(Interrupt):
        trainer.fit(data, epochs=3, steps_per_epoch=2, verbose=0, callbacks=run)
    assert int(saved["state"][0]) == 2  # the optimizer's iterations: two steps in epoch 1

    keras.utils.set_random_seed(1)  # another start: what matches came from the backup
    resumed = Speech2VidTrainer.from_config(trainer.get_config())
    assert (resumed.gan_weight, resumed.discriminator_learning_rate) == (0.1, 3e-4)
    assert resumed.discriminator.count_params() == trainer.discriminator.count_params()
    assert not np.array_equal(resumed.discriminator.weights[0].numpy(), saved["weights"][0])
    resumed.compile(optimizer=keras.optimizers.Adam(1e-3))
    restored = {}

    def on_train_begin(logs):
        restored.update(
            weights=_weights(resumed.discriminator.weights), state=_weights(resumed.discriminator_optimizer.variables)
        )
        resumed.stop_training = True

    resumed.fit(
        data,
        epochs=3,
        steps_per_epoch=2,
        verbose=0,
        callbacks=[_Backup(str(tmp_path / "backup")), keras.callbacks.LambdaCallback(on_train_begin=on_train_begin)],
    )
    for old, new in zip(saved["weights"] + saved["state"], restored["weights"] + restored["state"]):
        np.testing.assert_array_equal(old, new)


def test_the_l1_of_a_blending_generator_also_charges_its_painted_frames_and_the_blended_area(tiny_shards, tiny_syncnet_path):
    trainer = Speech2VidTrainer(build_speech2vid("tiny"), load_model(tiny_syncnet_path, "SyncNet"), sync_weight=0.0)
    inputs, target = _batch(tiny_shards[0])
    frames, core = blended_parts(trainer.generator, inputs)
    np.testing.assert_allclose(frames, trainer.generator(inputs, training=False), atol=1e-6)
    expected = (
        np.mean(np.abs(frames - target)) + np.mean(np.abs(core["frames"] - target)) + BLEND_AREA_WEIGHT * np.mean(core["alpha"])
    )
    np.testing.assert_allclose(trainer.objective_terms(inputs, target, training=False)[1]["l1"], expected, rtol=1e-5)


def test_a_warping_generator_also_pays_the_l1_of_its_warped_mouths_sharp_and_blurred(tiny_shards, tiny_syncnet_path):
    trainer = Speech2VidTrainer(build_speech2vid("tiny-warp"), load_model(tiny_syncnet_path, "SyncNet"), sync_weight=0.0)
    inputs, target = _batch(tiny_shards[0])
    frames, core = blended_parts(trainer.generator, inputs)
    np.testing.assert_allclose(frames, trainer.generator(inputs, training=False), atol=1e-6)
    # An untrained flow is 0: the warped picture is the composite, the reference's mouth unmoved.
    np.testing.assert_allclose(core["warped"][:, 56:], inputs["reference"][:, 56:], atol=1e-6)

    def warp_l1(warped):
        real, moved = target.numpy()[:, 56:], np.asarray(warped)[:, 56:]

        def blur(x):
            return tf.nn.avg_pool2d(x, WARP_BLUR, 1, "SAME").numpy()

        return np.mean(np.abs(moved - real)) + np.mean(np.abs(blur(moved) - blur(real)))

    expected = (
        np.mean(np.abs(frames - target))
        + np.mean(np.abs(core["frames"] - target))
        + BLEND_AREA_WEIGHT * np.mean(core["alpha"])
        + warp_l1(core["warped"])
    )
    np.testing.assert_allclose(trainer.objective_terms(inputs, target, training=False)[1]["l1"], expected, rtol=1e-5)
    # The further the warped mouth is off, the more it pays.
    real = target.numpy()
    assert warp_l1(np.roll(real, 3, axis=1)) < warp_l1(np.roll(real, 6, axis=1))


def test_the_sync_weight_is_held_at_zero_then_ramped_over_one_epoch(tiny_shards, tiny_syncnet_path):
    trainer = _trainer(load_model(tiny_syncnet_path, "SyncNet"), sync_weight=0.4)
    inputs, target = _batch(tiny_shards[0])
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(trainer.sync_weight.numpy()))
    )
    data = tf.data.Dataset.from_tensors((inputs, target)).repeat()
    trainer.fit(data, epochs=3, steps_per_epoch=4, verbose=0, callbacks=[SyncWeightWarmup(0.4, warmup_epochs=1), record])
    np.testing.assert_allclose(seen, [0, 0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.4, 0.4], rtol=1e-6)


def test_a_syncnet_with_other_input_shapes_is_refused(tmp_path):
    mfcc = keras.Input((12, 20, 1), name="mfcc")
    mouths = keras.Input((112, 112, 15), name="mouths")
    wrong = keras.Model({"mfcc": mfcc, "mouths": mouths}, keras.layers.Dense(1)(keras.layers.Flatten()(mouths)))
    with pytest.raises(ModelError, match="do not match"):
        Speech2VidTrainer(build_speech2vid("tiny"), wrong)
    with pytest.raises(ModelError, match="not a SyncNet"):
        Speech2VidTrainer(build_speech2vid("tiny"), build_speech2vid("tiny"))


def test_train_writes_checkpoints_logs_and_a_plain_generator(tiny_shards, tiny_syncnet_path, tmp_path):
    out = str(tmp_path / "generator.keras")
    recipe = resolve_recipe("smoke", steps=4, batch_size=4, warmup_epochs=1)
    history = train_generator(*tiny_shards, tiny_syncnet_path, out, recipe, verbose=False)
    assert set(history.history) >= {"loss", "l1", "e_sync", "p_sync", "val_loss", "val_l1", "val_e_sync", "val_p_sync"}
    generator = load_model(out, "generator")
    assert type(generator).__name__ == "Functional" and sorted(generator.input) == ["identity", "mfcc", "reference"]
    folder = run_folder(out)
    assert os.path.isfile(os.path.join(folder, "checkpoint.keras"))
    rows = list(csv.DictReader(open(os.path.join(folder, "training.csv"))))
    assert [int(r["epoch"]) for r in rows] == list(range(len(history.history["loss"])))
    assert glob.glob(os.path.join(folder, "logs", "train", "events.*"))  # TensorBoard scalars
    grids = sorted(glob.glob(os.path.join(folder, "logs", "frames", "epoch_*.png")))
    assert len(grids) == len(rows)
    grid = cv2.imread(grids[-1])
    assert grid.shape == (2 * 112 * 4, 5 * 112, 3)  # 4 windows: 5 real frames over 5 generated
    assert not os.path.exists(os.path.join(folder, "backup"))  # removed once training finished


def test_train_with_the_gan_logs_its_terms_and_saves_the_generator_alone(tiny_shards, tiny_syncnet_path, tmp_path):
    out = str(tmp_path / "generator.keras")
    recipe = resolve_recipe("smoke", steps=2, batch_size=4, warmup_epochs=0, gradient_weight=1.0, gan_weight=0.05)
    history = train_generator(*tiny_shards, tiny_syncnet_path, out, recipe, verbose=False)
    assert set(history.history) >= {"gan_adversarial", "gan_discriminator", "val_gan_adversarial", "val_gan_discriminator"}
    rows = list(csv.DictReader(open(os.path.join(run_folder(out), "training.csv"))))
    assert {"gan_adversarial", "val_gan_discriminator", "val_objective"} <= set(rows[0])
    generator = load_model(out, "generator")
    assert (
        generator.count_params() == build_speech2vid("tiny", conditioning=recipes["synthetic-small"].conditioning).count_params()
    )


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tiny_shards, tiny_syncnet_path, tmp_path):
    inputs, target = _batch(tiny_shards[0])
    # NaN in the target, not the inputs: oneDNN's max-pooling turns NaN into -3.4e38 on some CPUs (AVX-512),
    # so NaN inputs do not reliably reach the loss.
    poisoned = tf.fill(tf.shape(target), np.nan)
    # Epoch 1 is clean; the first step of epoch 2 carries NaN.
    _, epoch_steps = plan_epochs(tiny_shards[1]["windows"]["train"], batch_size=4)
    clean, bad = tf.data.Dataset.from_tensors((inputs, target)), tf.data.Dataset.from_tensors((inputs, poisoned))
    data = clean.repeat(epoch_steps).concatenate(bad.repeat())
    out = str(tmp_path / "generator.keras")
    with pytest.raises(
        TrainingError, match=r"nan at epoch 2, step 1; the last good checkpoint is .*checkpoint.keras \(epoch 1\)"
    ):
        train_generator(
            *tiny_shards,
            tiny_syncnet_path,
            out,
            resolve_recipe("smoke", epochs=3, batch_size=4, warmup_epochs=0),
            train_data=data,
            verbose=False,
        )
    assert not os.path.exists(out)
    checkpoint = load_model(os.path.join(run_folder(out), "checkpoint.keras"), "generator")
    assert all(np.isfinite(w).all() for w in checkpoint.get_weights())
    assert sorted(os.listdir(os.path.join(run_folder(out), "logs", "frames"))) == ["epoch_001.png"]  # no grid of NaN


def test_train_resumes_after_a_kill_losing_at_most_one_epoch(tiny_shards, tiny_syncnet_path, tmp_path):
    shards, manifest = tiny_shards
    out = tmp_path / "generator.keras"
    epochs = 4  # per phase: killed after 2, the rest of phase 1 and all of phase 2 run again
    first, _ = phase_outputs(str(out), 2)  # the recipe's phase 1; phase 2 fine-tunes it into `out`
    args = [
        "train",
        "--data",
        shards,
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        out,
        "--preset",
        "tiny",
        "--batch-size",
        4,
        "--epochs",
        epochs,
    ]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_s2v", *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    metadata = os.path.join(run_folder(first), "backup", "training_metadata.json")
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(metadata) and json.load(open(metadata))["epoch"] >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.load(open(metadata))["epoch"]
    assert 2 <= killed_at < epochs and not os.path.exists(first) and not out.exists()

    refused = s2v(*args)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = s2v(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    epochs_run = [line for line in resumed.stdout.splitlines() if line.startswith("generator epoch")]
    # The rest of phase 1, then all of phase 2.
    assert epochs_run[0].startswith(f"generator epoch {killed_at + 1}/{epochs}") and len(epochs_run) == 2 * epochs - killed_at
    for path in (first, str(out)):
        rows = list(csv.DictReader(open(os.path.join(run_folder(path), "training.csv"))))
        assert [int(r["epoch"]) for r in rows][-1] == epochs - 1
        recorded = read_recipe(os.path.join(run_folder(path), "recipe.json"))
        assert recorded == resolve_recipe("synthetic-small", preset="tiny", batch_size=4, epochs=epochs)
    assert load_model(str(out), "generator")


def test_hparams_from_tune_feed_train(tiny_shards, tiny_syncnet_path, tmp_path):
    result = s2v(
        "tune",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        tmp_path / "tune",
        "--max-trials",
        2,
        "--steps",
        2,
        "--batch-size",
        4,
        "--presets",
        "tiny",
    )
    assert result.returncode == 0, result.stderr
    hparams = read_hparams(str(tmp_path / "tune" / "best_hparams.json"))
    assert set(hparams) == {"learning_rate", "preset", "sync_weight"} and hparams["preset"] == "tiny"
    assert len(glob.glob(str(tmp_path / "tune" / "trials" / "trial_*"))) == 2
    result = s2v(
        "train",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        tmp_path / "g.keras",
        "--hparams",
        tmp_path / "tune" / "best_hparams.json",
        "--steps",
        1,
        "--batch-size",
        4,
    )
    assert result.returncode == 0, result.stderr
    trained = load_model(str(tmp_path / "g.keras"), "generator")
    assert trained.count_params() == build_speech2vid("tiny", conditioning=recipes["synthetic-small"].conditioning).count_params()


def test_train_init_fine_tunes_a_given_generator_and_refuses_other_models(tiny_shards, tiny_syncnet_path, tmp_path):
    keras.utils.set_random_seed(7)
    initial = build_speech2vid("tiny")
    initial.save(tmp_path / "init.keras")
    result = s2v(
        "train",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        tmp_path / "g.keras",
        "--init",
        tmp_path / "init.keras",
        "--learning-rate",
        1e-9,
        "--steps",
        1,
        "--batch-size",
        4,
    )
    assert result.returncode == 0, result.stderr
    keras.utils.set_random_seed(0)  # what a fresh run would start from
    fresh = build_speech2vid("tiny")
    tuned = load_model(str(tmp_path / "g.keras"), "generator")
    convolutions = [layer for layer in tuned.get_layer("core").layers if layer.__class__.__name__ == "Conv2D"]
    assert convolutions
    for layer in convolutions:
        kernel = layer.kernel.numpy()
        np.testing.assert_allclose(kernel, initial.get_layer("core").get_layer(layer.name).kernel.numpy(), atol=1e-6)
        assert not np.allclose(kernel, fresh.get_layer("core").get_layer(layer.name).kernel.numpy(), atol=1e-3)
    result = s2v(
        "train",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        tmp_path / "h.keras",
        "--init",
        tiny_syncnet_path,
        "--steps",
        1,
        "--batch-size",
        4,
    )
    assert result.returncode == 2 and "not a Speech2Vid generator" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not os.path.exists(tmp_path / "h.keras")


def test_mixed_precision_keeps_the_loss_in_float32(tiny_shards, tiny_syncnet_path):
    with computing_in("mixed_bfloat16"):
        trainer = _trainer(load_model(tiny_syncnet_path, "SyncNet"), sync_weight=0.5)
    assert trainer.generator.get_layer("core").get_layer("frames").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    inputs, target = _batch(tiny_shards[0])
    loss, parts = trainer.objective_terms(inputs, target, training=True)
    assert loss.dtype == tf.float32 and np.isfinite(float(loss))
    logs = trainer.train_on_batch(inputs, target, return_dict=True)
    assert np.isfinite(logs["loss"])


def test_mixed_precision_keeps_the_gan_terms_in_float32():
    with computing_in("mixed_bfloat16"):
        trainer = Speech2VidTrainer(
            build_speech2vid("tiny"),
            build_syncnet("tiny"),
            sync_weight=0.1,
            gan_weight=0.1,
            gradient_weight=1.0,
            discriminator_preset="tiny",
        )
        trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert trainer.discriminator.get_layer("block1").compute_dtype == "bfloat16"
    inputs, target = _random_batch()
    loss, parts = trainer.objective_terms(inputs, target, training=True)
    assert loss.dtype == tf.float32 and parts["gan_adversarial"].dtype == tf.float32
    logs = trainer.train_on_batch(inputs, target, return_dict=True)
    assert all(np.isfinite(logs[name]) for name in TERMS + GAN_TERMS)


MIRRORED_CHECK = """
import sys, numpy as np, tensorflow as tf, keras
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.training.distribute import get_strategy
from keras_s2v.training.trainer import Speech2VidTrainer

def one_step(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        syncnet = build_syncnet("tiny")
        generator = build_speech2vid("tiny", synchronized_bn=strategy.num_replicas_in_sync > 1)
        trainer = Speech2VidTrainer(generator, syncnet, sync_weight=0.5)
        trainer.compile(optimizer=keras.optimizers.SGD(0.1))
    rng = np.random.default_rng(0)
    inputs = {"mfcc": rng.standard_normal((8, 12, 20, 1)).astype("float32"),
              "identity": rng.random((8, 112, 112, 15)).astype("float32"),
              "reference": rng.random((8, 112, 112, 15)).astype("float32")}
    target = rng.random((8, 112, 112, 15)).astype("float32")
    initial = [w.numpy() for w in trainer.generator.weights]
    trainer.fit(tf.data.Dataset.from_tensors((inputs, target)), epochs=1, verbose=0)
    return strategy.num_replicas_in_sync, initial, [w.numpy() for w in trainer.generator.weights]

replicas, initial, mirrored = one_step(get_strategy("mirrored"))
_, _, single = one_step(get_strategy("default"))
worst = max(float(np.max(np.abs(a - b))) for a, b in zip(mirrored, single))
moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single, initial))
print(replicas, worst, moved)
"""


def test_a_mirrored_step_on_two_devices_matches_a_single_device_step():
    result = subprocess.run([sys.executable, "-c", MIRRORED_CHECK], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    replicas, worst, moved = result.stdout.split()[-3:]
    assert int(replicas) == 2
    assert float(moved) > 1e-2  # the step really changed the weights...
    assert float(worst) < 1e-4  # ...and both ways the same


def test_the_pipeline_scripts_train_with_the_recipe_as_s2v_train_does(tiny_shards, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def run(script, *args):
        result = subprocess.run(
            [sys.executable, os.path.join(root, "pipelines", script), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    expert = tmp_path / "expert.keras"
    output = run(
        "train_syncnet.py", "--data", tiny_shards[0], "--out", expert, "--recipe", "smoke", "--batch-size", 8, "--steps", 2
    )
    assert "held-out accuracy" in output and load_model(str(expert), "SyncNet")
    script_out = tmp_path / "g.keras"
    run("train_speech2vid.py", "--data", tiny_shards[0], "--syncnet", expert, "--out", script_out, "--recipe", "smoke")
    assert load_model(str(script_out), "generator").output.shape[1:] == (112, 112, 15)
    # `s2v train` records the recipe it trained with in the same way (the resume test checks its recipe.json).
    for phase, script_phase in enumerate(phase_outputs(str(script_out), 2)):
        recorded = json.load(open(os.path.join(run_folder(script_phase), "recipe.json")))
        assert recorded == recipes["smoke"].to_config()
        # The same callbacks: the CSV log of every epoch and the per-epoch checkpoint.
        rows = list(csv.DictReader(open(os.path.join(run_folder(script_phase), "training.csv"))))
        assert len(rows) == recipes["smoke"].phases[phase].epochs and "val_objective" in rows[0]
        assert os.path.isfile(os.path.join(run_folder(script_phase), "checkpoint.keras"))


MULTI_WORKER_STEP = """
import json, os, sys
import numpy as np, tensorflow as tf, keras
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.training.distribute import get_strategy
from keras_s2v.training.trainer import Speech2VidTrainer

strategy = get_strategy(sys.argv[1])
keras.utils.set_random_seed(0)
with strategy.scope():
    generator = build_speech2vid("tiny", synchronized_bn=strategy.num_replicas_in_sync > 1)
    trainer = Speech2VidTrainer(generator, build_syncnet("tiny"), sync_weight=0.5)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1))
rng = np.random.default_rng(0)
inputs = {"mfcc": rng.standard_normal((8, 12, 20, 1)).astype("float32"),
          "identity": rng.random((8, 112, 112, 15)).astype("float32"),
          "reference": rng.random((8, 112, 112, 15)).astype("float32")}
target = rng.random((8, 112, 112, 15)).astype("float32")
data = tf.data.Dataset.from_tensor_slices((inputs, target)).batch(8)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
trainer.fit(data.with_options(options), epochs=1, verbose=0)
np.save(sys.argv[2], np.concatenate([w.numpy().ravel() for w in trainer.generator.weights]))
print(strategy.num_replicas_in_sync)
"""


def test_a_multi_worker_step_with_two_local_workers_matches_a_single_device_step(tmp_path):
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", MULTI_WORKER_STEP, "multi-worker", str(tmp_path / f"w{index}.npy")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    single = subprocess.run(
        [sys.executable, "-c", MULTI_WORKER_STEP, "default", str(tmp_path / "single.npy")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr[-2000:]
        assert stdout.split()[-1] == "2"
    reference = np.load(tmp_path / "single.npy")
    for index in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"w{index}.npy"), reference, atol=1e-4)
