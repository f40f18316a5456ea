import os
import re

import cv2
import numpy as np
import pytest

import keras_s2v
from keras_s2v.export import export
from keras_s2v.lab import synth
from keras_s2v.media import video
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.saving import save_model
from keras_s2v.speech import formant
from keras_s2v.windows import unstack_frames, window_plan
from tests.helpers import make_video, s2v, speech_like, write_audio


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 2 s synthetic face clip, 3 s of other speech, a still face, a tiny generator in three formats."""
    root = tmp_path_factory.mktemp("dub")
    speaker = synth.sample_speaker(0, "test", seed=5)
    rng = np.random.default_rng(0)
    synth.write_clip(root / "face.mp4", speaker, formant.random_script(rng, 2.0), seed=1)
    write_audio(root / "speech.wav", speech_like(3.0, sr=22050), sr=22050, channels=2)
    image, _ = synth.draw_face((240, 320), (160, 120), synth.Look(radius=70))
    cv2.imwrite(str(root / "still.png"), image[:, :, ::-1])
    generator = str(root / "generator.keras")
    save_model(build_speech2vid("tiny"), generator)
    report = export(
        keras_s2v.saving.load_model(generator, "generator"), str(root / "speech2vid"), variants=("fp32",), progress=False
    )
    return root, generator, report


def _duration_and_size(path):
    info = video.probe(path)
    return info.duration, (info.width, info.height), info.has_audio


def test_dub_a_video_with_longer_audio_from_another_file(inputs, tmp_path):
    root, generator, _ = inputs
    out = tmp_path / "dubbed.mp4"
    summary = keras_s2v.dub(str(root / "face.mp4"), str(root / "speech.wav"), generator, str(out), progress=False)
    duration, size, has_audio = _duration_and_size(out)
    assert abs(duration - 3.0) <= 1 / 25 + 0.03 and summary.frames == 75
    assert size == (256, 192) and has_audio
    assert summary.faces_found > 0.8 * summary.frames
    assert set(summary.timings) == {"setup", "decode", "face detection", "features", "generation", "blending", "encoding"}
    assert [name for name in os.listdir(tmp_path)] == ["dubbed.mp4"]


def test_dub_a_still_image_with_each_backend_and_shorter_audio(inputs, tmp_path):
    root, generator, report = inputs
    models = {
        "keras": generator,
        "savedmodel": str(root / "speech2vid"),
        "tflite": os.path.join(report["path"], "tflite", "serving_default_fp32.tflite"),
    }
    frames = {}
    for name, model in models.items():
        out = tmp_path / f"{name}.mp4"
        result = s2v("dub", "--face", root / "still.png", "--audio", root / "face.mp4", "--model", model, "--out", out)
        assert result.returncode == 0, result.stderr
        found = re.search(r"(\d+) frames, face found in (\d+) ", result.stdout)
        assert (
            f"with the {name} backend" in result.stdout and found[1] == found[2] and int(found[1]) in (50, 51)
        )  # AAC pads a little
        duration, size, _ = _duration_and_size(out)
        assert abs(duration - 2.0) <= 1 / 25 + 0.03 and size == (320, 240)
        frames[name] = video.read_frames(str(out)).astype(np.float32)
    # Same generator, three runtimes: the videos agree up to encoding noise.
    assert np.abs(frames["keras"] - frames["tflite"]).mean() < 2.0
    assert np.abs(frames["keras"] - frames["savedmodel"]).mean() < 2.0


class _RecordingBackend:
    """Wraps a backend and keeps the source-frame index written into each crop of its identity and reference inputs."""

    def __init__(self, backend):
        self.backend, self.name, self.pairs = backend, backend.name, []

    def __call__(self, mfcc, identity, reference):
        def indices(windows):  # (B, 112, 112, 15) -> (B * 5,) indices; -1 where there was no face
            values = np.round(windows.reshape(*windows.shape[:3], 5, 3).mean(axis=(1, 2, 4)) * 255).astype(int) - 100
            return np.where(values < 0, -1, values).ravel()

        self.pairs += list(zip(indices(identity), indices(reference)))
        return self.backend(mfcc, identity, reference)


@pytest.mark.parametrize("face", ["face.mp4", "still.png"])
def test_each_frames_reference_is_5_or_more_frames_away_in_the_source_or_a_still_itself(inputs, tmp_path, monkeypatch, face):
    from keras_s2v.dubbing import engine as dubbing

    root, generator, _ = inputs
    find_face, load_backend = dubbing.find_face, dubbing.load_backend

    def marked(indexed_frame, tracker):  # each crop carries its source frame's index
        frame, found, crop, alignment, index = find_face(indexed_frame, tracker)
        return frame, found, (crop if found is None else np.full_like(crop, 100 + index)), alignment, index

    recorder = _RecordingBackend(load_backend(generator))
    monkeypatch.setattr(dubbing, "find_face", marked)
    monkeypatch.setattr(dubbing, "load_backend", lambda path, precision="auto": recorder)
    # 3 s of speech over a 2 s video: it plays forward, then back, so frames come round again.
    keras_s2v.dub(str(root / face), str(root / "speech.wav"), generator, str(tmp_path / "out.mp4"), progress=False)
    pairs = [(target, reference) for target, reference in recorder.pairs if target >= 0]
    assert len(pairs) > 60
    if face == "still.png":
        assert all(reference == target == 0 for target, reference in pairs)
    else:
        gaps = [abs(reference - target) for target, reference in pairs if reference >= 0]
        assert len(gaps) == len(pairs) and min(gaps) >= 5
        assert np.mean(np.array(gaps) == 10) > 0.8  # REFERENCE_GAP where the video allows it


def test_frames_without_a_face_pass_through_unchanged(inputs, tmp_path):
    root, generator, _ = inputs
    face = video.read_frames(str(root / "face.mp4"))[:30]
    blank = np.full((20, *face.shape[1:]), 40, np.uint8)
    path = tmp_path / "half.mp4"
    video.write_video(str(path), np.concatenate([face, blank]), audio=speech_like(2.0))
    summary = keras_s2v.dub(str(path), str(path), generator, str(tmp_path / "out.mp4"), progress=False)
    assert summary.frames in (50, 51) and summary.faces_found <= 30 + 6  # the tracker holds a lost face for up to 6 frames
    out = video.read_frames(str(tmp_path / "out.mp4"))
    assert np.abs(out[-15:].astype(float) - 40).max() < 6  # untouched, up to H.264 noise


@pytest.mark.parametrize("case", ["no face", "no face in a video", "no samples", "not a generator", "missing folder"])
def test_bad_input_is_a_one_line_error_and_leaves_no_file(inputs, tmp_path, case):
    root, generator, _ = inputs
    face, audio, model, out = root / "face.mp4", root / "speech.wav", generator, tmp_path / "out.mp4"
    if case == "no face":
        face = tmp_path / "wall.png"
        cv2.imwrite(str(face), np.full((200, 200, 3), 90, np.uint8))
    elif case == "no face in a video":
        face = make_video(tmp_path / "wall.mp4", num_frames=30, size=(120, 160))
    elif case == "no samples":
        audio = tmp_path / "empty.wav"
        write_audio(audio, np.zeros(0, np.float32))
    elif case == "not a generator":
        model = tmp_path / "syncnet.keras"
        save_model(build_syncnet("tiny"), str(model))
    else:
        out = tmp_path / "missing" / "out.mp4"
    result = s2v("dub", "--face", face, "--audio", audio, "--model", model, "--out", out)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("s2v: error:"), result.stderr
    expected = {
        "no face": "no face found",
        "no face in a video": "no face found",
        "no samples": "no samples",
        "not a generator": "not a Speech2Vid generator",
        "missing folder": "does not exist",
    }[case]
    assert expected in lines[0]
    assert os.listdir(tmp_path) in ([], ["wall.png"], ["wall.mp4"], ["empty.wav"], ["syncnet.keras"])


def _status_mb(field):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":")) / 1024


def _moving_face_clip(path, seconds, size=(360, 640)):
    """A face drifting across a larger frame, written one frame at a time (never held whole)."""
    look = synth.Look(radius=60)
    count = int(seconds * 25)
    with video.VideoWriter(path, size[1], size[0], audio=speech_like(seconds)) as writer:
        for index in range(count):
            center = (320 + 150 * np.sin(index / 40), 180 + 40 * np.sin(index / 25))
            image, _ = synth.draw_face(size, center, look, mouth_open=0.5 + 0.5 * np.sin(index / 3))
            writer.write(image)
    return count


def test_dub_streams_a_clip_larger_than_its_memory_budget(inputs, tmp_path):
    """The decoded clip is 518 MB; dubbing it may grow the process by at most a third of that."""
    _, generator, _ = inputs
    clip = tmp_path / "long.mp4"
    count = _moving_face_clip(clip, 30.0)
    raw_mb = count * 360 * 640 * 3 / 2**20
    # Warm up: TensorFlow's first call, the face detector and the codecs allocate once.
    write_audio(tmp_path / "short.wav", speech_like(1.0))
    keras_s2v.dub(str(clip), str(tmp_path / "short.wav"), generator, str(tmp_path / "warm.mp4"), progress=False)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM, the peak resident size, to the current size
    before = _status_mb("VmRSS")
    summary = keras_s2v.dub(str(clip), str(clip), generator, str(tmp_path / "out.mp4"), progress=False)
    growth = _status_mb("VmHWM") - before
    assert summary.frames == count and summary.faces_found > 0.95 * count
    assert growth < raw_mb / 3, f"peak RSS grew by {growth:.0f} MB streaming {raw_mb:.0f} MB of frames"
    assert video.probe(str(tmp_path / "out.mp4")).num_frames == count


class _FailingBackend:
    """Wraps a backend and fails on its third call, as a crash or Ctrl-C in mid-run would."""

    def __init__(self, backend, error):
        self.backend, self.error, self.name, self.calls = backend, error, backend.name, 0

    def __call__(self, mfcc, identity, reference):
        self.calls += 1
        if self.calls == 3:
            raise self.error("interrupted")
        return self.backend(mfcc, identity, reference)


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_a_failure_in_mid_run_stops_every_stage_and_leaves_no_file(inputs, tmp_path, monkeypatch, error):
    import threading

    from keras_s2v.dubbing import engine as dubbing

    root, generator, _ = inputs
    real = dubbing.load_backend
    monkeypatch.setattr(dubbing, "load_backend", lambda path, precision="auto": _FailingBackend(real(path), error))
    threads = threading.active_count()
    with pytest.raises(error, match="interrupted"):
        keras_s2v.dub(
            str(root / "face.mp4"), str(root / "speech.wav"), generator, str(tmp_path / "out.mp4"), batch_size=1, progress=False
        )
    assert os.listdir(tmp_path) == []
    assert threading.active_count() == threads


@pytest.mark.parametrize("step", [1, 5])
def test_mfcc_in_chunks_equals_the_mfcc_of_the_whole_audio(step):
    from keras_s2v.dubbing.engine import _windows_mfcc
    from keras_s2v.media.audio import mfcc, mfcc_windows

    waveform = speech_like(7.3)
    starts = window_plan(183, step)[0]
    whole = _windows_mfcc(waveform, starts, chunk=1000)
    assert whole.shape == (len(starts), 12, 20, 1) and len(starts) == {5: 37, 1: 183}[step]
    np.testing.assert_allclose(_windows_mfcc(waveform, starts, chunk=7), whole, atol=1e-5)
    # The last windows reach past the audio's end: silence, as the MFCC of the padded audio says.
    padded = np.pad(waveform, (0, 640 * int(starts[-1]) + 3440 - len(waveform)))
    np.testing.assert_allclose(whole, mfcc_windows(mfcc(padded), starts), atol=1e-4)


@pytest.mark.parametrize("count", [3, 12, 23])
@pytest.mark.parametrize("step", [1, 3, 5])
def test_each_output_frame_is_generated_by_its_planned_window_at_its_place(count, step):
    from keras_s2v.dubbing.engine import _batch_windows

    # Crop t is filled with t + 1 and its reference with 200 + t; a generator that returns its
    # identity input gives each frame its own crop back only if the window and the pick are right.
    pairs = [
        ((None, None, np.full((112, 112, 3), index + 1, np.uint8), None, index), np.full((112, 112, 3), 200 + index, np.uint8))
        for index in range(count)
    ]
    plan = window_plan(count, step)
    mfcc = np.arange(len(plan[0]), dtype=np.float32)[:, None, None, None] * np.ones((1, 12, 20, 1), np.float32)
    given = []
    for batch in _batch_windows(iter(pairs), mfcc, plan, batch_size=2):
        assert len(batch.mfcc) == len(batch.identity) == len(batch.reference) <= 2
        windows = np.round(batch.identity[:, 0, 0, ::3] * 255).astype(int) - 1  # (W, 5) crop index of each frame
        starts = plan[0][batch.mfcc[:, 0, 0, 0].astype(int)]
        expected = np.minimum(starts[:, None] + np.arange(5), count - 1)  # filled up with the last frame
        assert (windows == expected).all()
        assert (np.round(batch.reference[:, 0, 0, ::3] * 255).astype(int) - 200 == expected).all()
        generated = unstack_frames(batch.identity).numpy()[batch.picks]
        given += [(item[4], int(round(crop[0, 0, 0] * 255)) - 1) for item, crop in zip(batch.frames, generated)]
    assert given == [(index, index) for index in range(count)]


def test_a_stream_that_ends_before_the_plan_gives_the_frames_it_had():
    from keras_s2v.dubbing.engine import _batch_windows

    pairs = [
        ((None, None, np.full((112, 112, 3), index, np.uint8), None, index), np.zeros((112, 112, 3), np.uint8))
        for index in range(9)
    ]
    plan = window_plan(12, 1)
    batches = list(_batch_windows(iter(pairs), np.zeros((12, 12, 20, 1), np.float32), plan, batch_size=4))
    assert [item[4] for batch in batches for item in batch.frames] == list(range(9))


def test_exports_of_old_generators_are_refused_with_one_line():
    from keras_s2v.dubbing.backends import check_inputs
    from keras_s2v.errors import ModelError

    with pytest.raises(ModelError, match="old format.*no reference window"):
        check_inputs("old/1", ["identity", "mfcc"])  # serving_default of a SavedModel or .tflite made before the reference
    with pytest.raises(ModelError, match="expected \\['identity', 'mfcc', 'reference'\\]"):
        check_inputs("other.tflite", ["audio", "identity", "reference"])
    check_inputs("new/1", ["identity", "mfcc", "reference"])


def test_a_dub_keeps_the_photo_above_the_upper_lip_unless_told_to_paste_the_whole_lower_face(inputs, tmp_path, monkeypatch):
    from keras_s2v import cli, faces
    from keras_s2v.dubbing.engine import dub
    from keras_s2v.media.photos import real_photos

    _, generator, _ = inputs
    photo = real_photos()["astronaut"][20:236, 110:340]  # the face, 106 px
    cv2.imwrite(str(tmp_path / "photo.png"), photo[:, :, ::-1])
    write_audio(tmp_path / "speech.wav", speech_like(1.0))
    dub(tmp_path / "photo.png", tmp_path / "speech.wav", generator, tmp_path / "kept.mp4", progress=False)
    points = faces.CNNDetector().detect(photo).landmarks
    mouth_width = np.linalg.norm(points[291] - points[61])
    x, y = np.round(points[0] + 0.3 * mouth_width * (points[2] - points[0]) / np.linalg.norm(points[2] - points[0])).astype(int)
    philtrum = (slice(None), slice(y - 2, y + 3), slice(x - 3, x + 4))
    # Between the nose and the upper lip the dub is the photo, up to the codec.
    assert np.abs(video.read_frames(tmp_path / "kept.mp4")[philtrum].astype(int) - photo[philtrum[1:]]).mean() < 6
    # How much of a tiny generator's paint the paste keeps there depends on the paint; what the
    # flag must do is reach the paste (the mask itself: tests/test_faces.py).
    paste, asked = faces.paste_face, []
    monkeypatch.setattr(
        faces, "paste_face", lambda *args, **kwargs: asked.append(kwargs["keep_above_lips"]) or paste(*args, **kwargs)
    )
    cli.main(
        [
            "dub",
            "--face",
            str(tmp_path / "photo.png"),
            "--audio",
            str(tmp_path / "speech.wav"),
            "--model",
            generator,
            "--out",
            str(tmp_path / "whole.mp4"),
            "--whole-lower-face",
        ]
    )
    assert asked and not any(asked)
