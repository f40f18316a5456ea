"""Callbacks shared by the SyncNet and generator training: progress, NaN guard, checkpoints,
the sync-weight warm-up and the real-vs-generated frame grid."""

import math
import os
import sys
import time

import keras
import numpy as np
from tqdm.auto import tqdm

from keras_s2v.saving import save_model


def _format(logs):
    return "  ".join(f"{k} {float(np.mean(v)):.4f}" for k, v in logs.items())  # mean: 1-element logs under multi-worker


def finite(logs):
    """Whether every metric of an epoch's `logs` is a finite number: a diverged epoch is neither saved nor drawn."""
    return all(math.isfinite(float(np.mean(v))) for v in (logs or {}).values())


class ProgressLog(keras.callbacks.Callback):
    """A progress bar over all steps and one line per epoch with every metric."""

    def __init__(self, name, disable=None):
        super().__init__()
        self.name = name
        self.disable = disable

    def on_train_begin(self, logs=None):
        epochs, steps = self.params["epochs"], self.params["steps"]
        initial = getattr(self.model, "_initial_epoch", 0) or 0
        self.bar = tqdm(
            total=epochs * steps,
            initial=initial * steps,
            desc=self.name,
            unit="step",
            disable=self.disable,
            leave=False,
            dynamic_ncols=True,
        )
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and batch % 10 == 0:
            self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}")

    def on_epoch_end(self, epoch, logs=None):
        line = f"{self.name} epoch {epoch + 1}/{self.params['epochs']} ({time.time() - self.start:.0f} s): {_format(logs or {})}"
        tqdm.write(line)
        sys.stdout.flush()

    def on_train_end(self, logs=None):
        self.bar.close()


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or Inf loss; `diverged` says where it happened."""

    def __init__(self):
        super().__init__()
        self.diverged = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = f"the loss became {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}"
            self.model.stop_training = True


class GeneratorCheckpoint(keras.callbacks.Callback):
    """Saves the plain generator (no trainer wrapper) as a .keras file after every epoch."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.saved_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if finite(logs):
            save_model(self.model.generator, self.path)
            self.saved_epoch = epoch + 1


class SyncWeightWarmup(keras.callbacks.Callback):
    """Holds the sync weight at 0 for `warmup_epochs` so L1 settles first (as Wav2Lip does),
    then raises it step by step to `sync_weight` over the next epoch.

    Just after warm-up E_sync is near 8, so even a weight of 0.03 switched on at once
    outweighs L1 and throws the generator off (docs/experiments.md); the ramp eases it in.
    """

    def __init__(self, sync_weight, warmup_epochs):
        super().__init__()
        self.sync_weight = sync_weight
        self.warmup_epochs = warmup_epochs
        self.ramping = False

    def on_epoch_begin(self, epoch, logs=None):
        self.ramping = 0 < self.warmup_epochs == epoch
        self.model.sync_weight.assign(self.sync_weight if epoch >= self.warmup_epochs else 0.0)

    def on_train_batch_begin(self, batch, logs=None):
        if self.ramping:
            steps = self.params.get("steps") or 1
            self.model.sync_weight.assign(self.sync_weight * min(1.0, (batch + 1) / steps))


class FrameGrid(keras.callbacks.Callback):
    """Writes `log_dir`/frames/epoch_NNN.png each epoch: real frames (top row) over generated frames (bottom).

    A PNG, so it opens without TensorBoard.
    """

    def __init__(self, log_dir, inputs, target, max_windows=4):
        super().__init__()
        self.folder = os.path.join(log_dir, "frames")
        self.inputs = {k: v[:max_windows] for k, v in inputs.items()}
        self.target = target[:max_windows]

    def on_epoch_end(self, epoch, logs=None):
        import cv2

        if not finite(logs):
            return  # a diverged epoch's frames are NaN; the NaNGuard says what happened
        grid = frame_grid(np.asarray(self.target), self.model.generator.predict_on_batch(self.inputs))
        os.makedirs(self.folder, exist_ok=True)
        cv2.imwrite(os.path.join(self.folder, f"epoch_{epoch + 1:03d}.png"), np.round(grid[:, :, ::-1] * 255).astype(np.uint8))


def frame_grid(real, generated):
    """(B, S, S, 15) real and generated windows -> one (2S B, 5S, 3) float32 image, S = FACE_SIZE: per
    window, its 5 real frames in a row over its 5 generated frames."""

    def strips(windows):  # (B, S, 5S, 3): the 5 frames of each window side by side
        windows = np.asarray(windows, np.float32)
        frames = windows.reshape(*windows.shape[:3], -1, 3)  # (B, S, S, 5, 3): channels 3t..3t+2 are frame t
        return frames.transpose(0, 1, 3, 2, 4).reshape(windows.shape[0], windows.shape[1], -1, 3)

    pairs = np.concatenate([strips(real), strips(generated)], axis=1)  # (B, 2S, 5S, 3)
    return np.clip(np.concatenate(list(pairs), axis=0), 0.0, 1.0)
