"""The visual-quality discriminator of Wav2Lip+GAN: is this lower half of a face real or generated?

The L1 of the generator is smallest for the mean of the mouths the audio allows, which is a
blur; a discriminator that has learnt what real lips, teeth and edges look like charges
the generator for it. It judges each frame of the window on its own (the expert judges
the timing), patch by patch, with the same weights for every frame: each convolution is a
Conv2D under `TimeDistributed`, so the model holds standard layers only. (A Conv3D with a kernel
one frame deep is the same model, but its CPU kernels trained 5x slower on an AMD EPYC with TF 2.21.)
"""

import keras
from keras import layers

from keras_s2v.geometry import FRAME_CHANNELS, MOUTHS_SHAPE, WINDOW_FRAMES
from keras_s2v.models.presets import QUALITY_DISCRIMINATOR_PRESETS, get_preset

LEAKY_SLOPE = 0.2  # Wav2Lip's


def _frames(mouths):
    """(H, W, WINDOW_CHANNELS) windows -> (WINDOW_FRAMES, H, W, 3): channels 3t..3t+2 are frame t."""
    height, width, _ = MOUTHS_SHAPE
    x = layers.Reshape((height, width, WINDOW_FRAMES, FRAME_CHANNELS), name="split_frames")(mouths)
    return layers.Permute((3, 1, 2, 4), name="frames_first")(x)


def _conv_block(x, filters, strides, name):
    """A strided conv on every frame, then LeakyReLU; no normalisation, as in Wav2Lip's discriminator."""
    x = layers.TimeDistributed(layers.Conv2D(filters, 4, strides=strides, padding="same"), name=name)(x)
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
    x = _frames(mouths)
    # Strides over (rows, columns) of each frame on its own.
    for index, (block_filters, strides) in enumerate(zip(filters, [(1, 2)] + [(2, 2)] * (len(filters) - 1))):
        x = _conv_block(x, block_filters, strides, f"block{index + 1}")
    logits = layers.TimeDistributed(layers.Conv2D(1, 3, padding="same"), name="real_logit")(x)
    logits = layers.Reshape((WINDOW_FRAMES, *logits.shape[2:4]), name="patches")(logits)
    real = layers.Activation("sigmoid", dtype="float32", name="real")(logits)
    return keras.Model(mouths, real, name=name)
