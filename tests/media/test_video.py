import numpy as np
import pytest

from keras_s2v.errors import MediaError
from keras_s2v.media import video
from keras_s2v.media.audio import load_audio
from tests.helpers import frame_index, make_video, speech_like


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_constant_frame_rates_resample_to_25_by_timestamp(tmp_path, fps):
    path = make_video(tmp_path / f"clip{fps}.mp4", fps=fps, num_frames=fps)  # one second
    frames = video.read_frames(path)
    assert frames.shape[0] == 25
    # Output frame i shows the source frame on screen at i / 25 s.
    expected = [int(np.floor(i * fps / 25 + 1e-6)) for i in range(25)]
    assert [frame_index(frame) for frame in frames] == expected


def test_variable_frame_rate_follows_timestamps(tmp_path):
    times = [0.0, 0.01, 0.10, 0.11, 0.30, 0.31, 0.33, 0.50]  # irregular gaps
    path = make_video(tmp_path / "vfr.mp4", fps=25, num_frames=len(times), times=times)
    frames = video.read_frames(path)
    shown = [frame_index(frame) for frame in frames]
    for i, index in enumerate(shown):
        on_screen = max(j for j, t in enumerate(times) if t <= i / 25 + 1e-6)
        assert index == on_screen, (i, shown)


def test_probe_reports_audio_track_and_rate(tmp_path):
    with_audio = make_video(tmp_path / "a.mp4", fps=30, num_frames=30, audio=speech_like(1.0))
    without = make_video(tmp_path / "b.mp4", fps=30, num_frames=30)
    info = video.probe(with_audio)
    assert info.has_audio and not video.probe(without).has_audio
    assert info.source_fps == pytest.approx(30, abs=0.1)
    assert (info.width, info.height) == (96, 64)
    assert info.num_frames == 25


def test_still_image_reads_as_one_frame(tmp_path):
    import cv2

    image = np.zeros((40, 50, 3), np.uint8)
    image[:, :, 0] = 200  # red in RGB
    cv2.imwrite(str(tmp_path / "face.png"), image[:, :, ::-1])
    frames = video.read_frames(tmp_path / "face.png")
    assert frames.shape == (1, 40, 50, 3) and frames[0, 0, 0, 0] == 200
    info = video.probe(tmp_path / "face.png")
    assert info.is_image and info.num_frames == 1 and not info.has_audio


def test_bad_video_inputs_raise_one_line_errors(tmp_path):
    with pytest.raises(MediaError, match="nope.mp4: no such file"):
        video.read_frames(tmp_path / "nope.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    with pytest.raises(MediaError, match="corrupt.mp4: not a video or image file"):
        video.read_frames(corrupt)
    broken_image = tmp_path / "broken.png"
    broken_image.write_bytes(b"not a png")
    with pytest.raises(MediaError, match="broken.png: not an image file"):
        video.read_frames(broken_image)
    audio_only = tmp_path / "speech.wav"
    import soundfile

    soundfile.write(str(audio_only), speech_like(0.5), 16000)
    with pytest.raises(MediaError, match="speech.wav: the file has no video stream"):
        video.read_frames(audio_only)


def test_writer_round_trip_keeps_frames_duration_and_audio(tmp_path):
    from tests.helpers import index_frame

    speech = speech_like(2.0)
    frames = [index_frame(i) for i in range(50)]
    out = video.write_video(tmp_path / "out.mp4", frames, audio=speech)
    info = video.probe(out)
    assert info.has_audio and info.num_frames == 50
    decoded = video.read_frames(out)
    assert [frame_index(frame) for frame in decoded] == list(range(50))
    assert abs(len(load_audio(out)) - len(speech)) < 2048  # AAC priming adds < 1 frame
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file left


def test_writer_leaves_nothing_behind_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with video.VideoWriter(tmp_path / "out.mp4", 64, 48) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="does not exist"):
        video.VideoWriter(tmp_path / "missing" / "out.mp4", 64, 48)


def test_writer_quality_follows_crf(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.clip(128 + rng.normal(0, 40, (48, 64, 3)), 0, 255).astype(np.uint8) for _ in range(10)]
    sizes, errors = [], []
    for crf in (10, 40):
        path = video.write_video(tmp_path / f"crf{crf}.mp4", frames, crf=crf)
        sizes.append(path.stat().st_size)
        errors.append(np.abs(video.read_frames(path).astype(float) - np.stack(frames)).mean())
    assert sizes[0] > 2 * sizes[1] and errors[0] < errors[1]
    with pytest.raises(ValueError, match="received 60"):
        video.VideoWriter(tmp_path / "bad.mp4", 64, 48, crf=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crf10.mp4", "crf40.mp4"]


@pytest.mark.parametrize("fps", [25, 30])
def test_frame_source_loops_forward_and_back_in_bounded_chunks(tmp_path, fps):
    from tests.helpers import ping_pong

    path = make_video(tmp_path / f"clip{fps}.mp4", fps=fps, num_frames=fps, keyframe_every=4)  # one second
    shown = [frame_index(frame) for frame in video.read_frames(path)]
    source = video.FrameSource(path, chunk_bytes=7 * 64 * 96 * 3)  # 7 frames per backward chunk: several seeks per pass
    indices, frames = zip(*source.play(130))
    assert source.count == 25
    assert list(indices) == ping_pong(25, 130).tolist()
    assert [frame_index(frame) for frame in frames] == [shown[i] for i in ping_pong(25, 130)]


def test_frame_source_of_a_still_image_repeats_it(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "face.png"), np.full((40, 50, 3), 77, np.uint8))
    indices, frames = zip(*video.FrameSource(tmp_path / "face.png").play(4))
    assert indices == (0, 0, 0, 0) and all(frame[0, 0, 0] == 77 for frame in frames)
