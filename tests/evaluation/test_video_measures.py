import cv2
import numpy as np
import pytest

from keras_s2v.evaluation.metrics import PSNR_CAP_DB
from keras_s2v.evaluation.photo_check import outside_mouth_mask
from keras_s2v.evaluation.video_measures import (
    compare,
    contact_sheet,
    lip_contrasts,
    lip_gaps,
    lips_hidden,
    mesh_track,
    mouth_sharpness,
    psnr_outside_mouth,
    sharpness_ratio,
)
from keras_s2v.faces.landmarks import LEFT_EYE, OUTER_LIPS
from keras_s2v.faces.mouth_masks import lip_ring
from keras_s2v.lab import synth


@pytest.fixture(scope="module")
def talking():
    """A synthetic face whose mouth opens and closes over 12 frames, and the openings."""
    speaker = synth.sample_speaker(0, "train", 0)
    openings = 0.5 - 0.5 * np.cos(np.linspace(0, 4 * np.pi, 12))
    frames = [synth.draw_face(synth.FRAME_SIZE, speaker.center, speaker.look, mouth_open=float(value))[0] for value in openings]
    return np.stack(frames), openings, speaker


def _lip_region(shape, landmarks):
    region = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(region, [np.round(landmarks[list(OUTER_LIPS)]).astype(np.int32)], 1)
    return region > 0


def test_mesh_track_follows_the_mouth_and_detects_again_after_a_lost_face(talking, detector, astronaut_mesh):
    frames, openings, _ = talking
    landmarks = mesh_track(frames, detector)
    assert all(points is not None and points.shape == (468, 2) for points in landmarks)
    assert np.corrcoef(lip_gaps(landmarks), openings)[0, 1] > 0.9
    photo = astronaut_mesh[0]
    found = mesh_track([photo, np.zeros_like(photo), photo], detector)
    assert found[0] is not None and found[1] is None and found[2] is not None
    assert np.abs(found[2] - astronaut_mesh[1]).max() < 3.0  # the fresh detection finds the same face


def test_lip_gaps_are_nan_without_a_face(astronaut_mesh):
    gaps = lip_gaps([astronaut_mesh[1], None])
    assert gaps.shape == (2,) and gaps[0] > 0 and np.isnan(gaps[1])


def test_compare_identical_and_inverted_mouths(talking, detector):
    frames, openings, speaker = talking
    landmarks = mesh_track(frames, detector)
    same = compare(frames, frames.copy(), landmarks, landmarks)
    assert same["gap_r"] == pytest.approx(1.0) and same["gap_std_ratio"] == pytest.approx(1.0)
    assert same["sharpness_ratio"] == pytest.approx(1.0) and same["psnr_outside_db"] == PSNR_CAP_DB
    assert same["frames"] == len(frames) and same["source_gap_std"] > 0.01
    inverted = np.stack(
        [synth.draw_face(synth.FRAME_SIZE, speaker.center, speaker.look, mouth_open=float(1 - value))[0] for value in openings]
    )
    result = compare(frames, inverted[:-1], landmarks)  # the dubbed landmarks from mesh_track; one frame short
    assert result["frames"] == len(frames) - 1
    assert result["gap_r"] < -0.8
    assert 0.7 < result["gap_std_ratio"] < 1.3
    # No PSNR bound here: the synthetic face drops its jaw as it opens, past the source's jaw line.


def test_sharpness_ratio_falls_when_the_mouth_is_blurred(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    assert mouth_sharpness(photo, landmarks) > 0
    assert sharpness_ratio([photo] * 3, [photo.copy()] * 3, [landmarks] * 3) == pytest.approx(1.0)
    blurred = photo.copy()
    x0, y0 = np.floor(landmarks[list(OUTER_LIPS)].min(axis=0)).astype(int) - 10
    x1, y1 = np.ceil(landmarks[list(OUTER_LIPS)].max(axis=0)).astype(int) + 10
    blurred[y0:y1, x0:x1] = cv2.GaussianBlur(photo[y0:y1, x0:x1], (0, 0), 3.0)
    own = sharpness_ratio([photo] * 3, [blurred] * 3, [landmarks] * 3, [landmarks] * 3)
    same_box = sharpness_ratio([photo] * 3, [blurred] * 3, [landmarks] * 3)
    assert own < 0.5 and same_box == pytest.approx(own)
    # Frames without a face are left out; none left is NaN.
    assert np.isnan(sharpness_ratio([photo], [blurred], [None]))
    assert np.isnan(mouth_sharpness(photo, landmarks + 5000))


def test_lips_hidden_counts_the_frames_whose_lips_are_the_colour_of_the_face(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    lipless = photo.copy()
    ring = lip_ring(photo.shape[:2], landmarks)
    lipless[ring] = np.median(photo[_lip_region(photo.shape, landmarks + [0, 25]) & ~ring], axis=0)  # the chin's skin
    frames = [photo, photo, lipless, photo]
    contrasts = lip_contrasts(frames, [landmarks, landmarks, landmarks, None])
    assert contrasts[2] < 0.3 * contrasts[0] and contrasts[0] == contrasts[1] and np.isnan(contrasts[3])
    source = lip_contrasts([photo] * 4, [landmarks] * 4)
    assert lips_hidden(contrasts, source) == pytest.approx(1 / 3)  # of the three frames with a face
    assert lips_hidden(source, source) == 0.0
    assert np.isnan(lips_hidden([np.nan], source))
    result = compare([photo] * 3, [photo, lipless, lipless], [landmarks] * 3, [landmarks] * 3)
    assert result["lips_hidden"] == pytest.approx(2 / 3) and result["source_lips_hidden"] == 0.0


def test_psnr_outside_mouth_ignores_the_mouth_but_not_the_eyes(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    mask = outside_mouth_mask(photo.shape, landmarks)
    lips = _lip_region(photo.shape, landmarks)
    eyes = landmarks[list(LEFT_EYE)].mean(axis=0).round().astype(int)
    assert mask[eyes[1], eyes[0]] and not (mask & lips).any()
    assert psnr_outside_mouth([photo], [photo.copy()], [landmarks]) == PSNR_CAP_DB
    mouth_changed = photo.copy()
    mouth_changed[lips] = 255 - mouth_changed[lips]
    assert psnr_outside_mouth([photo], [mouth_changed], [landmarks]) == PSNR_CAP_DB
    eyes_changed = photo.copy()
    noise = np.random.default_rng(0).integers(-40, 41, (12, 20, 3))
    patch = eyes_changed[eyes[1] - 6 : eyes[1] + 6, eyes[0] - 10 : eyes[0] + 10].astype(int) + noise
    eyes_changed[eyes[1] - 6 : eyes[1] + 6, eyes[0] - 10 : eyes[0] + 10] = np.clip(patch, 0, 255)
    assert psnr_outside_mouth([photo], [eyes_changed], [landmarks]) < 40
    assert np.isnan(psnr_outside_mouth([photo], [eyes_changed], [None]))
    with pytest.raises(ValueError, match="same size"):
        psnr_outside_mouth([photo], [photo[:-1]], [landmarks])


def test_contact_sheet_writes_the_rows_at_the_same_frames(talking, detector, tmp_path):
    frames, _, _ = talking
    landmarks = mesh_track(frames, detector)
    path = tmp_path / "sheet.png"
    assert contact_sheet([("source", frames, landmarks), ("dubbed", frames[::-1], None)], path, columns=4, tile=64) == path
    sheet = cv2.imread(str(path))
    assert sheet.shape == (2 * (24 + 64), 4 * 64, 3)
    # Every row is cropped where the FIRST row's landmarks put the face, whatever its own landmarks say.
    moved = [points + 40 for points in landmarks]
    contact_sheet([("source", frames, landmarks), ("dubbed", frames.copy(), moved)], path, columns=4, tile=64)
    sheet = cv2.imread(str(path)).astype(int)
    assert np.array_equal(sheet[24 + 24 : 88], sheet[112 + 24 :])  # below the first row's "#index" labels
    assert sheet[24:88].std() > 10  # not blank: the face is there
    # Fewer frames than columns: each frame once; no landmarks at all: the middle of the frame.
    contact_sheet([("x", frames[:3], None)], path, columns=8, tile=32)
    assert cv2.imread(str(path)).shape == (24 + 32, 3 * 32, 3)
