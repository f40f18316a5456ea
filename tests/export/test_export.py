import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_s2v.export import serving_functions
from keras_s2v.export.exporter import FIDELITY_TARGETS_DB, psnr, sample_inputs
from keras_s2v.export.savedmodel import serving_layout
from keras_s2v.export.tflite import TFLiteModel
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.models.speech2vid import build_core
from keras_s2v.saving import save_model
from keras_s2v.serving_client import decode_grpc_reply, decode_rest_reply, grpc_request, rest_request
from tests.helpers import s2v

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def exported(tiny_shards, tmp_path_factory):
    """A `tiny` generator exported with every TFLite variant, int8 calibrated on shards."""
    root = tmp_path_factory.mktemp("export")
    generator = build_speech2vid("tiny")
    path = str(root / "generator.keras")
    save_model(generator, path)
    result = s2v("export", "--generator", path, "--out", root / "speech2vid", "--calibration", tiny_shards[0], timeout=900)
    assert result.returncode == 0, result.stderr
    return generator, str(root / "speech2vid"), result


def _keras_frames(generator, inputs):
    return generator({name: tf.constant(inputs[name]) for name in ("mfcc", "identity", "reference")}).numpy()


def test_export_writes_the_tf_serving_layout_and_a_report(exported):
    _, base, result = exported
    chatter = [line for line in result.stderr.replace("\r", "\n").splitlines() if line.strip() and not line.startswith("export")]
    assert chatter == []  # only the progress bar: no TensorFlow or LiteRT logs
    assert sorted(os.listdir(base)) == ["1", "export_report.json"]
    report = json.load(open(os.path.join(base, "export_report.json")))
    kinds = {(f["kind"], f["signature"]) for f in report["files"]}
    assert kinds == {(k, s) for k in ("savedmodel", "fp32", "fp16", "int8") for s in ("serving_default", "from_audio")}
    for entry in report["files"]:
        assert entry["bytes"] > 0 and entry["latency_ms_batch1"] > 0
        target = FIDELITY_TARGETS_DB.get(entry["kind"], 60.0)
        assert entry["psnr_db_vs_keras"] >= target, entry
    assert "1/serving_default" in result.stdout or "SavedModel [serving_default]" in result.stdout


def test_saved_model_cli_shows_and_runs_both_signatures(exported, tmp_path):
    generator, base, _ = exported
    version = os.path.join(base, "1")
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", version, "--all"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    for name in ("serving_default", "from_audio"):
        assert f"signature_def['{name}']" in shown.stdout
    for text in (
        "inputs['mfcc']",
        "inputs['identity']",
        "inputs['reference']",
        "inputs['audio']",
        "outputs['frames']",
        "(-1, 3440)",
        "(-1, 112, 112, 15)",
    ):
        assert text in shown.stdout

    samples = sample_inputs(None, count=2)
    for signature, inputs in (("serving_default", samples["serving_default"][0]), ("from_audio", samples["from_audio"][0])):
        arguments = []
        for name, array in inputs.items():
            np.save(tmp_path / f"{name}.npy", array)
            arguments.append(f"{name}={tmp_path / name}.npy")
        outdir = tmp_path / signature
        run = subprocess.run(
            [
                SAVED_MODEL_CLI,
                "run",
                "--dir",
                version,
                "--tag_set",
                "serve",
                "--signature_def",
                signature,
                "--inputs",
                ";".join(arguments),
                "--outdir",
                str(outdir),
            ],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        expected = serving_functions(generator)[signature](**{k: tf.constant(v) for k, v in inputs.items()})["frames"]
        np.testing.assert_allclose(np.load(outdir / "frames.npy"), expected, atol=1e-5)
    np.testing.assert_allclose(
        np.load(tmp_path / "serving_default" / "frames.npy"), _keras_frames(generator, samples["serving_default"][0]), atol=1e-5
    )


def test_rest_and_grpc_requests_round_trip_through_the_signatures(exported):
    generator, base, _ = exported
    loaded = tf.saved_model.load(os.path.join(base, "1"))
    samples = sample_inputs(None, count=2)
    batch = {
        k: np.concatenate([samples["serving_default"][0][k], samples["serving_default"][1][k]])
        for k in ("mfcc", "identity", "reference")
    }
    audio_batch = {
        k: np.concatenate([samples["from_audio"][0][k], samples["from_audio"][1][k]]) for k in ("audio", "identity", "reference")
    }
    expected = _keras_frames(generator, batch)
    for signature, inputs in (("serving_default", batch), ("from_audio", audio_batch)):
        # REST: the JSON body a client sends, parsed as TF Serving parses it.
        body = json.loads(json.dumps(rest_request(inputs, signature)))
        assert body["signature_name"] == signature
        tensors = {k: tf.constant(np.array(v, np.float32)) for k, v in body["inputs"].items()}
        frames = loaded.signatures[signature](**tensors)["frames"].numpy()
        reply = json.loads(json.dumps({"outputs": frames.tolist()}))  # one output: TF Serving drops its name
        rest_frames = decode_rest_reply(reply)
        # gRPC: the PredictRequest proto, serialised and parsed back.
        request = type(grpc_request(inputs, signature)).FromString(grpc_request(inputs, signature).SerializeToString())
        assert request.model_spec.name == "speech2vid" and request.model_spec.signature_name == signature
        tensors = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        from tensorflow_serving.apis import predict_pb2

        response = predict_pb2.PredictResponse()
        response.outputs["frames"].CopyFrom(tf.make_tensor_proto(loaded.signatures[signature](**tensors)["frames"]))
        grpc_frames = decode_grpc_reply(response)
        assert rest_frames.shape == grpc_frames.shape == (2, 112, 112, 15)
        if signature == "serving_default":
            np.testing.assert_allclose(rest_frames, expected, atol=1e-5)
            np.testing.assert_allclose(grpc_frames, expected, atol=1e-5)
        else:
            reference = serving_functions(generator)["from_audio"](**{k: tf.constant(v) for k, v in inputs.items()})["frames"]
            np.testing.assert_allclose(grpc_frames, reference, atol=1e-5)
            np.testing.assert_allclose(rest_frames, reference, atol=1e-5)


def test_every_tflite_variant_runs_under_litert_within_its_fidelity_target(exported):
    generator, base, _ = exported
    samples = sample_inputs(None, count=3)
    functions = serving_functions(generator)
    files = sorted(os.listdir(os.path.join(base, "1", "tflite")))
    assert len(files) == 6
    for name in files:
        signature, variant = name[: -len(".tflite")].rsplit("_", 1)
        model = TFLiteModel(os.path.join(base, "1", "tflite", name))
        assert model.signature == signature and model.batch == 1  # a fixed batch keeps LiteRT on XNNPACK
        # int8 is full-integer: the convolutions compute on int8 activations, not only int8 weights.
        activation_types = {d["dtype"] for d in model.interpreter.get_tensor_details() if "conv" in d["name"].lower()}
        assert (np.int8 in activation_types) == (variant == "int8"), (name, activation_types)
        for inputs in samples[signature]:
            expected = functions[signature](**{k: tf.constant(v) for k, v in inputs.items()})["frames"].numpy()
            assert psnr(expected, model(**inputs)) >= FIDELITY_TARGETS_DB[variant], name
        batch = {k: np.concatenate([x[k] for x in samples[signature]]) for k in samples[signature][0]}
        np.testing.assert_array_equal(model(**batch), np.concatenate([model(**x) for x in samples[signature]]))


def test_int8_without_calibration_windows_is_refused(tmp_path):
    path = str(tmp_path / "generator.keras")
    save_model(build_speech2vid("tiny"), path)
    result = s2v("export", "--generator", path, "--out", tmp_path / "speech2vid", "--tflite", "int8")
    assert result.returncode == 2 and "--calibration" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "speech2vid").exists()


def test_serve_check_describes_a_good_layout_and_rejects_a_bad_one(exported, tmp_path):
    _, base, _ = exported
    result = s2v("serve-check", base)
    assert result.returncode == 0, result.stderr
    assert "versions [1]" in result.stdout and "1/from_audio: audio [None, 3440]" in result.stdout
    broken = tmp_path / "broken"
    (broken / "3").mkdir(parents=True)
    result = s2v("serve-check", broken)
    assert result.returncode == 2 and "no saved_model.pb" in result.stderr and "Traceback" not in result.stderr
    assert serving_layout(base)[1]["serving_default"][1] == {"frames": [None, 112, 112, 15]}


def test_wrong_shapes_name_the_expected_shape(exported):
    with pytest.raises(ValueError, match=r"'identity'.*\(batch, 112, 112, 15\)"):
        rest_request(
            {"mfcc": np.zeros((1, 12, 20, 1)), "identity": np.zeros((1, 96, 96, 15)), "reference": np.zeros((1, 112, 112, 15))}
        )
    with pytest.raises(ValueError, match=r"'audio'.*\(batch, 3440\)"):
        grpc_request(
            {"audio": np.zeros((1, 16000)), "identity": np.zeros((1, 112, 112, 15)), "reference": np.zeros((1, 112, 112, 15))},
            "from_audio",
        )
    loaded = tf.saved_model.load(os.path.join(exported[1], "1"))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"audio \[1,100\] is not compatible with expected shape \[\?,3440\]"
    ):
        loaded.signatures["from_audio"](
            audio=tf.zeros((1, 100)), identity=tf.zeros((1, 112, 112, 15)), reference=tf.zeros((1, 112, 112, 15))
        )


def test_bad_generators_and_existing_versions_are_refused_without_leftovers(exported, tmp_path):
    _, base, _ = exported
    syncnet = str(tmp_path / "syncnet.keras")
    save_model(build_syncnet("tiny"), syncnet)
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a model")
    old = str(tmp_path / "old.keras")  # saved before the reference: inputs mfcc and a masked identity
    save_model(build_core("tiny", name="speech2vid"), old)
    out = tmp_path / "speech2vid"
    for model, reason in (
        (syncnet, "not a Speech2Vid generator"),
        (garbage, "cannot be loaded"),
        (tmp_path / "none.keras", "no such file"),
        (old, "old format"),
    ):
        result = s2v("export", "--generator", model, "--out", out, "--tflite", "none")
        assert result.returncode == 2 and reason in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not out.exists() or os.listdir(out) == []
    copy = tmp_path / "copy"
    shutil.copytree(base, copy)
    before = sorted(os.listdir(copy / "1"))
    # Refused from the folder names, before the model is loaded: here it is not even one.
    result = s2v("export", "--generator", garbage, "--out", copy, "--version", 1, "--tflite", "none")
    assert result.returncode == 2 and "already exists" in result.stderr
    assert sorted(os.listdir(copy / "1")) == before and not [n for n in os.listdir(copy) if n.startswith(".partial")]


def test_the_dockerfile_serves_the_exported_layout():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = [line.strip() for line in open(os.path.join(root, "Dockerfile")) if line.strip() and not line.startswith("#")]
    base_image = next(line for line in lines if line.startswith("FROM"))
    assert base_image.startswith("FROM tensorflow/serving:") and base_image.split(":")[1][0].isdigit()
    assert "ENV MODEL_NAME=speech2vid" in lines and "COPY saved_models/speech2vid /models/speech2vid" in lines
    assert "EXPOSE 8500 8501" in lines
