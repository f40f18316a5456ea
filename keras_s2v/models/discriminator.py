"""The visual-quality discriminator of Wav2Lip+GAN: is this lower half of a face real or generated?

The L1 of the generator is smallest for the mean of the mouths the audio allows, which is a
blur; a discriminator that has learnt what real lips, teeth and edges look like charges
the generator for it. It judges each frame of the window on its own (the expert judges
the timing), patch by patch, with the same weights for every frame: the five frames are folded
into the batch and every convolution is a plain Conv2D. (A Conv3D with a kernel one frame deep is
the same model, but one training step of it took 0.71 s on an AMD EPYC with TF 2.21; Conv2D under
`TimeDistributed` 0.13 s; folded into the batch 0.08 s, docs/experiments.md.)
"""

import keras
from keras import layers, ops

from keras_s2v.geometry import FRAME_CHANNELS, MOUTHS_SHAPE, WINDOW_FRAMES
from keras_s2v.models.presets import QUALITY_DISCRIMINATOR_PRESETS, get_preset

LEAKY_SLOPE = 0.2  # Wav2Lip's


@keras.saving.register_keras_serializable(package="keras_s2v")
class FramesIntoBatch(layers.Layer):
    """(B, H, W, WINDOW_CHANNELS) windows -> (B * WINDOW_FRAMES, H, W, 3) frames: channels 3t..3t+2 are frame t."""

    def call(self, mouths):
        height, width, _ = mouths.shape[1:]
        frames = ops.reshape(mouths, (-1, height, width, WINDOW_FRAMES, FRAME_CHANNELS))
        return ops.reshape(ops.transpose(frames, (0, 3, 1, 2, 4)), (-1, height, width, FRAME_CHANNELS))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * WINDOW_FRAMES
        return (batch, *input_shape[1:3], FRAME_CHANNELS)


@keras.saving.register_keras_serializable(package="keras_s2v")
class FramesOutOfBatch(layers.Layer):
    """(B * WINDOW_FRAMES, h, w, 1) answers -> (B, WINDOW_FRAMES, h, w): FramesIntoBatch undone."""

    def call(self, answers):
        return ops.reshape(answers, (-1, WINDOW_FRAMES, *answers.shape[1:3]))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // WINDOW_FRAMES
        return (batch, WINDOW_FRAMES, *input_shape[1:3])


def _conv_block(x, filters, strides, name):
    """A strided conv on every frame, then LeakyReLU; no normalisation, as in Wav2Lip's discriminator."""
    x = layers.Conv2D(filters, 4, strides=strides, padding="same", name=name)(x)
    return layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_leaky_relu")(x)


def build_quality_discriminator(preset: str = "small", name: str = "quality_discriminator") -> keras.Model:
    """Discriminator: input `mouths` MOUTHS_SHAPE (the lower halves of a window, keras_s2v.geometry)
    -> `real` (WINDOW_FRAMES, 7, 7): for each frame and each patch of it, the probability that it is real.

    The first block halves only the width, so the 56x112 halves become square; the next three
    halve both sides (56 -> 7). `real` is float32 under a mixed-precision policy, so the
    trainer's log stays accurate.
    """
    filters = get_preset(QUALITY_DISCRIMINATOR_PRESETS, preset, "quality discriminator")["filters"]
    mouths = keras.Input(MOUTHS_SHAPE, name="mouths")
    x = FramesIntoBatch(name="frames_into_batch")(mouths)
    # Strides over (rows, columns) of each frame on its own.
    for index, (block_filters, strides) in enumerate(zip(filters, [(1, 2)] + [(2, 2)] * (len(filters) - 1))):
        x = _conv_block(x, block_filters, strides, f"block{index + 1}")
    logits = layers.Conv2D(1, 3, padding="same", name="real_logit")(x)
    logits = FramesOutOfBatch(name="patches")(logits)
    real = layers.Activation("sigmoid", dtype="float32", name="real")(logits)
    return keras.Model(mouths, real, name=name)
