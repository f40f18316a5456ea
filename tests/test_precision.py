import numpy as np
import pytest
import tensorflow as tf

from keras_s2v.cli import build_parser
from keras_s2v.export.exporter import psnr
from keras_s2v.models import build_speech2vid
from keras_s2v.precision import (
    BFLOAT16_CPU_FLAGS,
    ONEDNN_BFLOAT16,
    computing_in,
    cpu_flags,
    inference_policy,
    policies,
    resolve_precision,
    with_policy,
)
from keras_s2v.saving import load_model, save_model

AVX2_ONLY = frozenset({"avx2", "fma"})  # an AMD EPYC without AVX-512


@pytest.mark.parametrize(
    ("flags", "gpu", "expected"),
    [
        (AVX2_ONLY, False, "float32"),
        (AVX2_ONLY | {"avx512f", "avx512_vnni"}, False, "float32"),  # AVX-512 without its bfloat16 instructions
        (AVX2_ONLY | {"avx512f", "avx512_bf16"}, False, "mixed_bfloat16"),  # AMD EPYC (Zen 4)
        (AVX2_ONLY | {"amx_bf16", "amx_tile"}, False, "mixed_bfloat16"),  # Intel Xeon with AMX
        (AVX2_ONLY, True, "mixed_bfloat16"),
        (frozenset(), False, "float32"),  # no /proc/cpuinfo
    ],
)
def test_auto_picks_bfloat16_only_where_the_hardware_has_it(flags, gpu, expected):
    assert resolve_precision("auto", flags, gpu) == expected


@pytest.mark.parametrize(
    ("choice", "expected"), [("float32", "float32"), ("bfloat16", "mixed_bfloat16"), ("float16", "mixed_float16")]
)
def test_a_choice_overrides_what_the_hardware_has(choice, expected):
    for flags, gpu in ((AVX2_ONLY, False), (AVX2_ONLY | {"amx_bf16"}, True)):
        assert resolve_precision(choice, flags, gpu) == expected
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("int8")


def test_cpu_flags_reads_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\nflags\t\t: other\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize("command", ["train", "train-syncnet", "tune", "demo", "dub"])
def test_every_command_that_runs_models_takes_precision(command):
    required = {
        "train": ["--data", "d", "--syncnet", "s", "--out", "o"],
        "train-syncnet": ["--data", "d", "--out", "o"],
        "tune": ["--data", "d", "--syncnet", "s", "--out", "o"],
        "demo": [],
        "dub": ["--face", "f", "--audio", "a", "--model", "m", "--out", "o"],
    }[command]
    parser = build_parser()
    assert parser.parse_args([command, *required]).precision == "auto"
    assert parser.parse_args([command, *required, "--precision", "float32"]).precision == "float32"


def test_a_model_trained_in_bfloat16_is_saved_computing_in_float32(tmp_path):
    with computing_in("mixed_bfloat16"):
        generator = build_speech2vid("tiny")
    assert policies(generator) == {"mixed_bfloat16"}
    inputs = {name: tf.random.uniform((2, *tensor.shape[1:]), seed=1) for name, tensor in generator.input.items()}
    path = str(tmp_path / "generator.keras")
    save_model(generator, path)
    loaded = load_model(path, "generator")
    assert policies(loaded) == {"float32"} and policies(generator) == {"mixed_bfloat16"}
    for saved, trained in zip(loaded.get_weights(), generator.get_weights()):
        np.testing.assert_array_equal(saved, trained)
    # The same weights: only bfloat16's rounding separates the two.
    assert psnr(loaded(inputs).numpy(), tf.cast(generator(inputs), tf.float32).numpy()) > 35.0
    assert with_policy(loaded, "float32") is loaded  # nothing to change: the same model


def _tiny_generator_and_windows():
    """A tiny generator, 3 random windows by input name, and the same in the backends' argument order."""
    generator = build_speech2vid("tiny")
    rng = np.random.default_rng(0)
    windows = {name: rng.random((3, *tensor.shape[1:])).astype("float32") for name, tensor in generator.input.items()}
    return generator, windows, [windows[name] for name in ("mfcc", "identity", "reference")]


def test_the_keras_dub_backend_infers_with_bfloat16_weights_and_the_mixed_policys_outputs(tmp_path):
    from keras_s2v.dubbing.backends import KerasBackend

    assert [inference_policy(p) for p in ("float32", "mixed_bfloat16", "mixed_float16")] == [
        "float32",
        "bfloat16",
        "mixed_float16",
    ]
    generator, windows, order = _tiny_generator_and_windows()
    path = str(tmp_path / "generator.keras")
    save_model(generator, path)

    backend = KerasBackend(path, precision="bfloat16")
    assert {weight.dtype for weight in backend.generator.weights} == {"bfloat16"}
    mixed = with_policy(generator, "mixed_bfloat16")(windows)
    # Graph and eager calls round some values to a neighbouring bfloat16 number, no more.
    frames, mixed = backend(*order), tf.cast(mixed, tf.float32).numpy()
    assert np.abs(frames - mixed).max() <= 2**-6 and psnr(mixed, frames) > 60.0

    backend = KerasBackend(path, precision="float32")
    assert backend.generator.dtype_policy.name == "float32"
    np.testing.assert_allclose(backend(*order), generator(windows).numpy(), atol=1e-5)


def test_a_savedmodel_is_computed_in_bfloat16_during_its_calls_only(tmp_path):
    from keras_s2v.dubbing.backends import SavedModelBackend
    from keras_s2v.export.savedmodel import write_savedmodel

    generator, windows, order = _tiny_generator_and_windows()
    path = str(tmp_path / "savedmodel")
    write_savedmodel(generator, path)

    in_float32 = SavedModelBackend(path, precision="float32")(*order)
    np.testing.assert_allclose(in_float32, generator(windows).numpy(), atol=1e-5)
    in_bfloat16 = SavedModelBackend(path, precision="bfloat16")(*order)
    assert not tf.config.optimizer.get_experimental_options().get(ONEDNN_BFLOAT16)
    assert psnr(in_float32, in_bfloat16) > 35.0
    if cpu_flags() & BFLOAT16_CPU_FLAGS:  # elsewhere TensorFlow may leave the graph as it is
        assert not np.array_equal(in_bfloat16, in_float32)
    np.testing.assert_array_equal(SavedModelBackend(path, precision="float32")(*order), in_float32)


def test_train_syncnet_computes_in_the_precision_asked_for(tiny_shards):
    from keras_s2v.training.recipe import SyncNetRecipe
    from keras_s2v.training.syncnet_fit import train_syncnet

    model, history = train_syncnet(
        *tiny_shards, SyncNetRecipe("tiny", steps=2, batch_size=8), verbose=False, precision="bfloat16"
    )
    assert policies(model) == {"mixed_bfloat16"} and np.isfinite(history.history["loss"]).all()


def test_tuning_trials_compute_in_the_precision_asked_for():
    import keras_tuner

    from keras_s2v.models import build_syncnet
    from keras_s2v.training.recipe import get_recipe
    from keras_s2v.training.tuning import Speech2VidHyperModel

    for policy in ("mixed_bfloat16", "float32"):
        hypermodel = Speech2VidHyperModel(build_syncnet("tiny"), get_recipe("smoke"), 0, presets=("tiny",), policy=policy)
        assert policies(hypermodel.build(keras_tuner.HyperParameters()).generator) == {policy}
