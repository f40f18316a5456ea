"""The modified Speech2Vid generator (architecture.md §2) as a functional Keras model."""

import functools

import keras
from keras import layers

from keras_s2v.errors import ModelError
from keras_s2v.geometry import IDENTITY_SHAPE, MFCC_SHAPE, WINDOW_CHANNELS
from keras_s2v.models.presets import SPEECH2VID_PRESETS, get_preset

BN_MOMENTUM = 0.8
BOTTLENECK_UNITS = 98  # reshaped to (7, 7, 2)
OUTPUT_CHANNELS = WINDOW_CHANNELS


def _scaled(width, units):
    return max(1, int(round(units * width)))


def _conv_bn_relu(x, filters, kernel, strides, name, transpose=False, synchronized=False):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding="same", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, synchronized=synchronized, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _audio_encoder(mfcc, width, conv):
    x = conv(mfcc, _scaled(width, 64), 3, 1, "audio_1")
    x = conv(x, _scaled(width, 128), 3, 1, "audio_2")
    x = layers.MaxPooling2D(3, strides=(1, 2), padding="same", name="audio_pool_1")(x)
    x = conv(x, _scaled(width, 256), 3, 1, "audio_3")
    x = conv(x, _scaled(width, 256), 3, 1, "audio_4")
    x = conv(x, _scaled(width, 512), 3, 1, "audio_5")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="audio_pool_2")(x)
    x = layers.Flatten(name="audio_flatten")(x)
    x = layers.Dense(_scaled(width, 512), activation="relu", name="audio_dense")(x)
    return layers.Dense(_scaled(width, 256), activation="relu", name="audio_embedding")(x)


def _identity_encoder(identity, width, conv):
    x = conv(identity, _scaled(width, 96), 7, 2, "identity_1")
    skip1 = layers.MaxPooling2D(3, strides=2, padding="same", name="identity_pool_1")(x)
    skip2 = conv(skip1, _scaled(width, 256), 5, 2, "identity_2")
    skip3 = layers.MaxPooling2D(3, strides=2, padding="same", name="identity_pool_2")(skip2)
    x = conv(skip3, _scaled(width, 512), 3, 1, "identity_3")
    x = conv(x, _scaled(width, 512), 3, 1, "identity_4")
    x = conv(x, _scaled(width, 512), 3, 1, "identity_5")
    x = layers.Flatten(name="identity_flatten")(x)
    x = layers.Dense(_scaled(width, 512), activation="relu", name="identity_dense")(x)
    embedding = layers.Dense(_scaled(width, 256), activation="relu", name="identity_embedding")(x)
    return embedding, (skip1, skip2, skip3)


def _decoder(embedding, skips, width, conv):
    skip1, skip2, skip3 = skips
    x = layers.Dense(BOTTLENECK_UNITS, activation="relu", name="bottleneck")(embedding)
    x = layers.Reshape((7, 7, 2), name="bottleneck_reshape")(x)
    x = conv(x, _scaled(width, 512), 6, 1, "decoder_1", transpose=True)
    x = conv(x, _scaled(width, 256), 5, 1, "decoder_2", transpose=True)
    x = layers.Concatenate(name="skip3_concat")([x, skip3])
    x = conv(x, _scaled(width, 96), 5, 2, "decoder_3", transpose=True)
    x = layers.Concatenate(name="skip2_concat")([x, skip2])
    x = conv(x, _scaled(width, 96), 5, 2, "decoder_4", transpose=True)
    x = layers.Concatenate(name="skip1_concat")([x, skip1])
    x = conv(x, _scaled(width, 64), 5, 2, "decoder_5", transpose=True)
    return layers.Conv2DTranspose(
        OUTPUT_CHANNELS, 5, strides=2, padding="same", activation="sigmoid", name="frames"
    )(x)


def build_speech2vid(preset="seed", name="speech2vid", synchronized_bn=False):
    """Generator: inputs `mfcc` MFCC_SHAPE and `identity` IDENTITY_SHAPE -> `frames` IDENTITY_SHAPE (keras_s2v.geometry).

    `synchronized_bn=True` makes BatchNormalization use the whole global batch under a
    multi-replica tf.distribute strategy (the same layers otherwise).
    """
    width = get_preset(SPEECH2VID_PRESETS, preset, "speech2vid")["width"]
    conv = functools.partial(_conv_bn_relu, synchronized=synchronized_bn)
    mfcc = keras.Input(MFCC_SHAPE, name="mfcc")
    identity = keras.Input(IDENTITY_SHAPE, name="identity")
    audio_embedding = _audio_encoder(mfcc, width, conv)
    identity_embedding, skips = _identity_encoder(identity, width, conv)
    joint = layers.Concatenate(name="embedding_concat")([audio_embedding, identity_embedding])
    frames = _decoder(joint, skips, width, conv)
    return keras.Model({"mfcc": mfcc, "identity": identity}, frames, name=name)


def check_generator(generator, path="generator"):
    """Refuse a model that does not take mfcc and identity windows and return frames."""
    try:
        shapes = {name: tuple(generator.input[name].shape[1:]) for name in ("mfcc", "identity")}
        output = tuple(generator.output.shape[1:])
    except (AttributeError, KeyError, TypeError):
        raise ModelError(path, "not a Speech2Vid generator: expected inputs named 'mfcc' and 'identity'") from None
    expected = {"mfcc": MFCC_SHAPE, "identity": IDENTITY_SHAPE}
    if shapes != expected or output != IDENTITY_SHAPE:
        raise ModelError(path, f"not a Speech2Vid generator: inputs {shapes} -> {output}, expected {expected} -> {IDENTITY_SHAPE}")
