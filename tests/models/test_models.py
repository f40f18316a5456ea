import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_s2v import geometry
from keras_s2v.errors import ModelError
from keras_s2v.models import (
    QUALITY_DISCRIMINATOR_PRESETS,
    build_quality_discriminator,
    build_speech2vid,
    build_syncnet,
    check_generator,
    conditioning_of,
    embedding_models,
)
from keras_s2v.models.speech2vid import ReferenceBlend, blended_parts, build_core, warp_frames

# docs/design.md (the generator), row by row: (layer name, class, output shape, parameters).
SEED_TABLE = [
    ("mfcc", "InputLayer", (12, 20, 1), 0),
    ("audio_1_conv", "Conv2D", (12, 20, 64), 640),
    ("audio_1_bn", "BatchNormalization", (12, 20, 64), 256),
    ("audio_1_relu", "ReLU", (12, 20, 64), 0),
    ("audio_2_conv", "Conv2D", (12, 20, 128), 73856),
    ("audio_2_bn", "BatchNormalization", (12, 20, 128), 512),
    ("audio_2_relu", "ReLU", (12, 20, 128), 0),
    ("audio_pool_1", "MaxPooling2D", (12, 10, 128), 0),
    ("audio_3_conv", "Conv2D", (12, 10, 256), 295168),
    ("audio_3_bn", "BatchNormalization", (12, 10, 256), 1024),
    ("audio_3_relu", "ReLU", (12, 10, 256), 0),
    ("audio_4_conv", "Conv2D", (12, 10, 256), 590080),
    ("audio_4_bn", "BatchNormalization", (12, 10, 256), 1024),
    ("audio_4_relu", "ReLU", (12, 10, 256), 0),
    ("audio_5_conv", "Conv2D", (12, 10, 512), 1180160),
    ("audio_5_bn", "BatchNormalization", (12, 10, 512), 2048),
    ("audio_5_relu", "ReLU", (12, 10, 512), 0),
    ("audio_pool_2", "MaxPooling2D", (6, 5, 512), 0),
    ("audio_flatten", "Flatten", (15360,), 0),
    ("audio_dense", "Dense", (512,), 7864832),
    ("audio_embedding", "Dense", (256,), 131328),
    ("identity", "InputLayer", (112, 112, 15), 0),
    ("identity_1_conv", "Conv2D", (56, 56, 96), 70656),
    ("identity_1_bn", "BatchNormalization", (56, 56, 96), 384),
    ("identity_1_relu", "ReLU", (56, 56, 96), 0),
    ("identity_pool_1", "MaxPooling2D", (28, 28, 96), 0),
    ("identity_2_conv", "Conv2D", (14, 14, 256), 614656),
    ("identity_2_bn", "BatchNormalization", (14, 14, 256), 1024),
    ("identity_2_relu", "ReLU", (14, 14, 256), 0),
    ("identity_pool_2", "MaxPooling2D", (7, 7, 256), 0),
    ("identity_3_conv", "Conv2D", (7, 7, 512), 1180160),
    ("identity_3_bn", "BatchNormalization", (7, 7, 512), 2048),
    ("identity_3_relu", "ReLU", (7, 7, 512), 0),
    ("identity_4_conv", "Conv2D", (7, 7, 512), 2359808),
    ("identity_4_bn", "BatchNormalization", (7, 7, 512), 2048),
    ("identity_4_relu", "ReLU", (7, 7, 512), 0),
    ("identity_5_conv", "Conv2D", (7, 7, 512), 2359808),
    ("identity_5_bn", "BatchNormalization", (7, 7, 512), 2048),
    ("identity_5_relu", "ReLU", (7, 7, 512), 0),
    ("identity_flatten", "Flatten", (25088,), 0),
    ("identity_dense", "Dense", (512,), 12845568),
    ("identity_embedding", "Dense", (256,), 131328),
    ("embedding_concat", "Concatenate", (512,), 0),
    ("bottleneck", "Dense", (98,), 50274),
    ("bottleneck_reshape", "Reshape", (7, 7, 2), 0),
    ("decoder_1_conv", "Conv2DTranspose", (7, 7, 512), 37376),
    ("decoder_1_bn", "BatchNormalization", (7, 7, 512), 2048),
    ("decoder_1_relu", "ReLU", (7, 7, 512), 0),
    ("decoder_2_conv", "Conv2DTranspose", (7, 7, 256), 3277056),
    ("decoder_2_bn", "BatchNormalization", (7, 7, 256), 1024),
    ("decoder_2_relu", "ReLU", (7, 7, 256), 0),
    ("skip3_concat", "Concatenate", (7, 7, 512), 0),
    ("decoder_3_conv", "Conv2DTranspose", (14, 14, 96), 1228896),
    ("decoder_3_bn", "BatchNormalization", (14, 14, 96), 384),
    ("decoder_3_relu", "ReLU", (14, 14, 96), 0),
    ("skip2_concat", "Concatenate", (14, 14, 352), 0),
    ("decoder_4_conv", "Conv2DTranspose", (28, 28, 96), 844896),
    ("decoder_4_bn", "BatchNormalization", (28, 28, 96), 384),
    ("decoder_4_relu", "ReLU", (28, 28, 96), 0),
    ("skip1_concat", "Concatenate", (28, 28, 192), 0),
    ("decoder_5_conv", "Conv2DTranspose", (56, 56, 64), 307264),
    ("decoder_5_bn", "BatchNormalization", (56, 56, 64), 256),
    ("decoder_5_relu", "ReLU", (56, 56, 64), 0),
    ("frames", "Conv2DTranspose", (112, 112, 15), 24015),
]


@pytest.fixture(scope="module")
def generator():
    return build_speech2vid("seed")


@pytest.fixture(scope="module")
def seed(generator):
    """The 64 layers of docs/design.md (the generator), nested in the generator behind its reference conditioning."""
    return generator.get_layer("core")


def test_seed_generator_adds_no_parameters_to_the_table(generator, seed):
    assert sorted(layer.name for layer in generator.layers) == ["core", "identity", "mfcc", "reference", "reference_conditioning"]
    assert generator.count_params() == seed.count_params() == 35_484_337
    assert conditioning_of(generator) == "composite"


def test_seed_preset_is_the_layer_table(seed):
    assert len(seed.layers) == len(SEED_TABLE) == 64
    for name, cls, shape, params in SEED_TABLE:
        layer = seed.get_layer(name)
        assert type(layer).__name__ == cls, name
        assert tuple(layer.output.shape[1:]) == shape, name
        assert layer.count_params() == params, name
    assert seed.count_params() == 35_484_337
    assert sum(int(np.prod(w.shape)) for w in seed.non_trainable_weights) == 8_256


def test_seed_settings_and_skips(seed):
    for layer in seed.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            assert layer.padding == "same", layer.name
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.momentum == 0.8, layer.name
    assert seed.get_layer("frames").activation.__name__ == "sigmoid"
    assert seed.get_layer("audio_pool_1").strides == (1, 2)
    inbound = {
        layer.name: [t._keras_history.operation.name for t in layer._inbound_nodes[0].input_tensors]
        for layer in seed.layers
        if "concat" in layer.name
    }
    assert inbound["skip3_concat"] == ["decoder_2_relu", "identity_pool_2"]
    assert inbound["skip2_concat"] == ["decoder_3_relu", "identity_2_relu"]
    assert inbound["skip1_concat"] == ["decoder_4_relu", "identity_pool_1"]
    assert inbound["embedding_concat"] == ["audio_embedding", "identity_embedding"]


@pytest.mark.parametrize("preset", ["small", "tiny", "tiny-warp"])
def test_smaller_presets_keep_the_topology(seed, preset):
    model = build_speech2vid(preset).get_layer("core")
    blend = {"blend_alpha", "blend_alpha_upsample", "blend_flow", "blend_flow_upsample"}
    assert [type(layer).__name__ for layer in model.layers if layer.name not in blend] == [
        type(layer).__name__ for layer in seed.layers
    ]
    assert model.get_layer("blend_alpha_upsample").output.shape[1:] == (112, 112, 5)
    assert model.get_layer("bottleneck_reshape").output.shape[1:] == (7, 7, 2)
    assert model.get_layer("frames").output.shape[1:] == (112, 112, 15)
    assert model.count_params() < seed.count_params() / 10


def test_generator_outputs_frames_in_unit_range():
    model = build_speech2vid("tiny")
    frames = model.predict(
        {
            "mfcc": np.random.randn(2, 12, 20, 1),
            "identity": np.random.rand(2, 112, 112, 15),
            "reference": np.random.rand(2, 112, 112, 15),
        },
        verbose=0,
    )
    assert frames.shape == (2, 112, 112, 15) and frames.min() >= 0 and frames.max() <= 1


def test_syncnet_gives_a_probability_and_exposes_its_embeddings():
    model = build_syncnet("tiny")
    rng = np.random.default_rng(0)
    inputs = {"mfcc": rng.standard_normal((3, 12, 20, 1)), "mouths": rng.random((3, 56, 112, 15))}
    p_sync = model.predict(inputs, verbose=0)
    assert p_sync.shape == (3, 1) and (p_sync >= 0).all() and (p_sync <= 1).all()
    audio_encoder, video_encoder = embedding_models(model)
    s = audio_encoder.predict(inputs["mfcc"], verbose=0)
    v = video_encoder.predict(inputs["mouths"], verbose=0)
    assert s.shape == v.shape and (s >= 0).all() and (v >= 0).all()
    cosine = (s * v).sum(1) / np.maximum(np.linalg.norm(s, axis=1) * np.linalg.norm(v, axis=1), 1e-8)
    np.testing.assert_allclose(p_sync[:, 0], cosine, atol=1e-5)


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_speech2vid("tiny"),
        lambda: build_speech2vid("tiny", conditioning="concat"),
        lambda: build_speech2vid("tiny-warp", conditioning="concat"),
        lambda: build_syncnet("tiny"),
        lambda: build_quality_discriminator("tiny"),
    ],
    ids=["speech2vid", "speech2vid-concat", "speech2vid-warp", "syncnet", "quality-discriminator"],
)
def test_models_round_trip_as_keras_files_in_safe_mode(tmp_path, build):
    model = build()
    rng = np.random.default_rng(1)
    inputs = {t.name: rng.random((2, *t.shape[1:])).astype("float32") for t in model.inputs}
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded._flatten_layers())


def test_model_inputs_are_the_window_geometry():
    generator, expert = build_speech2vid("tiny"), build_syncnet("tiny")
    shapes = {t.name: tuple(t.shape[1:]) for t in generator.inputs + expert.inputs}
    assert shapes == {
        "mfcc": geometry.MFCC_SHAPE,
        "identity": geometry.IDENTITY_SHAPE,
        "reference": geometry.IDENTITY_SHAPE,
        "mouths": geometry.MOUTHS_SHAPE,
    }
    assert tuple(generator.output.shape[1:]) == geometry.IDENTITY_SHAPE


def test_unknown_presets_are_refused_with_the_received_value():
    with pytest.raises(ValueError, match="'huge'"):
        build_speech2vid("huge")
    with pytest.raises(ValueError, match="'huge'"):
        build_syncnet("huge")
    with pytest.raises(ValueError, match=r"'huge'.*\['small', 'tiny'\]"):
        build_quality_discriminator("huge")


def test_the_quality_discriminator_judges_each_frame_on_its_own_patch_by_patch():
    discriminator = build_quality_discriminator("tiny")
    assert tuple(discriminator.input.shape[1:]) == geometry.MOUTHS_SHAPE and discriminator.input.name == "mouths"
    assert tuple(discriminator.output.shape[1:]) == (geometry.WINDOW_FRAMES, 7, 7) and discriminator.layers[-1].name == "real"
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in discriminator._flatten_layers())
    filters = [discriminator.get_layer(f"block{k}").filters for k in range(1, 5)]
    assert filters == list(QUALITY_DISCRIMINATOR_PRESETS["tiny"]["filters"])
    rng = np.random.default_rng(0)
    window = rng.random((1, *geometry.MOUTHS_SHAPE)).astype("float32")
    changed = window.copy()
    changed[..., 6:9] = rng.random(changed[..., 6:9].shape)  # frame 2 only
    before, after = discriminator(window).numpy(), discriminator(changed).numpy()
    assert ((0 <= before) & (before <= 1)).all()
    np.testing.assert_array_equal(np.delete(before, 2, axis=1), np.delete(after, 2, axis=1))
    assert not np.allclose(before[:, 2], after[:, 2])
    # One set of weights for every frame: the same picture in any frame gets the same answer.
    same = np.tile(window[..., :3], 5)
    answers = discriminator(same).numpy()
    np.testing.assert_allclose(answers, np.repeat(answers[:, :1], 5, axis=1), atol=1e-6)
    copy = keras.Model.from_config(discriminator.get_config())
    copy.set_weights(discriminator.get_weights())
    assert copy.get_config() == discriminator.get_config()
    np.testing.assert_array_equal(copy(window).numpy(), before)


def _conditioned(generator, target, reference):
    conditioning = generator.get_layer("reference_conditioning")
    return keras.ops.convert_to_numpy(conditioning([target, reference]))


def test_composite_conditioning_is_the_targets_upper_half_over_the_references_lower_half():
    generator = build_speech2vid("tiny")
    rng = np.random.default_rng(0)
    target, reference = rng.random((2, 3, 112, 112, 15)).astype("float32")
    conditioned = _conditioned(generator, target, reference)
    np.testing.assert_array_equal(conditioned[:, :56], target[:, :56])
    np.testing.assert_array_equal(conditioned[:, 56:], reference[:, 56:])


def test_concat_conditioning_is_the_masked_target_then_the_reference():
    generator = build_speech2vid("tiny", conditioning="concat")
    assert generator.get_layer("core").input["identity"].shape[1:] == (112, 112, 30)
    rng = np.random.default_rng(1)
    target, reference = rng.random((2, 3, 112, 112, 15)).astype("float32")
    conditioned = _conditioned(generator, target, reference)
    np.testing.assert_array_equal(conditioned[:, :56, :, :15], target[:, :56])
    np.testing.assert_array_equal(conditioned[:, 56:, :, :15], 0.0)
    np.testing.assert_array_equal(conditioned[..., 15:], reference)


def test_the_target_lower_half_never_reaches_the_generator():
    generator = build_speech2vid("tiny")
    rng = np.random.default_rng(2)
    inputs = {
        "mfcc": rng.standard_normal((2, 12, 20, 1)),
        "identity": rng.random((2, 112, 112, 15)),
        "reference": rng.random((2, 112, 112, 15)),
    }
    changed = {**inputs, "identity": inputs["identity"].copy()}
    changed["identity"][:, 56:] = rng.random((2, 56, 112, 15))
    np.testing.assert_array_equal(generator.predict(changed, verbose=0), generator.predict(inputs, verbose=0))
    other_reference = {**inputs, "reference": rng.random((2, 112, 112, 15))}
    assert not np.allclose(generator.predict(other_reference, verbose=0), generator.predict(inputs, verbose=0))


def test_reference_blend_takes_the_frames_where_alpha_is_one_and_the_composite_where_it_is_zero():
    rng = np.random.default_rng(3)
    frames, target, reference = rng.random((3, 2, 112, 112, 15)).astype("float32")
    alpha = np.zeros((2, 112, 112, 5), "float32")
    alpha[..., 1] = 1.0  # frame 1 (channels 3 to 5) painted, the others copied
    blended = keras.ops.convert_to_numpy(ReferenceBlend()([frames, alpha, target, reference]))
    np.testing.assert_allclose(blended[..., 3:6], frames[..., 3:6])
    np.testing.assert_allclose(blended[:, :56, :, :3], target[:, :56, :, :3])
    np.testing.assert_allclose(blended[:, 56:, :, 6:], reference[:, 56:, :, 6:])
    restored = ReferenceBlend.from_config(ReferenceBlend(mouth_row=40).get_config())
    assert restored.mouth_row == 40
    with pytest.raises(ValueError, match="received 0"):
        ReferenceBlend(mouth_row=0)


def test_reference_blend_paints_its_ellipse_whatever_alpha_says():
    rng = np.random.default_rng(4)
    frames, target, reference = rng.random((3, 1, 112, 112, 15)).astype("float32")
    alpha = np.zeros((1, 112, 112, 5), "float32")
    blend = ReferenceBlend(paint_ellipse=(0.7, 0.16, 0.26))
    blended = keras.ops.convert_to_numpy(blend([frames, alpha, target, reference]))
    np.testing.assert_allclose(blended[0, 78, 56], frames[0, 78, 56])  # the centre: all painted
    np.testing.assert_allclose(blended[0, 110, 2], reference[0, 110, 2])  # a lower corner: the reference
    np.testing.assert_allclose(blended[0, 70, 5], reference[0, 70, 5])  # beside the mouth, outside the ellipse
    np.testing.assert_allclose(blended[0, 10], target[0, 10])
    restored = ReferenceBlend.from_config(blend.get_config())
    assert restored.paint_ellipse == (0.7, 0.16, 0.26)
    with pytest.raises(ValueError, match=r"received \(0.7, 0.16\)"):
        ReferenceBlend(paint_ellipse=(0.7, 0.16))


def test_warp_frames_moves_each_frame_by_its_own_flow_and_interpolates():
    rng = np.random.default_rng(5)
    window = rng.random((2, 112, 112, 15)).astype("float32")
    flow = np.zeros((2, 112, 112, 10), "float32")
    flow[..., 0] = 3.0  # frame 0 samples 3 rows lower: its content moves up
    flow[..., 3] = -0.5  # frame 1 samples half a column to the left
    warped = keras.ops.convert_to_numpy(warp_frames(window, flow))
    np.testing.assert_allclose(warped[:, :109, :, :3], window[:, 3:, :, :3])
    np.testing.assert_allclose(warped[:, 109:, :, :3], np.repeat(window[:, 111:, :, :3], 3, axis=1))  # clamped at the edge
    np.testing.assert_allclose(warped[:, :, 1:, 3:6], (window[:, :, :-1, 3:6] + window[:, :, 1:, 3:6]) / 2, atol=1e-6)
    np.testing.assert_allclose(warped[..., 6:], window[..., 6:])


def test_a_warping_blend_moves_the_composite_before_blending_and_learns_its_flow():
    rng = np.random.default_rng(6)
    frames, target, reference = rng.random((3, 1, 112, 112, 15)).astype("float32")
    alpha = np.zeros((1, 112, 112, 5), "float32")
    flow = np.zeros((1, 112, 112, 10), "float32")
    flow[..., 0::2] = 0.5  # half of max_shift = 2 rows, every frame
    blended = keras.ops.convert_to_numpy(ReferenceBlend(max_shift=4.0)([frames, alpha, target, reference, flow]))
    np.testing.assert_allclose(blended[:, 60:110], reference[:, 62:112])
    np.testing.assert_allclose(blended[:, :50], target[:, 2:52])
    assert ReferenceBlend.from_config(ReferenceBlend(max_shift=4.0).get_config()).max_shift == 4.0
    with pytest.raises(ValueError, match="received -1"):
        ReferenceBlend(max_shift=-1)
    with pytest.raises(ValueError, match="fifth input"):
        ReferenceBlend(max_shift=4.0)([frames, alpha, target, reference])
    # The flow is trained by the L1 of the blend: its gradient reaches the flow head.
    generator = build_speech2vid("tiny-warp")
    inputs = {"mfcc": rng.standard_normal((1, 12, 20, 1)).astype("float32"), "identity": target, "reference": reference}
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.abs(generator(inputs, training=True) - target))
    kernel = generator.get_layer("core").get_layer("blend_flow").kernel
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, kernel)))) > 0


def test_seed_has_no_blend_and_the_smaller_presets_blend(generator):
    inputs = {
        "mfcc": np.zeros((1, 12, 20, 1), "float32"),
        "identity": np.zeros((1, 112, 112, 15), "float32"),
        "reference": np.zeros((1, 112, 112, 15), "float32"),
    }
    assert blended_parts(generator, inputs)[1] is None
    core = blended_parts(build_speech2vid("tiny"), inputs)[1]
    assert core["frames"].shape == (1, 112, 112, 15) and core["alpha"].shape == (1, 112, 112, 5) and "flow" not in core
    warping = blended_parts(build_speech2vid("tiny-warp"), inputs)[1]
    assert warping["flow"].shape == (1, 112, 112, 10) and not np.any(
        keras.ops.convert_to_numpy(warping["flow"])
    )  # starts unmoved


def test_seed_takes_only_the_composite_conditioning_and_unknown_ones_are_refused():
    with pytest.raises(ValueError, match="'concat'"):
        build_speech2vid("seed", conditioning="concat")
    with pytest.raises(ValueError, match="'stacked'"):
        build_speech2vid("tiny", conditioning="stacked")


def test_generators_of_the_old_format_are_refused_with_one_line():
    old = build_core("tiny", name="speech2vid")  # inputs mfcc and a masked identity, as saved before the reference
    with pytest.raises(ModelError, match="old format.*no reference window"):
        check_generator(old, "old.keras")
    check_generator(build_speech2vid("tiny"))
