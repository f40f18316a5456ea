"""The public surface, pinned: a name added or removed here is an API change."""

import importlib
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import speech_like, write_audio

PUBLIC = {
    "keras_s2v": [
        "AudioTooShortError",
        "DubSummary",
        "FileError",
        "MediaError",
        "ModelError",
        "NoFaceError",
        "S2VError",
        "TrainingError",
        "__version__",
        "data",
        "dub",
        "evaluation",
        "export",
        "load_model",
        "models",
        "register_layers",
        "save_model",
        "score",
        "serving_client",
        "training",
    ],
    "keras_s2v.data": [
        "encode_clip",
        "find_videos",
        "generator_dataset",
        "parse_clip",
        "preprocess",
        "preprocess_video",
        "process_clip",
        "read_manifest",
        "shard_files",
        "syncnet_dataset",
    ],
    "keras_s2v.models": [
        "QUALITY_DISCRIMINATOR_PRESETS",
        "ReferenceConditioning",
        "SPEECH2VID_PRESETS",
        "SYNCNET_PRESETS",
        "SyncProbability",
        "build_quality_discriminator",
        "build_speech2vid",
        "build_syncnet",
        "check_generator",
        "conditioning_of",
        "embedding_models",
        "GeneratorParts",
        "generator_parts",
    ],
    "keras_s2v.training": [
        "FrameGrid",
        "GeneratorCheckpoint",
        "GeneratorPhase",
        "NaNGuard",
        "ProgressLog",
        "Recipe",
        "Speech2VidTrainer",
        "SyncNetRecipe",
        "SyncWeightWarmup",
        "build_trainer",
        "check_compatible",
        "compile_syncnet",
        "generator_callbacks",
        "generator_datasets",
        "get_recipe",
        "get_strategy",
        "read_hparams",
        "recalibrate_batchnorm",
        "recipes",
        "resolve_recipe",
        "sync_accuracy",
        "train_generator",
        "train_recipe_generator",
        "train_syncnet",
        "tune",
    ],
    "keras_s2v.export": [
        "SIGNATURES",
        "TFLITE_VARIANTS",
        "TFLiteModel",
        "convert_tflite",
        "export",
        "latest_version",
        "serving_functions",
        "serving_layout",
        "write_savedmodel",
    ],
    "keras_s2v.evaluation": [
        "KINDS",
        "OFFSETS",
        "clip_embeddings",
        "evaluate",
        "format_score",
        "format_scores",
        "masked_psnr",
        "offset_distances",
        "pasted_psnr",
        "region_psnr",
        "score",
        "sync_loss",
        "sync_scores",
    ],
    "keras_s2v.serving_client": [
        "MODEL_NAME",
        "decode_grpc_reply",
        "decode_rest_reply",
        "grpc_request",
        "predict_grpc",
        "predict_rest",
        "rest_request",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_are_listed_and_resolve(module_name):
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def _run(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_importing_the_package_and_building_the_cli_does_not_import_tensorflow():
    result = _run("""
        import sys
        import keras_s2v, keras_s2v.cli
        keras_s2v.cli.build_parser()  # the training commands' options come from the recipes
        print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args, message",
    [
        (["probe", "missing.mp4"], "missing.mp4: no such file"),
        (["probe", "speech.wav"], None),
        (["preprocess", "--videos", "missing", "--out", "shards"], "missing: no such folder"),
        (["train", "--data", "missing", "--syncnet", "e.keras", "--out", "g.keras"], "missing: no readable manifest.json"),
        (["train-syncnet", "--data", "missing", "--out", "e.keras"], "missing: no readable manifest.json"),
        (
            ["dub", "--face", "missing.mp4", "--audio", "speech.wav", "--model", "m.keras", "--out", "o.mp4"],
            "missing.mp4: no such",
        ),
        (["dub", "--face", "speech.wav", "--audio", "speech.wav", "--model", "missing.keras", "--out", "o.mp4"], "missing.keras"),
        (
            ["dub", "--face", "speech.wav", "--audio", "speech.wav", "--model", "speech.wav", "--out", "no/o.mp4"],
            "does not exist",
        ),
        (["train", "--data", "shards", "--syncnet", "missing.keras", "--out", "g.keras"], "missing.keras: no such"),
        (["train", "--data", "shards", "--syncnet", "speech.wav", "--out", "no/g.keras"], "does not exist"),
        (["train", "--data", "shards", "--syncnet", "speech.wav", "--out", "interrupted.keras"], "pass --resume"),
        (["train-mouth", "--out", "no/m.keras"], "does not exist"),
        (["tune", "--data", "shards", "--syncnet", "missing.keras", "--out", "trials"], "missing.keras: no such"),
        (
            ["evaluate", "--data", "shards", "--generator", "missing.keras", "--evaluator", "e.keras", "--out", "report"],
            "missing.keras: no such",
        ),
        (
            ["evaluate", "--data", "missing", "--generator", "speech.wav", "--evaluator", "e.keras", "--out", "report"],
            "missing: no such folder",
        ),
        (["score", "missing.mp4", "--evaluator", "e.keras"], "missing.mp4: no such file"),
        (["export", "--generator", "missing.keras"], "missing.keras: no such"),
    ],
    ids=[
        "probe-missing",
        "probe-audio",
        "preprocess-missing",
        "train-missing",
        "train-syncnet-missing",
        "dub-missing-face",
        "dub-missing-model",
        "dub-missing-folder",
        "train-missing-syncnet",
        "train-missing-folder",
        "train-interrupted",
        "train-mouth-missing-folder",
        "tune-missing-syncnet",
        "evaluate-missing-generator",
        "evaluate-missing-data",
        "score-missing-video",
        "export-missing-generator",
    ],
)
def test_reading_media_and_refusing_a_mistyped_path_need_no_tensorflow(tmp_path, args, message):
    """TensorFlow takes seconds to import: describing a file, and a path that is not there, answer at once."""
    write_audio(tmp_path / "speech.wav", speech_like(1.0))
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "manifest.json").write_text("{}")  # read as a manifest made with today's geometry
    (tmp_path / "interrupted.run" / "backup").mkdir(parents=True)  # a run killed before it finished
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from keras_s2v.cli import main; code = main(sys.argv[1:]); print(code, 'tensorflow' in sys.modules)",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == f"{0 if message is None else 2} False", result.stdout + result.stderr
    if message is not None:
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    else:
        assert "duration_s" in result.stdout


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """A SyncNet (custom SyncProbability layer), a generator (ReferenceConditioning) and a model around the MFCC layer, as .keras."""
    import keras

    from keras_s2v.media.mfcc_layer import MFCC
    from keras_s2v.models import build_speech2vid, build_syncnet

    folder = tmp_path_factory.mktemp("saved")
    build_syncnet("tiny").save(folder / "expert.keras")
    build_speech2vid("tiny").save(folder / "generator.keras")
    keras.Sequential([keras.Input((3440,)), MFCC()]).save(folder / "mfcc.keras")
    return folder


@pytest.mark.parametrize("first", ["import tensorflow", "from keras_s2v.data import generator_dataset", "pass"])
def test_import_keras_s2v_lets_keras_load_every_saved_model(saved_models, first):
    """Whatever is imported first, plain keras.saving.load_model opens keras-s2v's files after `register_layers()`."""
    loaded = _run(f"""
        {first}
        import keras_s2v
        import keras
        keras_s2v.register_layers()
        for name in ("expert", "generator", "mfcc"):
            model = keras.saving.load_model({str(saved_models)!r} + "/" + name + ".keras", safe_mode=True)
            print(name, type(model).__name__)
    """)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.split() == ["expert", "Functional", "generator", "Functional", "mfcc", "Sequential"]
