import numpy as np
import pytest

from keras_s2v import faces
from keras_s2v.errors import MediaError, NoFaceError
from keras_s2v.synth import Look, draw_face


def closed_mouth_face(size=(256, 256), center=(128, 128), radius=60):
    return draw_face(size, center, Look(radius=radius), mouth_open=0.0)


def test_haar_finds_a_drawn_face_where_it_is():
    image, true_box = closed_mouth_face(center=(120, 130))
    box = faces.HaarDetector().detect(image)
    assert box is not None
    x, y, w, h = box
    assert abs((x + w / 2) - 120) < 15 and abs((y + h / 2) - 130) < 25


def test_haar_reports_no_face_on_a_blank_frame():
    assert faces.HaarDetector().detect(np.full((200, 200, 3), 90, np.uint8)) is None


def test_cascade_by_path_and_bad_specs(tmp_path):
    import cv2
    import os

    eye_cascade = os.path.join(cv2.data.haarcascades, "haarcascade_eye.xml")
    detector = faces.make_detector(f"cascade:{eye_cascade}")
    assert detector.cascade_path == eye_cascade
    with pytest.raises(MediaError, match="no such cascade file"):
        faces.make_detector(f"cascade:{tmp_path / 'anime.xml'}")
    not_xml = tmp_path / "bad.xml"
    not_xml.write_text("<nope/>")
    with pytest.raises(MediaError, match="not an OpenCV cascade"):
        faces.make_detector(f"cascade:{not_xml}")
    with pytest.raises(ValueError, match="received 'dlib'"):
        faces.make_detector("dlib")


def test_fixed_boxes_and_missing_frames_are_reported():
    boxes = [[10, 10, 40, 40], [np.nan] * 4, [12, 10, 40, 40]]
    found = faces.detect_boxes([np.zeros((80, 80, 3), np.uint8)] * 3, faces.FixedBoxDetector(boxes))
    assert np.isnan(found[1]).all() and found[2][0] == 12
    with pytest.raises(NoFaceError, match="clip.mp4: no face found in any frame"):
        faces.require_faces(np.full((4, 4), np.nan), "clip.mp4")
    with pytest.raises(ValueError, match=r"received \(3,\)"):
        faces.FixedBoxDetector([1, 2, 3])


def test_detecting_every_kth_frame_interpolates_between():
    boxes = np.array([[float(i), 0, 10, 10] for i in range(9)])
    found = faces.detect_boxes([np.zeros((4, 4, 3))] * 9, faces.FixedBoxDetector(boxes), every=4)
    np.testing.assert_allclose(found, boxes)


def test_fill_gaps_interpolates_short_gaps_only():
    boxes = np.full((20, 4), np.nan)
    boxes[0] = boxes[3] = [0, 0, 10, 10]
    boxes[3, 0] = 30
    boxes[19] = [0, 0, 10, 10]
    filled = faces.fill_gaps(boxes, max_gap=5)
    np.testing.assert_allclose(filled[1:3, 0], [10, 20])
    assert np.isnan(filled[4:19]).all()  # a 15-frame gap is a real absence


def test_smoothing_removes_jitter_and_keeps_missing_frames_missing():
    rng = np.random.default_rng(0)
    boxes = np.array([[100, 100, 50, 50]] * 30, float) + rng.normal(0, 3, (30, 4))
    boxes[10] = np.nan
    smoothed = faces.smooth_boxes(boxes, window=5)
    assert np.isnan(smoothed[10]).all()
    steady = ~np.isnan(smoothed).any(axis=1)
    assert np.std(np.diff(smoothed[steady], axis=0)) < 0.6 * np.std(np.diff(boxes[steady], axis=0))


def test_square_boxes_add_margin_and_stay_inside_the_image():
    squares = faces.square_boxes([[90, 5, 20, 30], [np.nan] * 4, [0, 0, 400, 400]], (100, 120), margin=0.5)
    x0, y0, side = squares[0]
    assert side == 45 and x0 + side <= 120 and y0 >= 0
    assert tuple(squares[1]) == (-1, -1, -1)
    assert squares[2][2] == 100  # as large as the image allows


def test_crop_and_paste_back_only_touch_the_lower_face():
    frame = np.full((200, 300, 3), 50, np.uint8)
    square = (100, 40, 112)
    crop = faces.crop(frame, square)
    assert crop.shape == (112, 112, 3)
    pasted = faces.paste_back(frame, np.full((112, 112, 3), 250, np.uint8), square)
    assert (pasted[:40] == 50).all() and (pasted[:, :100] == 50).all()  # outside the square
    assert (pasted[40:96] == 50).all()  # upper half of the face
    assert pasted[40 + 84, 100 + 56, 0] == 250  # inside the lower half
    column = pasted[40 + 56 : 40 + 112, 100 + 56, 0].astype(int)
    assert (np.diff(column[: len(column) // 2]) >= 0).all()  # feathered ramp, no hard seam
    assert faces.paste_back(frame, crop, (-1, -1, -1)) is frame  # no face: unchanged
