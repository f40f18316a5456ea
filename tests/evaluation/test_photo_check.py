import json
import sys

import cv2
import numpy as np
import pytest

from keras_s2v import faces
from keras_s2v.dubbing import own_pixels
from keras_s2v.errors import S2VError
from keras_s2v.evaluation.metrics import masked_psnr
from keras_s2v.evaluation.photo_check import (
    SHEET_HEIGHT,
    SHEET_SPACING,
    check_photo,
    contact_row,
    format_photo_check,
    loudness_per_frame,
    outside_lips_mask,
    outside_mouth_mask,
    pearson,
)
from keras_s2v.faces.landmarks import lip_gap
from keras_s2v.faces.mouth_warp import MouthSource, render_mouth
from keras_s2v.media.photos import real_photos
from keras_s2v.models import build_speech2vid
from keras_s2v.saving import save_model
from tests.helpers import s2v


@pytest.fixture(scope="module")
def astronaut():
    photo = real_photos()["astronaut"]
    return photo, faces.make_detector("cnn").detect(photo)


def test_lip_gap_grows_when_the_lower_lip_moves_down(astronaut):
    landmarks = astronaut[1].landmarks.copy()
    closed = lip_gap(landmarks)
    landmarks[14, 1] += 5.0
    assert lip_gap(landmarks) > closed + 0.01
    with pytest.raises(ValueError, match=r"\(10, 2\)"):
        lip_gap(np.zeros((10, 2)))


def test_the_contact_sheet_shows_the_extremes_at_moments_apart():
    # Frame k is a flat grey of level 8k, so a tile tells its frame. The widest three are one syllable's neighbours.
    frames = [np.full((64, 64, 3), 8 * index, np.uint8) for index in range(30)]
    gaps = np.linspace(0.02, 0.03, 30)
    gaps[[10, 11, 12]] = [0.08, 0.09, 0.085]
    gaps[[0, 1, 2]] = [0.003, 0.001, 0.002]
    gaps[7] = np.nan  # no landmarks
    row = contact_row(frames[0], (0, 0, 64, 64), frames, gaps)
    shown = [int(row[SHEET_HEIGHT // 2, tile * SHEET_HEIGHT + SHEET_HEIGHT // 2, 0]) // 8 for tile in range(1, 7)]
    lowest, highest = shown[:3], shown[3:]
    assert lowest[0] == 1 and highest[-1] == 11  # the most shut and the widest first of all
    for picks in (lowest, highest):
        assert all(abs(a - b) >= SHEET_SPACING for i, a in enumerate(picks) for b in picks[i + 1 :]), shown
    assert 7 not in shown and not set(lowest) & set(highest)


def test_loudness_per_frame_is_zero_in_silence_and_positive_in_a_tone():
    t = np.arange(16000) / 16000
    waveform = np.concatenate([np.zeros(16000), 0.5 * np.sin(2 * np.pi * 220 * t)])
    loudness = loudness_per_frame(waveform, 50)
    assert loudness.shape == (50,)
    assert np.allclose(loudness[:25], 0.0)
    assert np.allclose(loudness[25:], 0.5 / np.sqrt(2), rtol=0.02)
    assert loudness_per_frame(waveform[:100], 3)[1:].tolist() == [0.0, 0.0]  # missing audio is silence
    with pytest.raises(ValueError, match="received 0"):
        loudness_per_frame(waveform, 0)


def _at(mask, point):
    x, y = np.round(point).astype(int)
    return bool(mask[y, x])


def test_outside_lips_mask_excludes_the_mouth_and_includes_the_cheeks(astronaut):
    photo, face = astronaut
    points = face.landmarks
    mask = outside_lips_mask(photo.shape, points)
    assert mask.shape == photo.shape[:2]
    assert not _at(mask, (points[13] + points[14]) / 2) and not _at(mask, points[61]) and not _at(mask, points[291])
    assert _at(mask, points[50]) and _at(mask, points[280])  # the cheeks
    assert not mask[0, 0]  # the background is no face
    assert mask.sum() > outside_lips_mask(photo.shape, points, margin=0.5).sum()


def test_a_jaw_opened_from_the_persons_own_pixels_keeps_the_face_outside_the_lower_face(astronaut):
    # The own-pixels mouth moves the chin and jaw as it opens: the PSNR outside the lips counts that motion,
    # the PSNR outside the lower face (the video check's) keeps to the eyes, brows and forehead.
    photo, face = astronaut
    source = MouthSource.from_frame(photo, face.landmarks)
    opened = render_mouth(photo, face.landmarks, source, source.gap + 0.08)
    lips, lower_face = outside_lips_mask(photo.shape, face.landmarks), outside_mouth_mask(photo.shape, face.landmarks)
    assert masked_psnr(opened, photo, lips) < 32.0 < 45.0 < masked_psnr(opened, photo, lower_face)
    assert not _at(lower_face, face.landmarks[152]) and _at(lips, face.landmarks[152])  # the chin


def test_pearson_is_one_when_the_lip_gap_follows_the_loudness():
    rng = np.random.default_rng(0)
    loudness = loudness_per_frame(rng.standard_normal(16000) * np.repeat(rng.random(25), 640), 25)
    gap = 0.02 + 0.3 * loudness
    assert pearson(gap, loudness) == pytest.approx(1.0)
    assert pearson(-gap, loudness) == pytest.approx(-1.0)
    assert pearson(np.full(25, 0.1), loudness) == 0.0  # a mouth that never moves
    with pytest.raises(ValueError, match="25 and 3"):
        pearson(gap, gap[:3])


def test_check_photo_dubs_a_real_photo_and_measures_it(astronaut, tmp_path):
    generator = str(tmp_path / "generator.keras")
    save_model(build_speech2vid("tiny"), generator)
    report = check_photo(astronaut[0], generator, str(tmp_path / "work"), seconds=1.5, seed=0)
    assert abs(report["frames"] - 1.5 * 25) <= 1 and 0 < report["frames_with_landmarks"] <= report["frames"]
    numbers = [
        report["psnr_outside_lips_db"],
        report["psnr_outside_lower_face_db"],
        report["lip_gap_loudness_correlation"],
        *report["lip_gap"].values(),
        *report["baseline_photo_unchanged"].values(),
    ]
    assert all(np.isfinite(numbers))
    assert -1.0 <= report["lip_gap_loudness_correlation"] <= 1.0 and 0 < report["correlation_chance_level"] < 1.0
    # The unchanged photo only goes through the codec: the ceiling for the dub outside the lips, where the paste
    # reaches. Outside the lower face the generator changes nothing, and the two differ by the encoder's noise only
    # (either way: the dub was 0.002 dB above in one of 30 untrained generators).
    baseline = report["baseline_photo_unchanged"]
    assert baseline["psnr_outside_lips_db"] > 35.0 and baseline["psnr_outside_lips_db"] >= report["psnr_outside_lips_db"]
    assert abs(baseline["psnr_outside_lower_face_db"] - report["psnr_outside_lower_face_db"]) < 0.2
    json.dumps(report, allow_nan=False)  # plain JSON
    lines = format_photo_check({"photos": {"astronaut": report}})
    assert len(lines) == 2 and "astronaut" in lines[1] and lines[1].count(" dB") == 3


def test_the_own_pixels_mouth_is_held_to_the_psnr_outside_the_lower_face_only():
    # It moves the chin and jaw as the mouth opens: below the bar outside the lips is what it does, not a fault.
    photo = {
        "psnr_outside_lips_db": 28.9,
        "psnr_outside_lower_face_db": 36.6,
        "baseline_photo_unchanged": {"psnr_outside_lips_db": 38.4},
        "lip_gap_loudness_correlation": 0.33,
        "lip_gap": {"min": 0.006, "max": 0.08},
        "frames_with_landmarks": 100,
        "frames": 100,
    }
    generator = format_photo_check({"backend": "savedmodel", "photos": {"grace_hopper": photo}})
    assert len(generator) == 2 and "28.90 dB < 32" in generator[1] and "36.60 dB   ok" in generator[1]
    own = format_photo_check({"backend": own_pixels.BACKEND, "photos": {"grace_hopper": photo}})
    assert "< 32" not in own[1] and "28.90 dB" in own[1] and "36.60 dB   ok" in own[1]
    assert len(own) == 3 and "lower face" in own[2]
    photo["psnr_outside_lower_face_db"] = 30.0
    assert "30.00 dB < 32" in format_photo_check({"backend": own_pixels.BACKEND, "photos": {"grace_hopper": photo}})[1]


def test_photo_check_command_checks_the_users_photos_and_names_one_without_a_face(astronaut, tmp_path):
    generator = str(tmp_path / "generator.keras")
    save_model(build_speech2vid("tiny"), generator)
    photo = tmp_path / "portrait.jpg"
    cv2.imwrite(str(photo), astronaut[0][:, :, ::-1])
    result = s2v("photo-check", photo, "--model", generator, "--out", tmp_path / "out", "--seconds", 1)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[0] == "portrait"
    report = json.loads((tmp_path / "out" / "photo_check.json").read_text())
    assert list(report["photos"]) == ["portrait"] and report["seconds"] == 1.0
    assert (tmp_path / "out" / "contact_sheet.png").exists() and (tmp_path / "out" / "portrait" / "dubbed.mp4").exists()

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    result = s2v("photo-check", photo, blank, "--model", generator, "--out", tmp_path / "out2", "--seconds", 1)
    assert result.returncode == 2 and "blank: the face mesh finds no face" in result.stderr
    assert not (tmp_path / "out2").exists()  # checked before any dub
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_built_in_photos_say_what_to_install_when_scikit_image_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)  # None in sys.modules: `import skimage` fails
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    with pytest.raises(S2VError, match="pip install scikit-image"):
        real_photos()
