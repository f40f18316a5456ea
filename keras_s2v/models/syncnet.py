"""The SyncNet expert (docs/design.md): P_sync = cosine of two non-negative embeddings."""

import keras
from keras import layers, ops

from keras_s2v.geometry import MFCC_SHAPE, MOUTHS_SHAPE
from keras_s2v.models.presets import SYNCNET_PRESETS, get_preset

# Momentum 0.9, not Keras' 0.99: with 0.99 the moving statistics lag the weights
# and held-out accuracy swings (seen in a probe on this corpus).
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="keras_s2v")
class SyncProbability(layers.Layer):
    """(v . s) / max(||v|| ||s||, eps), clipped to [0, 1] against rounding."""

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0; received {epsilon}")
        self.epsilon = epsilon

    def call(self, inputs):
        video, audio = inputs
        dot = ops.sum(video * audio, axis=-1, keepdims=True)
        norms = ops.norm(video, axis=-1, keepdims=True) * ops.norm(audio, axis=-1, keepdims=True)
        return ops.clip(dot / ops.maximum(norms, self.epsilon), 0.0, 1.0)

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], 1)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def _conv_bn_relu(x, filters, kernel, strides, name):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(x, name):
    filters = x.shape[-1]
    y = _conv_bn_relu(x, filters, 3, 1, f"{name}_a")
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_b_bn")(y)
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_relu")(y)


def _encoder(input_name, input_shape, stages, embedding, name):
    """Strided conv + residual block per stage, then a ReLU embedding."""
    inputs = keras.Input(input_shape, name=input_name)
    x = inputs
    for index, (filters, strides) in enumerate(stages):
        x = _conv_bn_relu(x, filters, 3, strides, f"{name}_stage{index}")
        if index > 0:  # no residual block at full resolution, where it would cost the most
            x = _residual_block(x, f"{name}_stage{index}_res")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(embedding, name=f"{name}_dense")(x)
    x = layers.ReLU(name=f"{name}_embedding")(x)
    return keras.Model(inputs, x, name=name)


def build_syncnet(preset: str = "small", name: str = "syncnet") -> keras.Model:
    """Expert: inputs `mfcc` MFCC_SHAPE and `mouths` MOUTHS_SHAPE (keras_s2v.geometry) -> `p_sync` (1,) in [0, 1].

    The embedding sub-models are reached with `embedding_models`.
    """
    config = get_preset(SYNCNET_PRESETS, preset, "syncnet")
    width, embedding = config["width"], config["embedding"]

    def scaled(units):
        return max(4, int(round(units * width)))

    # The first stage halves only the width: the mouths, half as tall as wide, become square before any full-size work.
    video_stages = [(scaled(32), 2), (scaled(64), 2), (scaled(128), 2), (scaled(256), 2), (scaled(512), 2)]
    audio_stages = [(scaled(32), 1), (scaled(64), 2), (scaled(128), 2), (scaled(256), (3, 5))]
    video_encoder = _encoder("mouths", MOUTHS_SHAPE, video_stages, embedding, "video_encoder")
    audio_encoder = _encoder("mfcc", MFCC_SHAPE, audio_stages, embedding, "audio_encoder")

    mfcc = keras.Input(MFCC_SHAPE, name="mfcc")
    mouths = keras.Input(MOUTHS_SHAPE, name="mouths")
    p_sync = SyncProbability(name="p_sync")([video_encoder(mouths), audio_encoder(mfcc)])
    return keras.Model({"mfcc": mfcc, "mouths": mouths}, p_sync, name=name)


def embedding_models(syncnet: keras.Model) -> tuple[keras.Model, keras.Model]:
    """(audio_encoder, video_encoder) of a built or loaded SyncNet."""
    return syncnet.get_layer("audio_encoder"), syncnet.get_layer("video_encoder")


def video_embedding_before_relu(video_encoder: keras.Model) -> keras.Model:
    """A model of `video_encoder`'s weights that stops before the embedding's ReLU (whose zeros give no gradient)."""
    return keras.Model(video_encoder.input, video_encoder.get_layer("video_encoder_dense").output)
