import os

import cv2
import numpy as np
import pytest

from keras_s2v import faces
from keras_s2v.errors import MediaError, NoFaceError
from keras_s2v.faces.alignment import ALIGN_LANDMARKS, EYE_Y, apply_matrix
from keras_s2v.faces.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE, lip_gap
from keras_s2v.lab.synth.animation import draw_face
from keras_s2v.lab.synth.look import Look
from keras_s2v.media.photos import PHOTO_FACES, line_path, photo_frames, real_photos


@pytest.fixture(scope="module")
def photos():
    return real_photos()


@pytest.fixture(scope="module")
def cnn():
    return faces.make_detector("cnn")


def closed_mouth_face(size=(256, 256), center=(128, 128), radius=60):
    return draw_face(size, center, Look(radius=radius), mouth_open=0.0)


def center_of(face):
    return (face.box[:2] + face.box[2:]) / 2


def found_at(face, center, face_px):
    """The face is where it was put, at about its size."""
    if face is None:
        return False
    height = face.box[3] - face.box[1]
    return np.hypot(*(center_of(face) - center)) < 0.25 * face_px and 0.6 < height / face_px < 1.6


def psnr(a, b):
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(error, 1e-12))


# --------------------------------------------------------------------------- detectors
def test_haar_finds_a_drawn_face_where_it_is():
    image, _ = closed_mouth_face(center=(120, 130))
    face = faces.HaarDetector().detect(image)
    assert face is not None and face.landmarks is None
    x, y = center_of(face)
    assert abs(x - 120) < 15 and abs(y - 130) < 25


def test_haar_reports_no_face_on_a_blank_frame():
    assert faces.HaarDetector().detect(np.full((200, 200, 3), 90, np.uint8)) is None


def test_cascade_by_path_and_bad_specs(tmp_path):
    eye_cascade = os.path.join(cv2.data.haarcascades, "haarcascade_eye.xml")
    detector = faces.make_detector(f"cascade:{eye_cascade}")
    assert detector.cascade_path == eye_cascade
    with pytest.raises(MediaError, match="no such cascade file"):
        faces.make_detector(f"cascade:{tmp_path / 'anime.xml'}")
    not_xml = tmp_path / "bad.xml"
    not_xml.write_text("<nope/>")
    with pytest.raises(MediaError, match="not an OpenCV cascade"):
        faces.make_detector(f"cascade:{not_xml}")
    for spec in ("dlib", "CNN", "", None):
        with pytest.raises(ValueError, match=f"received {spec!r}"):
            faces.make_detector(spec)
    assert isinstance(faces.make_detector("cnn"), faces.CNNDetector)


def test_fixed_boxes_and_missing_frames_are_reported():
    detector = faces.FixedBoxDetector([[10, 10, 40, 40], [np.nan] * 4, [12, 10, 40, 40]])
    found = [detector.detect(np.zeros((80, 80, 3), np.uint8)) for _ in range(3)]
    assert found[1] is None and found[2].box.tolist() == [12, 10, 52, 50]
    with pytest.raises(NoFaceError, match="clip.mp4: no face found in any frame"):
        faces.require_faces([None, None], "clip.mp4")
    with pytest.raises(ValueError, match=r"received \(3,\)"):
        faces.FixedBoxDetector([1, 2, 3])


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_cnn_finds_real_faces_of_80_px_and_more_anywhere_in_a_720p_frame(photos, cnn, name):
    spots = [(80, (120, 110)), (80, (1180, 640)), (100, (640, 360)), (160, (300, 520)), (400, (900, 330))]
    for face_px, center in spots:
        frames, centers = photo_frames(photos[name], PHOTO_FACES[name], face_px, [center])
        face = cnn.detect(frames[0])
        assert found_at(face, centers[0], face_px), (face_px, center, face)
        assert face.landmarks.shape == (468, 2)
    assert cnn.detect(cv2.resize(photos["astronaut"][400:, 300:], (1280, 720))) is None  # a spacesuit, no face


def test_tracking_keeps_a_moving_face_in_every_frame_and_detects_rarely(photos, cnn):
    found = total = 0
    for name, face_px, start, end in [("astronaut", 80, (150, 150), (1100, 560)), ("grace_hopper", 120, (1120, 140), (260, 600))]:
        path = line_path(start, end, 40)  # about 25 px per frame: fast for a talking head
        frames, centers = photo_frames(photos[name], PHOTO_FACES[name], face_px, path)
        tracker = faces.FaceTracker(cnn)
        found += sum(found_at(tracker.update(frame), center, face_px) for frame, center in zip(frames, centers))
        total += len(frames)
        assert tracker.detections <= 2 and tracker.tracked >= len(frames) - 2
    assert found / total >= 0.99


def test_a_measured_mesh_moves_less_with_the_crop_than_a_tracked_one(photos, cnn):
    # A mouth source's lip gap must not depend on where the last frame's mesh put the crop.
    photo = photos["astronaut"]
    points = cnn.detect(photo).landmarks
    tracked, measured = [], []
    for shift in np.linspace(-0.05, 0.05, 5):
        for scale in (0.96, 1.0, 1.04):
            moved = (points - points.mean(axis=0)) * scale + points.mean(axis=0) + shift * np.ptp(points, axis=0)
            previous = faces.Face(np.r_[moved.min(axis=0), moved.max(axis=0)], moved)
            tracked.append(lip_gap(cnn.track(photo, previous).landmarks))
            measured.append(lip_gap(cnn.measure(photo, previous).landmarks))
    assert np.std(measured) < 0.7 * np.std(tracked)
    assert abs(np.mean(measured) - np.mean(tracked)) < 0.005  # face heights: the same mouth
    assert cnn.measure(photo, faces.Face(np.array([0, 0, 1, 1]), None)) is None


def test_tracker_detects_again_after_a_cut_and_lets_a_vanished_face_go(photos, cnn):
    first, first_centers = photo_frames(photos["astronaut"], PHOTO_FACES["astronaut"], 100, [(300, 300)] * 3)
    second, second_centers = photo_frames(photos["grace_hopper"], PHOTO_FACES["grace_hopper"], 140, [(950, 400)] * 3)
    empty = np.repeat(first[:1] * 0 + 90, 4, axis=0).astype(np.uint8)
    tracker = faces.FaceTracker(cnn, hold=2)
    results = [tracker.update(frame) for frame in np.concatenate([first, second, empty])]
    assert found_at(results[2], first_centers[2], 100)
    assert found_at(results[3], second_centers[0], 140)  # the cut frame itself
    assert results[6] is not None and results[7] is not None  # held over two missed frames
    assert results[8] is None and results[9] is None
    # Detections: the first frame, the cut, each frame of the hold (6, 7), the frame after it (8), then every third (9).
    assert tracker.detections == 6 and tracker.tracked == 4


# --------------------------------------------------------------------------- alignment
def test_crops_have_the_eyes_level_and_the_mouth_in_place_whatever_the_pose(photos, cnn):
    photo = photos["grace_hopper"]
    crops = []
    for angle, scale in [(0, 1.0), (18, 0.6), (-12, 1.4)]:
        matrix = cv2.getRotationMatrix2D((256, 300), angle, scale)
        frame = cv2.warpAffine(photo, matrix, (512, 600), borderMode=cv2.BORDER_REFLECT)
        face = cnn.detect(frame)
        crop, alignment = faces.crop_face(frame, face)
        assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8 and alignment.kind == ALIGN_LANDMARKS
        points = apply_matrix(alignment.matrix, face.landmarks)
        left, right = points[list(LEFT_EYE)].mean(0), points[list(RIGHT_EYE)].mean(0)
        mouth = points[list(MOUTH)].mean(0)
        assert abs(left[1] - right[1]) < 2.5  # the eye line is level
        assert abs((left[1] + right[1]) / 2 - EYE_Y * 112) < 3 and abs((left[0] + right[0]) / 2 - 56) < 3
        assert 70 < mouth[1] < 84 and abs(mouth[0] - 56) < 4
        assert points[152, 1] < 112  # the chin is inside
        crops.append(crop.astype(np.float64))
    assert psnr(crops[0], crops[1]) > 20 and psnr(crops[0], crops[2]) > 20  # the same face, the same way


def test_box_alignment_is_the_old_square_crop():
    face = faces.Face([100, 40, 180, 140])
    matrix = faces.alignment_matrix(face, 112)
    side = 100 * 1.25
    corner = apply_matrix(matrix, [[140 - side / 2, 90 + 5 - side / 2]])[0]
    np.testing.assert_allclose(corner, [0, 0], atol=1e-6)
    np.testing.assert_allclose(matrix[0, 0], 112 / side)


# --------------------------------------------------------------------------- pasting back
def paste_round_trip(frame, face, generate):
    crop, alignment = faces.crop_face(frame, face)
    pasted = faces.paste_face(frame, generate(crop), alignment, face)
    y0, x0, mask = faces.paste_mask(frame.shape, face, alignment)
    full = np.zeros(frame.shape[:2], np.float32)
    full[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]] = mask
    return pasted, full


@pytest.mark.parametrize("face_px", [90, 130, 320])
def test_a_generator_that_returns_its_input_leaves_the_frame_as_it_was(photos, cnn, face_px):
    frames, _ = photo_frames(photos["astronaut"], PHOTO_FACES["astronaut"], face_px, [(500, 330)])
    frame = frames[0]
    face = cnn.detect(frame)
    pasted, mask = paste_round_trip(frame, face, lambda crop: crop)
    x0, y0, x1, y1 = face.box.astype(int)
    assert psnr(pasted[y0:y1, x0:x1], frame[y0:y1, x0:x1]) >= 40
    assert (pasted[mask == 0] == frame[mask == 0]).all()
    hull = np.zeros_like(mask)
    cv2.fillPoly(hull, [cv2.convexHull(face.landmarks.astype(np.int32))], 1.0)
    assert mask.max() == 1.0 and (mask * (1 - hull)).sum() < 0.1 * mask.sum()  # hardly any background


def test_a_blurred_but_unchanged_face_keeps_the_source_and_a_new_mouth_is_pasted(photos, cnn):
    """The generator draws no detail finer than a few pixels: its blur is not a change it meant."""
    frames, _ = photo_frames(photos["astronaut"], PHOTO_FACES["astronaut"], 200, [(640, 360)])
    frame = frames[0]
    face = cnn.detect(frame)
    blurred, mask = paste_round_trip(frame, face, lambda crop: cv2.GaussianBlur(crop, (0, 0), 1.0))
    inside = mask > 0.5
    assert psnr(blurred[inside], frame[inside]) >= 40  # 43 dB; pasting the blurred crop itself gave 31
    _, alignment = faces.crop_face(frame, face)
    mouth = np.round(alignment.matrix[:, :2] @ face.landmarks[13] + alignment.matrix[:, 2]).astype(
        int
    )  # inner upper lip, crop pixels

    def dark_mouth(crop):
        crop = cv2.GaussianBlur(crop, (0, 0), 1.0)
        cv2.ellipse(crop, tuple(int(v) for v in mouth), (12, 6), 0, 0, 360, (20, 10, 10), -1)
        return crop

    opened, _ = paste_round_trip(frame, face, dark_mouth)
    x, y = face.landmarks[13].astype(int)
    assert frame[y, x].astype(int).sum() - opened[y, x].astype(int).sum() > 150  # the new mouth shows, no ghost of the old


def test_only_the_soft_mouth_mask_changes_and_no_square_edge_shows(photos, cnn):
    frames, _ = photo_frames(photos["grace_hopper"], PHOTO_FACES["grace_hopper"], 150, [(640, 360)])
    frame = frames[0]
    face = cnn.detect(frame)
    pasted, mask = paste_round_trip(frame, face, lambda crop: np.full_like(crop, 255))
    changed = np.abs(pasted.astype(int) - frame).max(axis=2) > 0
    assert changed.any() and not changed[mask == 0].any()
    points = face.landmarks
    assert mask[int(points[13, 1]), int(points[13, 0])] > 0.99  # the mouth is replaced
    assert mask[int(points[17, 1]), int(points[17, 0])] > 0.99  # and the chin below it
    assert mask[int(points[159, 1]), int(points[159, 0])] == 0  # the eyes are the source's
    # The mask fades: no jump of more than a fifth between neighbouring pixels.
    assert np.abs(np.diff(mask, axis=0)).max() < 0.2 and np.abs(np.diff(mask, axis=1)).max() < 0.2


@pytest.mark.parametrize("name, face_px", [("grace_hopper", 220), ("astronaut", 120)])
def test_the_paste_fades_out_inside_the_jaw_line_and_still_covers_the_lips(photos, cnn, name, face_px):
    """The face's outline is a sharp edge that a generator blurs: with landmarks the paste stops
    at the jaw line instead of fading out across it."""
    frames, _ = photo_frames(photos[name], PHOTO_FACES[name], face_px, [(640, 360)])
    frame = frames[0]
    face = cnn.detect(frame)
    _, alignment = faces.crop_face(frame, face)
    y0, x0, inset = faces.paste_mask(frame.shape, face, alignment)
    *corner_of_region, on_the_line = faces.paste_mask(frame.shape, face, alignment, jaw_inset=0)
    assert corner_of_region == [y0, x0]

    def at(mask, index):
        x, y = np.round(face.landmarks[index]).astype(int)
        return mask[y - y0, x - x0]

    for chin in (148, 152, 377):
        assert 0.4 < at(on_the_line, chin) < 0.6 and at(inset, chin) < 0.1
    for lip in (14, 17):  # the lower lip and the skin below it are still drawn in full
        assert at(inset, lip) > 0.999 and at(on_the_line, lip) > 0.999
    for corner in (61, 291):
        assert abs(at(inset, corner) - at(on_the_line, corner)) < 0.01


def test_the_skin_above_the_upper_lip_is_the_sources_unless_asked_otherwise(photos, cnn):
    frames, _ = photo_frames(photos["astronaut"], PHOTO_FACES["astronaut"], 200, [(640, 360)])
    frame = frames[0]
    face = cnn.detect(frame)
    points = face.landmarks
    mouth_width = np.linalg.norm(points[291] - points[61])
    towards_nose = (points[2] - points[0]) / np.linalg.norm(points[2] - points[0])
    philtrum = points[0] + 0.25 * mouth_width * towards_nose  # between the nose and the lip
    beside_mouth = points[61] + [-0.1 * mouth_width, -0.25 * mouth_width]  # the fold, above the corner
    crop, alignment = faces.crop_face(frame, face)
    stripes = np.zeros_like(crop)
    stripes[(np.arange(len(crop)) // 8) % 2 == 0] = 255  # coarser than the detail that paste_face takes from the source
    kept, redrawn = (faces.paste_face(frame, stripes, alignment, face, keep_above_lips=keep) for keep in (True, False))
    y0, x0, kept_mask = faces.paste_mask(frame.shape, face, alignment)
    _, _, redrawn_mask = faces.paste_mask(frame.shape, face, alignment, keep_above_lips=False)
    for point in (philtrum, beside_mouth):
        x, y = np.round(point).astype(int)
        window = (slice(y - 2, y + 3), slice(x - 2, x + 3))
        assert kept_mask[y - y0, x - x0] == 0 and redrawn_mask[y - y0, x - x0] > 0.5
        assert (kept[window] == frame[window]).all() and np.abs(redrawn[window].astype(int) - frame[window]).mean() > 20
    for index in (13, 14, 17):  # the inner lips and the chin are drawn either way
        x, y = np.round(points[index]).astype(int)
        assert kept_mask[y - y0, x - x0] > 0.99
    weights = faces.below_upper_lip(frame.shape, points)
    x, y = np.round(points[0]).astype(int)
    assert weights[y + 2, x] == 1.0 and weights[y - round(0.2 * mouth_width), x] == 0.0  # the lip is drawn, the skin above kept
    assert np.abs(np.diff(weights, axis=0)).max() < 0.2  # a ramp, not a cut


def test_the_pasted_region_is_colour_matched_to_its_surroundings(photos, cnn):
    frames, _ = photo_frames(photos["astronaut"], PHOTO_FACES["astronaut"], 120, [(640, 360)])
    frame = frames[0]
    face = cnn.detect(frame)
    tinted = lambda crop: np.clip(crop.astype(int) + [40, -25, 10], 0, 255).astype(np.uint8)  # noqa: E731
    pasted, mask = paste_round_trip(frame, face, tinted)
    inside = mask > 0.5
    drift = np.abs(pasted[inside].astype(float).mean(0) - frame[inside].astype(float).mean(0))
    assert drift.max() < 6  # the 40-level tint is gone


def test_box_only_faces_paste_an_ellipse_over_the_lower_face():
    image, box = closed_mouth_face(size=(240, 320), center=(160, 120))
    x, y, w, h = box
    face = faces.Face([x, y, x + w, y + h])
    pasted, mask = paste_round_trip(image, face, lambda crop: np.zeros_like(crop))
    assert (pasted[mask == 0] == image[mask == 0]).all()
    rows = np.flatnonzero(mask.max(axis=1) > 0)
    assert rows.min() > y + 0.35 * h and mask[int(y + 0.8 * h), int(x + w / 2)] > 0.99
    assert np.abs(np.diff(mask, axis=0)).max() < 0.2 and np.abs(np.diff(mask, axis=1)).max() < 0.2


def test_the_source_detail_comes_back_around_the_lips_and_not_on_them(photos, cnn):
    """A generator that paints the lower face smooth gets the source's wrinkles back beside the
    mouth; on the lips, where the old mouth's edges would show, the pasted pixels are its own."""
    frames, _ = photo_frames(photos["grace_hopper"], PHOTO_FACES["grace_hopper"], 220, [(640, 360)])
    frame = frames[0]
    face = cnn.detect(frame)
    crop, alignment = faces.crop_face(frame, face)
    painted = lambda crop: np.clip(cv2.GaussianBlur(crop, (0, 0), 3.0).astype(int) + 40, 0, 255).astype(np.uint8)  # noqa: E731
    # The whole lower face pasted, so the cheeks beside the folds are the generator's.
    with_detail = faces.paste_face(frame, painted(crop), alignment, face, keep_above_lips=False)
    without = faces.paste_face(frame, painted(crop), alignment, face, detail_sigma=0, keep_above_lips=False)
    y0, x0, mask = faces.paste_mask(frame.shape, face, alignment, keep_above_lips=False)
    region = (slice(y0, y0 + mask.shape[0]), slice(x0, x0 + mask.shape[1]))
    fully_pasted = np.zeros(frame.shape[:2], bool)
    fully_pasted[region] = mask > 0.9
    cheeks = np.round(alignment.to_frame(np.array([[0.28, 0.58], [0.72, 0.58]]) * 112)).astype(int)  # beside the folds
    high = lambda image: image.astype(np.float32) - cv2.GaussianBlur(image.astype(np.float32), (0, 0), 3.0)  # noqa: E731

    def detail_match(image, centre, half=12):
        x, y = centre
        window = (slice(y - half, y + half), slice(x - half, x + half))
        return np.corrcoef(high(image)[window].ravel(), high(frame)[window].ravel())[0, 1]

    for point in cheeks:
        assert fully_pasted[point[1], point[0]]
        assert detail_match(with_detail, point) > 0.8 and detail_match(without, point) < 0.5
    x, y = face.landmarks[13].astype(int)  # the inner upper lip
    assert np.abs(with_detail[y - 2 : y + 3, x - 8 : x + 9].astype(int) - without[y - 2 : y + 3, x - 8 : x + 9]).max() <= 2
