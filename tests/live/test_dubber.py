"""LiveDubber: chunks of any size give the frames `dub` makes, in order, as soon as their speech has arrived."""

import time

import cv2
import keras
import numpy as np
import pytest

from keras_s2v.dubbing import engine
from keras_s2v.dubbing import own_pixels as own_pixels_dub
from keras_s2v.dubbing.backends import KerasBackend, load_backend
from keras_s2v.geometry import SAMPLE_RATE, SAMPLES_PER_FRAME, VIDEO_FPS
from keras_s2v.live import LiveDubber
from keras_s2v.live import own_pixels as live_own_pixels
from keras_s2v.live.dubber import COME_BACK, StepChooser
from keras_s2v.live.realtime import stream_file
from keras_s2v.media import video
from keras_s2v.media.audio import load_audio
from keras_s2v.media.photos import real_photos
from keras_s2v.models import build_speech2vid
from keras_s2v.models.mouth_motion import build_mouth_motion, opening_cue, predict_openings
from keras_s2v.saving import save_model
from tests.helpers import speech_like, write_audio

SECONDS = 1.2
FRAMES = int(round(SECONDS * VIDEO_FPS))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 160 px photo of a real face, 1.2 s of speech, a tiny generator and a tiny mouth-motion model."""
    root = tmp_path_factory.mktemp("live")
    photo = cv2.resize(real_photos()["grace_hopper"], (160, 192), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(root / "face.png"), photo[..., ::-1])
    write_audio(root / "speech.wav", speech_like(SECONDS))
    save_model(build_speech2vid("tiny"), str(root / "generator.keras"))
    save_model(build_mouth_motion("tiny"), str(root / "mouth.keras"))
    return root


def _dub_frames(monkeypatch, run):
    """The frames `run()` (a dub) hands its video writer, before encoding."""
    written, write = [], video.VideoWriter.write
    with monkeypatch.context() as patch:
        patch.setattr(video.VideoWriter, "write", lambda self, frame: (written.append(frame.copy()), write(self, frame))[1])
        run()
    return written


@pytest.fixture(scope="module")
def backend(files):
    return load_backend(str(files / "generator.keras"))


def _stream(dubber, waveform, chunk):
    """Push `waveform` in chunks; each frame with the samples pushed before and after the push that returned it."""
    frames = []
    for offset in range(0, len(waveform), chunk):
        frames += [
            (frame, offset, min(offset + chunk, len(waveform))) for frame in dubber.push(waveform[offset : offset + chunk])
        ]
    frames += [(frame, len(waveform), None) for frame in dubber.flush()]
    return frames


def test_chunks_of_any_size_give_dubs_frames_in_order_once_their_window_has_arrived(
    files, backend, detector, monkeypatch, tmp_path
):
    face, speech = str(files / "face.png"), str(files / "speech.wav")
    dubbed = _dub_frames(
        monkeypatch, lambda: engine.dub(face, speech, backend, str(tmp_path / "dub.mp4"), detector=detector, progress=False)
    )
    assert len(dubbed) == FRAMES
    waveform = load_audio(speech)  # as dub reads it: the file holds 16-bit samples
    for chunk in (160, 2000, SAMPLE_RATE):  # 10 ms, 125 ms, 1 s
        with LiveDubber(face, backend, detector, adaptive=False) as dubber:
            assert dubber.lookahead() == pytest.approx(0.115)  # step 1: the window ends 2.875 frames after a frame's middle
            frames = _stream(dubber, waveform, chunk)
        assert [frame.index for frame, _, _ in frames] == list(range(FRAMES)), chunk
        assert [frame.time for frame, _, _ in frames] == [index / VIDEO_FPS for index in range(FRAMES)]
        for frame, before, after in frames:
            needed = SAMPLES_PER_FRAME * max(frame.index - 2, 0) + 3440
            # Not before its window's speech, and no later: the push that completed the window returned it.
            assert after is None or before < needed <= after or (frame.index < 3 and needed <= after), (chunk, frame.index)
            assert frame.step == 1 and frame.has_face and frame.latency >= 0
        for (frame, _, _), expected in zip(frames, dubbed):
            # The same windows through the same backend: only batches of other sizes can move a value by a level.
            assert np.abs(frame.image.astype(int) - expected).max() <= 1, (chunk, frame.index)
        assert dubber.stats.frames == FRAMES and dubber.stats.steps == {1: FRAMES} and dubber.stats.fallback_frames == 0


def test_a_video_face_loops_as_dub_plays_it(files, backend, detector, monkeypatch, tmp_path):
    """A 12-frame clip of a drifting photo, played forward and back under 1.2 s of speech."""
    photo = cv2.imread(str(files / "face.png"))[..., ::-1]
    frames = [np.roll(photo, shift, axis=1) for shift in range(0, 24, 2)]
    clip = str(tmp_path / "clip.mp4")
    video.write_video(clip, frames, crf=12)
    speech = str(files / "speech.wav")
    dubbed = _dub_frames(
        monkeypatch, lambda: engine.dub(clip, speech, backend, str(tmp_path / "dub.mp4"), detector=detector, progress=False)
    )
    with LiveDubber(clip, backend, detector, adaptive=False) as dubber:
        live = [frame for frame, _, _ in _stream(dubber, load_audio(speech), 640)]
    assert [frame.index for frame in live] == list(range(FRAMES))
    # Frames near the end may take their reference from frames past it, which `dub` does not play.
    for frame, expected in zip(live[:-15], dubbed[:-15]):
        assert np.abs(frame.image.astype(int) - expected).max() <= 2, frame.index


class SlowBackend(KerasBackend):
    """A model that takes `delay` seconds a call and gives back the identity crops: too slow for every window."""

    def __init__(self, delay):
        self.delay = delay

    def __call__(self, mfcc, identity, reference):
        time.sleep(self.delay)
        return np.asarray(identity)


def test_a_slow_model_moves_to_a_larger_step_instead_of_drifting(files, detector):
    waveform = speech_like(SECONDS)
    slow = SlowBackend(0.06)  # 60 ms a window: step 1 needs 1.5 s of work for each second of speech
    options = dict(chunk_seconds=0.02, batch_size=1, detector=detector)
    behind = stream_file(waveform, str(files / "face.png"), slow, adaptive=False, **options)
    kept_up = stream_file(waveform, str(files / "face.png"), slow, **options)
    assert behind.stats.fallback_frames == 0 and behind.drift_frames > 3, behind.line()
    assert kept_up.stats.frames == FRAMES and kept_up.stats.fallback_frames > FRAMES // 2, kept_up.line()
    assert kept_up.drift_frames < 1 and kept_up.sustained_fps > 20, kept_up.line()
    assert kept_up.stats.latency(95) < behind.stats.latency(95)
    assert f"{kept_up.stats.fallback_frames} frames on the cheaper path" in kept_up.line()


def test_the_step_chooser_takes_the_smallest_step_that_fits_and_ignores_a_stall():
    chooser = StepChooser((1, 2, 3, 4, 5))
    budget = chooser.budget
    for _ in range(3):
        assert chooser.update(0.5 * budget, 1, 0.1 * budget, 1) == 1
    assert chooser.update(5.0, 1, 0.1 * budget, 1) == 1  # one stall among cheap batches: the median holds
    for _ in range(5):
        step = chooser.update(1.5 * budget, 1, 0.2 * budget, 1)
    assert step == 2  # 0.2 + 1.5 / 2 fits, 0.2 + 1.5 does not
    for _ in range(9):
        step = chooser.update(0.9 * budget, 1, 0.05 * budget, 1)
    # 0.95 of the budget would fit at step 1, but only COME_BACK of it brings the dub back: no flapping.
    assert step == 2 and COME_BACK < 0.95
    for _ in range(9):
        step = chooser.update(0.5 * budget, 1, 0.05 * budget, 1)
    assert step == 1
    fixed = StepChooser((1, 2, 3, 4, 5), step=3, adaptive=False)
    assert fixed.update(10.0, 1, 1.0, 1) == 3
    with pytest.raises(ValueError, match="window_step"):
        StepChooser((1, 2, 3, 4, 5), step=7)


def test_openings_as_the_speech_arrives_are_dub_own_pixels_given_its_scale_and_smoothing(files, detector, monkeypatch, tmp_path):
    """The own-pixels path: with the whole speech's cue scale and the whole smoothing kernel (what a
    stream cannot know in time), every frame is dub_own_pixels', bit for bit; by default it waits less."""
    # Seeded: the unseeded model failed once (2026-12-06, not reproduced in 40 runs since, seeds 0 to 40; the cause
    # is not known), and a test must give the same verdict on every run.
    keras.utils.set_random_seed(0)
    model = build_mouth_motion("tiny")
    face, speech = str(files / "face.png"), str(files / "speech.wav")
    dubbed = _dub_frames(
        monkeypatch,
        lambda: own_pixels_dub.dub_own_pixels(face, speech, model, str(tmp_path / "dub.mp4"), detector=detector, progress=False),
    )
    waveform = load_audio(speech)  # as dub reads it: the file holds 16-bit samples
    openings = predict_openings(model, waveform, FRAMES + own_pixels_dub.LEAD_FRAMES)
    scale = openings.mean() / opening_cue(waveform, FRAMES + own_pixels_dub.LEAD_FRAMES).mean()
    with monkeypatch.context() as patch:
        patch.setattr(live_own_pixels, "SMOOTHING_AHEAD", live_own_pixels.SMOOTHING_BEHIND)
        with LiveDubber(face, model, detector, adaptive=False, cue_scale=scale) as dubber:
            frames = [frame for frame, _, _ in _stream(dubber, waveform, 1000)]
    assert [frame.index for frame in frames] == list(range(FRAMES))
    for frame, expected in zip(frames, dubbed):
        assert np.abs(frame.image.astype(int) - expected).max() <= 1, frame.index
    with LiveDubber(face, model, detector, adaptive=False) as dubber:
        # LEAD_FRAMES (2) + SMOOTHING_AHEAD (1) frames after the frame, then its window's 3440 samples.
        assert dubber.lookahead() == pytest.approx((3 * 640 + 3440 - 320) / SAMPLE_RATE)
        frames = dubber.push(waveform[: 640 * 10 + 5360 - 1])
        assert [frame.index for frame in frames] == list(range(10))  # frame 10 waits for one more sample
        ready = (len(waveform) - 5360) // 640 + 1  # the frames whose speech all came before the end
        assert [frame.index for frame in dubber.push(waveform[640 * 10 + 5360 - 1 :])] == list(range(10, ready))
        assert [frame.index for frame in dubber.flush()] == list(range(ready, FRAMES))


def test_speech_at_another_rate_in_stereo_or_int16_is_heard_as_16_khz_mono(files, backend, detector):
    waveform = speech_like(1.0)
    stereo = np.stack([waveform, waveform], axis=1)
    high = cv2.resize(stereo, (2, 3 * len(waveform)), interpolation=cv2.INTER_LINEAR)  # 48 kHz, near enough
    pcm16 = (np.clip(waveform, -1, 1) * 32767).astype(np.int16)
    counts = []
    for chunks, rate in (([high[i : i + 4800] for i in range(0, len(high), 4800)], 48000), ([pcm16], SAMPLE_RATE)):
        with LiveDubber(str(files / "face.png"), backend, detector, adaptive=False) as dubber:
            frames = [frame for chunk in chunks for frame in dubber.push(chunk, rate)] + dubber.flush()
            counts.append((len(frames), dubber.pcm.length))
            heard = dubber.pcm.read(0, 15000)
            # The resampled speech lines up with the original (soxr's stream adds no delay); int16 is scaled to [-1, 1].
            if rate == SAMPLE_RATE:
                assert np.abs(heard - waveform[:15000]).max() < 1e-4
            assert np.corrcoef(heard, waveform[:15000])[0, 1] > 0.98, rate
            with pytest.raises(ValueError, match="flush"):
                dubber.push(waveform)
    assert counts[0][0] == counts[1][0] == 25 and abs(counts[0][1] - SAMPLE_RATE) < 200, counts


@pytest.mark.parametrize("path", ["generator", "own pixels"])
def test_speech_that_came_over_a_second_ago_shows_the_last_frame_again_at_once(files, backend, detector, path):
    model = backend if path == "generator" else build_mouth_motion("tiny")
    waveform = speech_like(2.0)
    with LiveDubber(str(files / "face.png"), model, detector) as dubber:
        # Arrival times set by the test, so that how long the work takes on these cores decides nothing: the first
        # second and the last half arrive "now" for as long as the test runs, the half second between long ago.
        never_late = time.perf_counter() + 600.0
        made = dubber.push(waveform[:16000], arrival=never_late)
        late = dubber.push(waveform[16000:24000], arrival=time.perf_counter() - 600.0)  # queued behind a stall
        back = dubber.push(waveform[24000:], arrival=never_late)
        rest = dubber.flush()
    frames = made + late + back + rest
    assert [frame.index for frame in frames] == list(range(50)), path
    held = [frame.index for frame in frames if frame.step == 0]
    # Frames 25 to 36 have their middle in the late second; those not in a batch begun before it are held, no other.
    assert held and held == list(range(held[0], 37)) and held[0] >= 25, (path, held)
    assert all(frames[index].image is frames[index - 1].image for index in held) and dubber.stats.steps[0] == len(held)
