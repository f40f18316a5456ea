import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from keras_s2v.lab.synth.animation import draw_face
from keras_s2v.lab.synth.look import Look
from tests.helpers import make_video, s2v, write_audio


def test_help_lists_the_commands():
    result = s2v("--help")
    assert result.returncode == 0
    assert "info" in result.stdout and "probe" in result.stdout


def test_info_lists_presets_with_parameter_counts():
    result = s2v("info")
    assert result.returncode == 0, result.stderr
    assert "35,484,337" in next(line for line in result.stdout.splitlines() if line.strip().startswith("seed"))
    discriminators = result.stdout.split("quality discriminator presets")[1].splitlines()
    assert any(line.split()[:1] == ["small"] and "parameters" in line for line in discriminators)
    assert "tensorflow" in result.stdout
    assert result.stderr == ""  # no TensorFlow start-up logs


def test_probe_describes_a_face_image(tmp_path):
    image, _ = draw_face((256, 256), (128, 128), Look(radius=60))
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), image[:, :, ::-1])
    result = s2v("probe", path)
    assert result.returncode == 0, result.stderr
    assert "image" in result.stdout and "1 of 1 frames searched" in result.stdout


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mp4", "missing.mp4: no such file"),
        (lambda d: (d / "junk.mp4").write_bytes(b"junk" * 99) and d / "junk.mp4", "junk.mp4: not a video or image file"),
        (
            lambda d: cv2.imwrite(str(d / "blank.png"), np.zeros((99, 99, 3), np.uint8)) and d / "blank.png",
            "blank.png: no face found",
        ),
        (lambda d: make_video(d / "noface.mp4", num_frames=10), "noface.mp4: no face found"),
        (lambda d: write_audio(d / "short.wav", np.zeros(800, np.float32)), "short.wav: audio is 0.050 s long"),
    ],
    ids=["missing", "not-media", "image-without-face", "video-without-face", "short-audio"],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, make, message):
    result = s2v("probe", make(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr and result.stderr.startswith("s2v: error: ")
    assert "Traceback" not in result.stderr


def test_synth_then_preprocess_from_the_command_line(tmp_path):
    result = s2v("synth", "--out", tmp_path / "videos", "--speakers", 3, "--seconds", 1, "--clips-per-speaker", 1)
    assert result.returncode == 0, result.stderr
    assert "wrote 3 clips" in result.stdout
    (tmp_path / "videos" / "train" / "corrupt.mp4").write_bytes(b"junk" * 50)
    result = s2v("preprocess", "--videos", tmp_path / "videos", "--out", tmp_path / "shards", "--face-detector", "sidecar")
    # The good clips are written, the bad one is named, and the exit code says that one was refused.
    assert result.returncode == 2, result.stderr
    assert "skipped train/corrupt.mp4: not a video or image file that can be decoded" in result.stdout
    assert "3 clips preprocessed, 1 skipped" in result.stdout
    # stderr also holds the progress bar; the error is its last line.
    assert result.stderr.splitlines()[-1] == "s2v: error: 1 of 4 videos refused (listed above); --allow-skips accepts that"
    assert len(json.loads((tmp_path / "shards" / "manifest.json").read_text())["clips"]) == 3
    again = s2v(
        "preprocess", "--videos", tmp_path / "videos", "--out", tmp_path / "shards", "--face-detector", "sidecar", "--allow-skips"
    )
    assert again.returncode == 0 and "error" not in again.stderr, again.stderr
    assert "3 clips preprocessed, 1 skipped" in again.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["synth", "--out", "x", "--speakers", "0"], "need speakers >= 1"),
        (["preprocess", "--videos", "no/such/dir", "--out", "x"], "no/such/dir: no such folder"),
        (["preprocess", "--videos", ".", "--out", "x", "--face-detector", "dlib"], "received 'dlib'"),
        (
            ["preprocess", "--videos", ".", "--out", "x", "--face-detector", "cascade:missing.xml"],
            "missing.xml: no such cascade file",
        ),
        (["probe", "x.png", "--face-detector", "dlib"], "received 'dlib'"),
    ],
    ids=["no-speakers", "missing-folder", "unknown-detector", "missing-cascade", "probe-unknown-detector"],
)
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "keras_s2v", *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # nothing half-made


def test_demo_runs_every_stage(tmp_path):
    result = s2v("demo", "--out", tmp_path / "demo", "--speakers", 3, "--quick", timeout=900)
    assert result.returncode == 0, result.stderr
    for stage in range(1, 10):
        assert f"[{stage}/9" in result.stdout
    assert "with their own mouths" in result.stdout
    for kind in ("generated", "identity frames unchanged", "static mouth", "real"):
        assert kind in result.stdout
    demo = tmp_path / "demo"
    assert json.load(open(demo / "shards" / "manifest.json"))["clips_per_split"] == {"train": 2, "val": 2, "test": 2}
    for path in (
        "expert.keras",
        "evaluator.keras",
        "generator.keras",
        "evaluation/report.json",
        "demo_report.json",
        "saved_models/speech2vid/1/saved_model.pb",
        "dubbed/dubbed_tflite.mp4",
        "dubbed/dubbed_savedmodel.mp4",
        "photos/photo_check.json",
        "photos/contact_sheet.png",
        "mouth_motion.keras",
        "photos_own_mouth/photo_check.json",
        "photos_own_mouth/contact_sheet.png",
    ):
        assert (demo / path).exists(), path

    # Every stage keeps what it finds, so a folder made with other settings is refused, not mixed in.
    other_seed = s2v("demo", "--out", demo, "--speakers", 3, "--quick", "--seed", 1)
    assert other_seed.returncode == 2 and len(other_seed.stderr.strip().splitlines()) == 1
    assert "holds a demo made with recipe smoke version 1, seed 0" in other_seed.stderr
    settings = json.load(open(demo / "demo_settings.json"))
    del settings["seconds"]  # as keras-s2v wrote it before the clips' length was recorded
    json.dump(settings, open(demo / "demo_settings.json", "w"))
    older = s2v("demo", "--out", demo, "--speakers", 3, "--quick")
    assert older.returncode == 2 and len(older.stderr.strip().splitlines()) == 1
    assert "3 speakers, scale quick, not recipe smoke version 1, seed 0, 3 speakers of 2.0 s clips" in older.stderr
    (demo / "demo_settings.json").unlink()
    unrecorded = s2v("demo", "--out", demo, "--speakers", 3, "--quick")
    assert unrecorded.returncode == 2 and "holds a demo made by an earlier keras-s2v" in unrecorded.stderr


def test_demo_warns_when_a_syncnet_cannot_tell_sync_on_new_faces():
    from keras_s2v.lab.demo import SCALES, syncnet_warning

    threshold = SCALES["full"]["syncnet_warning_below"]
    assert syncnet_warning("expert", 0.82, threshold) is None
    expert, evaluator = syncnet_warning("expert", 0.603, threshold), syncnet_warning("evaluator", 0.637, threshold)
    assert "expert SyncNet" in expert and "60%" in expert and "generator it steers" in expert
    assert "evaluator SyncNet" in evaluator and "every sync score" in evaluator
    # The quick demo's SyncNets are a few steps of a tiny model: their accuracy means nothing.
    assert syncnet_warning("expert", 0.5, SCALES["quick"]["syncnet_warning_below"]) is None
