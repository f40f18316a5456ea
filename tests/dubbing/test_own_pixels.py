import numpy as np
import pytest
import soundfile as sf

from keras_s2v import faces
from keras_s2v.dubbing import own_pixels as mouth_dub
from keras_s2v.faces.landmarks import lip_gap
from keras_s2v.geometry import SAMPLE_RATE, WINDOW_FRAMES
from keras_s2v.media import video
from keras_s2v.media.photos import real_photos
from keras_s2v.speech.formant import random_script, random_voice, synthesize_speech

BLOCK = 10  # frames


class BlocksOfOpenAndShut:
    """A stand-in for the mouth-motion network: windows alternate in blocks, shut then wide open."""

    def predict(self, windows, batch_size=None, verbose=0):
        open_ = (np.arange(len(windows)) // BLOCK) % 2
        return np.repeat(open_[:, None], WINDOW_FRAMES, axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def photo_and_speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mouth_dub")
    # A closed mouth: on the astronaut's smile the mesh reads the upper teeth's edge as the lip (docs/experiments.md).
    photo = real_photos()["grace_hopper"]
    import cv2

    cv2.imwrite(str(folder / "photo.png"), photo[..., ::-1])
    rng = np.random.default_rng(0)
    waveform, _ = synthesize_speech(random_script(rng, 2.0), random_voice(rng), rng)
    sf.write(folder / "speech.wav", waveform, SAMPLE_RATE)
    return folder, photo


def test_a_photo_speaks_with_its_own_lips_where_the_network_opens_the_mouth(photo_and_speech):
    folder, photo = photo_and_speech
    summary = mouth_dub.dub_own_pixels(
        str(folder / "photo.png"), str(folder / "speech.wav"), BlocksOfOpenAndShut(), str(folder / "dub.mp4"), progress=False
    )
    frames = video.read_frames(folder / "dub.mp4")
    assert summary.frames == len(frames) == 50 and summary.faces_found == 50
    assert frames[0].shape == photo.shape
    detector = faces.CNNDetector()
    gaps = np.array([lip_gap(detector.detect(frame).landmarks) for frame in frames])
    # Frame t shows the mean of windows t + LEAD_FRAMES .. t + LEAD_FRAMES + 4, centred on t + LEAD_FRAMES + 2.
    wanted = (((np.arange(50) + mouth_dub.LEAD_FRAMES + 2) // BLOCK) % 2).astype(bool)
    settled = np.convolve(wanted, np.ones(5), "same") % 5 == 0  # away from a block's edges
    assert gaps[wanted & settled].mean() > gaps[~wanted & settled].mean() + 0.02
    # Above the eyes nothing changed but the codec's noise.
    top = int(detector.detect(photo).landmarks[[33, 263], 1].min()) - 5
    error = np.mean((np.stack(frames)[:, :top].astype(float) - photo[:top]) ** 2)
    assert 10 * np.log10(255**2 / error) > 35


def test_a_photo_at_opening_0_is_the_photo_itself(tmp_path):
    import cv2

    # The astronaut: the tracking's mesh reads her smile wider than the source's exact one (docs/experiments.md).
    photo = real_photos()["astronaut"]
    cv2.imwrite(str(tmp_path / "photo.png"), photo[..., ::-1])
    _, landmarks, bank, gaps = mouth_dub.prepare_face(str(tmp_path / "photo.png"), progress=False)
    at_rest = mouth_dub.target_gaps([0.0], *gaps)[0]  # silence: a photo shuts no further than it is
    assert at_rest == gaps.closed and np.array_equal(bank.render(photo, landmarks[0], at_rest), photo)
    assert not np.array_equal(bank.render(photo, landmarks[0], gaps.closed + 0.02), photo)


def test_gaps_span_the_clips_own_range_and_a_photo_opens_from_its_own(photo_and_speech):
    closed, widest, _ = mouth_dub.gap_range([0.02, 0.03, np.nan, 0.05, 0.10, 0.01] * 10, still=False)
    assert 0.01 <= closed < 0.02 and 0.05 < widest <= 0.10
    closed, widest, _ = mouth_dub.gap_range([0.010, 0.011, 0.012] * 10, still=False)  # a clip that never speaks
    assert widest == pytest.approx(closed + mouth_dub.PHOTO_OPEN_RANGE)
    closed, widest, shut = mouth_dub.gap_range([0.04], still=True)
    assert closed == shut == 0.04 and widest == pytest.approx(0.04 + mouth_dub.PHOTO_OPEN_RANGE)
    gaps = mouth_dub.target_gaps([0.0, mouth_dub.OPENING_AT_WIDEST, 5.0], closed, widest, shut)
    assert (
        gaps[0] == closed
        and gaps[1] == pytest.approx(widest)
        and gaps[2] == pytest.approx(closed + mouth_dub.MOST_OPEN * (widest - closed))
    )


def test_silence_shuts_a_video_as_far_as_the_clip_does_and_speech_spans_it_as_before():
    gaps = mouth_dub.gap_range(np.linspace(0.01, 0.11, 101), still=False)
    assert gaps.shut == pytest.approx(0.011) and gaps.closed == pytest.approx(0.015)  # 1st and 5th percentiles
    openings = [0.0, mouth_dub.QUIET_OPENING / 2, mouth_dub.QUIET_OPENING, 0.3, mouth_dub.OPENING_AT_WIDEST]
    # `without`: shut at the closed gap, every opening 0 mapped there as before silence shut further.
    with_shut, without = mouth_dub.target_gaps(openings, *gaps), mouth_dub.target_gaps(openings, *gaps[:2], gaps.closed)
    assert with_shut[0] == pytest.approx(gaps.shut) and gaps.shut < with_shut[1] < without[1]
    np.testing.assert_array_equal(with_shut[2:], without[2:])  # speech's openings are where they were
    assert np.all(np.diff(with_shut) > 0)


def test_a_generator_is_not_taken_for_a_motion_model(tmp_path):
    from keras_s2v.dubbing.dubber import load_dubber
    from keras_s2v.errors import FileError
    from keras_s2v.models import build_speech2vid
    from keras_s2v.models.mouth_motion import build_mouth_motion

    build_speech2vid("tiny").save(tmp_path / "generator.keras")
    build_mouth_motion("tiny").save(tmp_path / "motion.keras")
    assert mouth_dub.is_motion_model(str(tmp_path / "motion.keras"))
    assert not mouth_dub.is_motion_model(str(tmp_path / "generator.keras"))
    assert not mouth_dub.is_motion_model(str(tmp_path / "missing.keras"))
    # Every dub takes its way of dubbing from load_dubber, which tells them apart the same way.
    assert load_dubber(tmp_path / "motion.keras", window_step=5)[1] == mouth_dub.BACKEND
    assert load_dubber(str(tmp_path / "generator.keras"), window_step=5)[1] == "keras"
    with pytest.raises(FileError):
        load_dubber(str(tmp_path / "missing.keras"))


def test_inside_keeping_faces_a_second_dub_of_the_same_file_skips_the_tracking_and_draws_the_same_frames(
    photo_and_speech, tmp_path, monkeypatch
):
    import shutil

    import cv2

    folder, _ = photo_and_speech
    face, speech = tmp_path / "face.png", str(folder / "speech.wav")
    shutil.copy(folder / "photo.png", face)
    tracked = []
    track = mouth_dub._track
    monkeypatch.setattr(mouth_dub, "_track", lambda path, *rest: tracked.append(path) or track(path, *rest))

    def dub(name):
        mouth_dub.dub_own_pixels(str(face), speech, BlocksOfOpenAndShut(), str(tmp_path / name), progress=False)
        return np.stack(video.read_frames(tmp_path / name))

    with mouth_dub.keeping_faces():
        first, second = dub("first.mp4"), dub("second.mp4")
        assert len(tracked) == 1
        np.testing.assert_array_equal(first, second)
        # Another picture under the same name is another face: tracked again, and dubbed as itself.
        astronaut = real_photos()["astronaut"]
        cv2.imwrite(str(face), astronaut[..., ::-1])
        third = dub("third.mp4")
        assert len(tracked) == 2 and third.shape[1:] == astronaut.shape
        # A detector given as an object is not named by a string: nothing is kept for it.
        mouth_dub.prepare_face(str(face), faces.CNNDetector(), progress=False)
        mouth_dub.prepare_face(str(face), faces.CNNDetector(), progress=False)
        assert len(tracked) == 4
    # Once it ends nothing is kept (a server's next job is another face): every dub tracks its face.
    dub("fourth.mp4")
    dub("fifth.mp4")
    assert len(tracked) == 6
