"""The modified Speech2Vid generator (docs/design.md) as a functional Keras model.

The generator takes the raw target window (`identity`) and a reference window of the same
video (`reference`, docs/design.md) and builds its own conditioning input from
them in a `ReferenceConditioning` layer, so no caller can forget the mask or get it wrong:

- "composite" (15 channels, the seed's table unchanged): each frame is the upper half of the
  target over the lower half of the reference;
- "concat" (30 channels, as Wav2Lip): the target with its lower half zeroed, then the reference.

The layers of docs/design.md (the generator) form the nested model `core` (64 layers for `seed`).
"""

import functools
from typing import NamedTuple

import keras
from keras import layers

from keras_s2v.errors import ModelError
from keras_s2v.faces.masks import ellipse_map
from keras_s2v.geometry import (
    CONDITIONINGS,
    FRAME_CHANNELS,
    GENERATOR_INPUTS,
    IDENTITY_SHAPE,
    MFCC_SHAPE,
    MOUTH_ROW,
    WINDOW_CHANNELS,
    WINDOW_FRAMES,
)
from keras_s2v.models.presets import SPEECH2VID_PRESETS, get_preset

BN_MOMENTUM = 0.8
BOTTLENECK_UNITS = 98  # reshaped to (7, 7, 2)
OUTPUT_CHANNELS = WINDOW_CHANNELS
ALPHA_INITIAL_LOGIT = 2.0  # sigmoid(2) = 0.88
# The generator's parts by layer name; reached from elsewhere through `generator_parts`.
CONDITIONING, CORE, BLEND = "reference_conditioning", "core", "reference_blend"


def _upper_rows(window, mouth_row):
    """(H, 1, 1): 1 for the rows above `mouth_row`, 0 from it down."""
    upper = keras.ops.cast(keras.ops.arange(keras.ops.shape(window)[-3]) < mouth_row, window.dtype)
    return keras.ops.reshape(upper, (-1, 1, 1))


def composite(target, reference, mouth_row=MOUTH_ROW):
    """The target's rows above `mouth_row` over the reference's rows from it down."""
    upper = _upper_rows(target, mouth_row)
    return target * upper + reference * (1.0 - upper)


@keras.saving.register_keras_serializable(package="keras_s2v")
class ReferenceConditioning(layers.Layer):
    """[target window, reference window] -> the generator's identity input (see the module docstring).

    Rows from `mouth_row` down (the lower half: mouth and jaw) of the target never reach the
    generator: it must draw them from the audio, taking the person's look from the reference.
    """

    def __init__(self, mode="composite", mouth_row=MOUTH_ROW, **kwargs):
        super().__init__(**kwargs)
        if mode not in CONDITIONINGS:
            raise ValueError(f"`mode` must be one of {CONDITIONINGS}; received {mode!r}")
        if not isinstance(mouth_row, int) or mouth_row < 1:
            raise ValueError(f"`mouth_row` must be a positive integer; received {mouth_row!r}")
        self.mode = mode
        self.mouth_row = mouth_row

    def call(self, inputs):
        target, reference = inputs
        if self.mode == "composite":
            return composite(target, reference, self.mouth_row)
        return keras.ops.concatenate([target * _upper_rows(target, self.mouth_row), reference], axis=-1)

    def compute_output_shape(self, input_shapes):
        target, reference = input_shapes
        channels = target[-1] if self.mode == "composite" else target[-1] + reference[-1]
        return (*target[:-1], channels)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "mouth_row": self.mouth_row}


def warp_frames(window, flow):
    """Backward bilinear warp of each frame of a (B, H, W, 3F) window by its own flow (B, H, W, 2F):
    output frame t at (row, col) samples input frame t at (row + flow[..., 2t], col + flow[..., 2t + 1]),
    clamped to the crop."""
    height, width, channels = window.shape[1], window.shape[2], window.shape[3]
    frames = channels // FRAME_CHANNELS
    batch = keras.ops.shape(window)[0]
    flow = keras.ops.reshape(flow, (batch, height, width, frames, 2))
    rows = keras.ops.reshape(keras.ops.arange(height, dtype=flow.dtype), (1, height, 1, 1))
    cols = keras.ops.reshape(keras.ops.arange(width, dtype=flow.dtype), (1, 1, width, 1))
    y = keras.ops.clip(rows + flow[..., 0], 0.0, height - 1.0)
    x = keras.ops.clip(cols + flow[..., 1], 0.0, width - 1.0)
    y0, x0 = keras.ops.floor(y), keras.ops.floor(x)
    wy, wx = keras.ops.expand_dims(y - y0, -1), keras.ops.expand_dims(x - x0, -1)
    y0, x0 = keras.ops.cast(y0, "int32"), keras.ops.cast(x0, "int32")
    y1, x1 = keras.ops.minimum(y0 + 1, height - 1), keras.ops.minimum(x0 + 1, width - 1)
    pixels = keras.ops.reshape(keras.ops.cast(window, flow.dtype), (-1, FRAME_CHANNELS))
    first_row = keras.ops.reshape(keras.ops.arange(batch, dtype="int32") * height, (-1, 1, 1, 1))
    frame = keras.ops.reshape(keras.ops.arange(frames, dtype="int32"), (1, 1, 1, frames))

    def sample(row, col):
        return keras.ops.take(pixels, ((first_row + row) * width + col) * frames + frame, axis=0)

    top = (1.0 - wx) * sample(y0, x0) + wx * sample(y0, x1)
    bottom = (1.0 - wx) * sample(y1, x0) + wx * sample(y1, x1)
    return keras.ops.reshape((1.0 - wy) * top + wy * bottom, (batch, height, width, channels))


@keras.saving.register_keras_serializable(package="keras_s2v")
class ReferenceBlend(layers.Layer):
    """[frames, alpha, target window, reference window] -> alpha * frames + (1 - alpha) * composite.

    The composite is the target's upper half over the reference's lower half (what the generator
    may see). Where `alpha` (one channel per frame) is low, the output is that picture at full
    resolution: the person's own skin, stubble and lighting. A generator trained on synthetic
    faces thus paints only where the mouth must change, and leaves a real face it never saw as
    it is elsewhere.

    `paint_ellipse` (centre_row, half_height, half_width as fractions of the crop, or None)
    raises alpha to 1 over the mouth and jaw: the reference's mouth is another moment of the
    source, and what of it shows through a learned alpha (which stayed under 0.9) moves with
    the source's speech, not the new one (docs/experiments.md).

    `max_shift` (pixels, or None): the blend takes a fifth input, a flow of 2 channels per frame
    in [-1, 1], and warps the composite by `max_shift` times it before blending (`warp_frames`),
    so the person's own lips and teeth can move with the new speech instead of being repainted.
    The warping presets have no paint ellipse: where the warp serves, alpha need not paint.
    """

    def __init__(self, mouth_row=MOUTH_ROW, paint_ellipse=None, max_shift=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(mouth_row, int) or mouth_row < 1:
            raise ValueError(f"`mouth_row` must be a positive integer; received {mouth_row!r}")
        if paint_ellipse is not None and (len(paint_ellipse) != 3 or not all(0 < value <= 1 for value in paint_ellipse)):
            raise ValueError(
                "`paint_ellipse` must be None or (centre_row, half_height, half_width), "
                f"fractions of the crop in (0, 1]; received {paint_ellipse!r}"
            )
        if max_shift is not None and not max_shift > 0:
            raise ValueError(f"`max_shift` must be None or > 0 pixels; received {max_shift!r}")
        self.mouth_row = mouth_row
        self.paint_ellipse = None if paint_ellipse is None else tuple(float(value) for value in paint_ellipse)
        self.max_shift = None if max_shift is None else float(max_shift)

    def call(self, inputs):
        frames, alpha, target, reference = inputs[:4]
        return self.mix(frames, alpha, self.picture(target, reference, *inputs[4:], dtype=frames.dtype))

    def mix(self, frames, alpha, picture):
        """alpha * frames + (1 - alpha) * picture, with alpha raised to 1 in the paint ellipse."""
        if self.paint_ellipse is not None:
            painted = ellipse_map(alpha.shape[-2], self.paint_ellipse)[None, :, :, None]
            alpha = keras.ops.maximum(alpha, keras.ops.cast(painted, alpha.dtype))
        channels_per_frame = keras.ops.shape(frames)[-1] // keras.ops.shape(alpha)[-1]
        alpha = keras.ops.repeat(alpha, channels_per_frame, axis=-1)
        return alpha * frames + (1.0 - alpha) * picture

    def picture(self, target, reference, flow=None, dtype="float32"):
        """What shows where alpha is 0: the composite, warped by `flow` when the blend warps."""
        picture = keras.ops.cast(composite(target, reference, self.mouth_row), dtype)
        if self.max_shift is None:
            return picture
        if flow is None:
            raise ValueError("a warping ReferenceBlend (`max_shift` set) takes a fifth input, the flow; received none")
        return warp_frames(picture, self.max_shift * keras.ops.cast(flow, dtype))

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {
            **super().get_config(),
            "mouth_row": self.mouth_row,
            "paint_ellipse": self.paint_ellipse,
            "max_shift": self.max_shift,
        }


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


def _decoder(embedding, skips, width, conv, blend=False, warp=False):
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
    frames = layers.Conv2DTranspose(OUTPUT_CHANNELS, 5, strides=2, padding="same", activation="sigmoid", name="frames")(x)
    if not blend:
        return frames
    if not warp:
        return {"frames": frames, "alpha": _blend_alpha(x)}
    return {"frames": frames, "alpha": _blend_alpha(x), "flow": _blend_flow(x)}


def _blend_flow(features):
    """Where each output frame takes its picture from, in [-1, 1] of ReferenceBlend's `max_shift`
    (rows, cols per frame), from the 56x56 decoder. It starts at 0: the unmoved composite."""
    flow = layers.Conv2D(2 * WINDOW_FRAMES, 3, padding="same", activation="tanh", kernel_initializer="zeros", name="blend_flow")(
        features
    )
    return layers.UpSampling2D(2, interpolation="bilinear", name="blend_flow_upsample")(flow)


def _blend_alpha(features):
    """Where each output frame is painted (1) or taken from the composite (0), from the 56x56 decoder.

    It starts near 0.9 everywhere, so the painted frames get the gradient from the first step
    (a full-resolution path to the reference, open from the start, is what kept the sync loss
    from taking hold with the fine skips: docs/experiments.md). A warping blend starts there too: from
    0.5 its sync took hold three epochs later and ended weaker (docs/experiments.md).
    """
    alpha = layers.Conv2D(
        WINDOW_FRAMES,
        3,
        padding="same",
        activation="sigmoid",
        bias_initializer=keras.initializers.Constant(ALPHA_INITIAL_LOGIT),
        name="blend_alpha",
    )(features)
    return layers.UpSampling2D(2, interpolation="bilinear", name="blend_alpha_upsample")(alpha)


def build_core(
    preset: str = "seed", identity_channels: int = WINDOW_CHANNELS, name: str = CORE, synchronized_bn: bool = False
) -> keras.Model:
    """The layers of docs/design.md (the generator): `mfcc` and the conditioned `identity` -> `frames`.

    Presets with `blend` (all below `seed`) also return `alpha` ({"frames", "alpha"}), which
    `build_speech2vid` uses to blend the frames with the composite (`ReferenceBlend`).
    """
    config = get_preset(SPEECH2VID_PRESETS, preset, "speech2vid")
    width = config["width"]
    conv = functools.partial(_conv_bn_relu, synchronized=synchronized_bn)
    mfcc = keras.Input(MFCC_SHAPE, name="mfcc")
    identity = keras.Input((*IDENTITY_SHAPE[:2], identity_channels), name="identity")
    audio_embedding = _audio_encoder(mfcc, width, conv)
    identity_embedding, skips = _identity_encoder(identity, width, conv)
    joint = layers.Concatenate(name="embedding_concat")([audio_embedding, identity_embedding])
    outputs = _decoder(joint, skips, width, conv, blend=config.get("blend", False), warp=config.get("max_shift") is not None)
    return keras.Model({"mfcc": mfcc, "identity": identity}, outputs, name=name)


def build_speech2vid(
    preset: str = "seed", name: str = "speech2vid", synchronized_bn: bool = False, conditioning: str = "composite"
) -> keras.Model:
    """Generator: `mfcc` MFCC_SHAPE, `identity` (the raw target window) and `reference` IDENTITY_SHAPE
    -> `frames` IDENTITY_SHAPE (keras_s2v.geometry).

    `conditioning` is how the reference reaches the core (module docstring); "concat" widens
    the first layer, so `seed`, whose table is fixed, takes only "composite".
    `synchronized_bn=True` makes BatchNormalization use the whole global batch under a
    multi-replica tf.distribute strategy (the same layers otherwise).
    """
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"`conditioning` must be one of {CONDITIONINGS}; received {conditioning!r}")
    if conditioning == "concat" and preset == "seed":
        raise ValueError(
            "preset 'seed' is the layer table of docs/design.md (the generator) and takes 15 channels: "
            f"use conditioning='composite' with it; received {conditioning!r}"
        )
    channels = WINDOW_CHANNELS * (2 if conditioning == "concat" else 1)
    core = build_core(preset, channels, synchronized_bn=synchronized_bn)
    mfcc = keras.Input(MFCC_SHAPE, name="mfcc")
    identity = keras.Input(IDENTITY_SHAPE, name="identity")
    reference = keras.Input(IDENTITY_SHAPE, name="reference")
    inputs = {"mfcc": mfcc, "identity": identity, "reference": reference}
    config = get_preset(SPEECH2VID_PRESETS, preset, "speech2vid")
    blend = (
        ReferenceBlend(paint_ellipse=config.get("paint_ellipse"), max_shift=config.get("max_shift"), name=BLEND)
        if config.get("blend")
        else None
    )
    conditioning_layer = ReferenceConditioning(conditioning, name=CONDITIONING)
    outputs = _core_outputs(conditioning_layer, core, inputs)
    if blend is None:
        return keras.Model(inputs, outputs, name=name)
    flow = [outputs["flow"]] if "flow" in outputs else []
    frames = blend([outputs["frames"], outputs["alpha"], inputs["identity"], inputs["reference"], *flow])
    return keras.Model(inputs, frames, name=name)


class GeneratorParts(NamedTuple):
    """The pieces of a generator built by `build_speech2vid`: its reference conditioning, the core network
    (the layer table of `seed`) and the `ReferenceBlend` (None when the preset has none)."""

    conditioning: ReferenceConditioning
    core: keras.Model
    blend: "ReferenceBlend | None"


def generator_parts(generator: keras.Model) -> GeneratorParts:
    """The `GeneratorParts` of a built or loaded generator: the one place that knows their layer names."""
    names = [layer.name for layer in generator.layers]
    blend = generator.get_layer(BLEND) if BLEND in names else None
    return GeneratorParts(generator.get_layer(CONDITIONING), generator.get_layer(CORE), blend)


def _core_outputs(conditioning, core, inputs, training=None):
    conditioned = conditioning([inputs["identity"], inputs["reference"]])
    return core({"mfcc": inputs["mfcc"], "identity": conditioned}, training=training)


def blended_parts(generator, inputs, training=False):
    """(frames, core) for the trainer: the generator's output, and the core's {"frames", "alpha"}
    before `ReferenceBlend` (None for a generator without a blend); a warping blend adds "flow"
    and "warped", the composite it warped."""
    conditioning, core, blend = generator_parts(generator)
    if blend is None:
        return generator(inputs, training=training), None
    inputs = {name: keras.ops.convert_to_tensor(value) for name, value in inputs.items()}
    outputs = _core_outputs(conditioning, core, inputs, training=training)
    # The blend's own steps, so that the trainer's warp terms reuse the one warp of the step.
    picture = blend.picture(inputs["identity"], inputs["reference"], outputs.get("flow"), dtype=outputs["frames"].dtype)
    frames = blend.mix(outputs["frames"], outputs["alpha"], picture)
    return frames, ({**outputs, "warped": picture} if "flow" in outputs else outputs)


def conditioning_of(generator: keras.Model) -> str:
    """ "composite" or "concat": how a generator built by build_speech2vid takes its reference."""
    return generator_parts(generator).conditioning.mode


def check_generator(generator: keras.Model, path: str = "generator") -> None:
    """Refuse a model that does not take mfcc, identity and reference windows and return frames.

    Generators saved before the reference (inputs mfcc and a masked identity only) are refused:
    they never saw the person's lower face and paint an invented one.
    """
    try:
        shapes = {name: tuple(tensor.shape[1:]) for name, tensor in generator.input.items()}
    except (AttributeError, TypeError):
        raise ModelError(path, f"not a Speech2Vid generator: expected inputs named {list(GENERATOR_INPUTS)}") from None
    if sorted(shapes) == ["identity", "mfcc"]:
        raise ModelError(
            path,
            "a generator of the old format (a masked identity, no reference window): it never sees "
            "the person's own lower face; train a new one with `s2v train`",
        )
    output = tuple(generator.output.shape[1:]) if hasattr(generator.output, "shape") else None
    expected = {"mfcc": MFCC_SHAPE, "identity": IDENTITY_SHAPE, "reference": IDENTITY_SHAPE}
    if shapes != expected or output != IDENTITY_SHAPE:
        raise ModelError(
            path, f"not a Speech2Vid generator: inputs {shapes} -> {output}, expected {expected} -> {IDENTITY_SHAPE}"
        )
