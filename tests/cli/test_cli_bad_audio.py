"""Bad speech through the commands: each class is one line and exit code 2 (silence: a video), no file left."""

import fractions

import av
import numpy as np
import pytest

from keras_s2v import cli
from keras_s2v.lab import synth
from keras_s2v.media import video
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.saving import save_model
from keras_s2v.speech import formant
from tests.helpers import s2v, speech_like, write_raw_wav
from tests.media.test_bad_audio import BAD_AUDIO, expected_message


def _dub_args(inputs, speech):
    """`s2v dub`'s arguments for the test face and generator with `speech`, but --out."""
    return ["dub", "--face", inputs / "face.mp4", "--audio", speech, "--model", inputs / "generator.keras"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 1 s synthetic face clip, a tiny generator and a tiny SyncNet."""
    root = tmp_path_factory.mktemp("bad_audio")
    speaker = synth.sample_speaker(0, "test", seed=5)
    synth.write_clip(root / "face.mp4", speaker, formant.random_script(np.random.default_rng(0), 1.0), seed=1)
    save_model(build_speech2vid("tiny"), str(root / "generator.keras"))
    save_model(build_syncnet("tiny"), str(root / "syncnet.keras"))
    return root


def _run(capfd, *args):
    code = cli.main([str(arg) for arg in args])
    return code, capfd.readouterr().err


@pytest.mark.parametrize("name, write, error, message", BAD_AUDIO, ids=[case[0] for case in BAD_AUDIO])
def test_dub_refuses_each_class_of_bad_audio_with_one_line_and_writes_nothing(
    inputs, tmp_path, capfd, name, write, error, message
):
    speech = write(tmp_path / f"{name}.wav")
    out = tmp_path / "out"
    out.mkdir()
    code, err = _run(
        capfd,
        *_dub_args(inputs, speech),
        "--out",
        out / "dubbed.mp4",
    )
    message = expected_message(message, speech)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"s2v: error: {speech}: {message}"), err
    assert list(out.iterdir()) == []


def test_dub_of_a_nan_wav_in_a_fresh_process_is_exit_2_without_a_traceback(inputs, tmp_path):
    speech = BAD_AUDIO[0][1](tmp_path / "nan.wav")
    result = s2v(
        *_dub_args(inputs, speech),
        "--out",
        tmp_path / "x.mp4",
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"s2v: error: {speech}: {BAD_AUDIO[0][3]}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["nan.wav"]


def test_silence_is_dubbed_into_a_video_as_long_as_the_silence(inputs, tmp_path, capfd):
    speech = write_raw_wav(tmp_path / "silence.wav", np.zeros(24000, np.float32))
    code, err = _run(
        capfd,
        *_dub_args(inputs, speech),
        "--out",
        tmp_path / "dubbed.mp4",
    )
    assert code == 0, err
    info = video.probe(str(tmp_path / "dubbed.mp4"))
    assert abs(info.duration - 1.5) < 0.05 and info.has_audio


def test_score_refuses_bad_audio_with_one_line(inputs, tmp_path, capfd):
    speech = BAD_AUDIO[4][1](tmp_path / "rate.wav")  # a 1 Hz header
    code, err = _run(
        capfd,
        "score",
        inputs / "face.mp4",
        "--evaluator",
        inputs / "syncnet.keras",
        "--audio",
        speech,
        "--face-detector",
        "haar",
    )
    assert code == 2 and err == f"s2v: error: {speech}: {BAD_AUDIO[4][3]}\n", err


def _video_with_float_audio(path, samples):
    """A Matroska clip whose sound is raw float PCM, so it can carry NaN, as no AAC track can."""
    with av.open(str(path), "w") as container:
        picture = container.add_stream("libx264", rate=25)
        picture.width, picture.height, picture.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream("pcm_f32le", rate=16000)
        sound.layout = "mono"
        for index in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 100, np.uint8), format="rgb24")
            frame.pts, frame.time_base = index, fractions.Fraction(1, 25)
            container.mux(picture.encode(frame))
        container.mux(picture.encode(None))
        chunk = av.AudioFrame.from_ndarray(samples[None], format="flt", layout="mono")
        chunk.sample_rate, chunk.pts = 16000, 0
        container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    return path


def test_preprocess_refuses_a_clip_with_nan_in_its_sound_with_the_same_line(tmp_path, capfd):
    # One bad clip does not stop a corpus: preprocess names it with the front-end's line, goes on, and exits 2.
    videos = tmp_path / "videos" / "train"
    videos.mkdir(parents=True)
    samples = speech_like(1.0)
    samples[10:12] = np.nan
    _video_with_float_audio(videos / "nan.mkv", samples)
    code = cli.main(
        ["preprocess", "--videos", str(tmp_path / "videos"), "--out", str(tmp_path / "shards"), "--face-detector", "haar"]
    )
    out, err = capfd.readouterr()
    assert code == 2, err
    assert err.splitlines()[-1] == "s2v: error: 1 of 1 videos refused (listed above); --allow-skips accepts that", err
    assert "skipped train/nan.mkv: the audio holds 2 samples that are not finite numbers (NaN or infinity)" in out, out
    assert "0 clips preprocessed, 1 skipped" in out


def test_evaluate_refuses_a_shard_whose_speech_is_not_finite_with_one_line(inputs, tmp_path, capfd):
    # evaluate reads speech as the MFCC that preprocess stored: a damaged shard is refused by its reader.
    import tensorflow as tf

    from keras_s2v.data.records import encode_clip

    folder = tmp_path / "shards" / "shards" / "test"
    folder.mkdir(parents=True)
    mfcc = np.full((12, 40), np.nan, np.float32)
    for name in ("a", "b"):
        with tf.io.TFRecordWriter(str(folder / f"{name}.tfrecord")) as writer:
            writer.write(encode_clip(name, "test", np.zeros((10, 112, 112, 3), np.uint8), np.ones(10, bool), mfcc))
    args = ["evaluate", "--data", tmp_path / "shards", "--generator", inputs / "generator.keras"]
    code, err = _run(capfd, *args, "--evaluator", inputs / "syncnet.keras", "--out", tmp_path / "evaluation")
    assert code == 2 and err == f"s2v: error: {folder / 'a.tfrecord'}: clip 'a' has an MFCC map that is not finite\n", err
    assert not (tmp_path / "evaluation").exists()
