"""`s2v live`: a speech file streamed through the live dub in real time, written as a viewer saw it."""

import re

import cv2
import numpy as np
import pytest

from keras_s2v import cli
from keras_s2v.media import video
from keras_s2v.media.photos import real_photos
from keras_s2v.models import build_speech2vid
from keras_s2v.saving import save_model
from tests.helpers import speech_like, write_audio


def _s2v(capfd, *args):
    """`s2v ARGS` in this process (TensorFlow is loaded once): (exit code, stdout, stderr)."""
    code = cli.main([str(arg) for arg in args])
    out, err = capfd.readouterr()
    return code, out, err


def test_s2v_live_writes_every_frame_with_the_speech_and_the_latency_in_its_summary(tmp_path, capfd):
    photo = cv2.resize(real_photos()["grace_hopper"], (160, 192), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "face.png"), photo[..., ::-1])
    cv2.imwrite(str(tmp_path / "wall.png"), np.full((120, 160, 3), 90, np.uint8))
    write_audio(tmp_path / "speech.wav", speech_like(1.0))
    save_model(build_speech2vid("tiny"), str(tmp_path / "generator.keras"))

    with pytest.raises(SystemExit) as done:
        cli.main(["live", "--help"])
    out = capfd.readouterr().out
    assert done.value.code == 0 and "--chunk-ms" in out and "95th percentile" in " ".join(out.split())

    model, face, speech = tmp_path / "generator.keras", tmp_path / "face.png", tmp_path / "speech.wav"
    code, out, err = _s2v(capfd, "live", "--face", face, "--audio", speech, "--model", model, "--out", tmp_path / "live.mp4")
    assert code == 0, err
    summary = out.splitlines()[0]
    found = re.match(r"25 frames, latency p50 (\d+) ms, p95 (\d+) ms, max \d+ ms; (\d+) frames on the cheaper path", summary)
    assert found and 0 < int(found[1]) <= int(found[2]), summary
    assert re.search(r"frames/s sustained over 1\.0 s, drift [-+]\d+\.\d\d frames, with the keras backend$", summary), summary
    assert "lookahead 115 ms at window step 1" in out
    written = str(tmp_path / "live.mp4")
    info = video.probe(written)
    assert info.has_audio and abs(info.duration - 1.0) < 0.1 and video.read_frames(written).shape[0] == 25

    # No face: one line, exit code 2, and no output file, not even a partial one.
    code, out, err = _s2v(
        capfd, "live", "--face", tmp_path / "wall.png", "--audio", speech, "--model", model, "--out", tmp_path / "bad.mp4"
    )
    assert (
        code == 2 and err.strip().startswith("s2v: error: ") and "no face found" in err and len(err.strip().splitlines()) == 1
    ), err
    assert sorted(path.name for path in tmp_path.iterdir() if path.suffix == ".mp4") == ["live.mp4"]
