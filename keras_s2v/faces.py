"""Face boxes: detectors, temporal smoothing, square crops, and pasting a crop back.

A box is (x, y, w, h) in pixels of the full frame. A frame without a face has a
box of NaNs: it is reported and passed through, never fatal.
"""

import functools
import os

import cv2
import numpy as np

from keras_s2v.errors import MediaError, NoFaceError

CROP_SIZE = 112


class HaarDetector:
    """OpenCV cascade detector; the frontal-face Haar cascade unless `cascade_path` is given.

    Frames are scaled so that their longer side is at most `detect_size` before
    detection: cascades find faces as well at that size and run much faster.
    Any cascade XML works, e.g. an anime-face cascade.
    """

    def __init__(self, cascade_path=None, detect_size=320, scale_factor=1.1, min_neighbors=5, min_face=0.15):
        if detect_size < 64:
            raise ValueError(f"`detect_size` must be at least 64; received {detect_size}")
        if scale_factor <= 1.0:
            raise ValueError(f"`scale_factor` must be > 1; received {scale_factor}")
        if not 0.0 < min_face < 1.0:
            raise ValueError(f"`min_face` must be in (0, 1); received {min_face}")
        if cascade_path is None:
            cascade_path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        self.cascade_path = os.fspath(cascade_path)
        if not os.path.isfile(self.cascade_path):
            raise MediaError(self.cascade_path, "no such cascade file")
        try:
            self._cascade = cv2.CascadeClassifier(self.cascade_path)
        except (cv2.error, SystemError):  # OpenCV raises on malformed XML
            self._cascade = None
        if self._cascade is None or self._cascade.empty():
            raise MediaError(self.cascade_path, "not an OpenCV cascade XML file")
        self.detect_size = detect_size
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face  # smallest face, as a fraction of the shorter image side

    def detect(self, frame, index=0):
        height, width = frame.shape[:2]
        scale = min(1.0, self.detect_size / max(height, width))
        small = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        smallest = max(24, int(self.min_face * min(gray.shape)))
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(smallest, smallest)
        )
        if len(found) == 0:
            return None
        largest = max(found, key=lambda box: box[2] * box[3])
        return np.asarray(largest, np.float64) / scale


class FixedBoxDetector:
    """Boxes given by the caller: one box for every frame, or one row per frame (NaN = no face)."""

    def __init__(self, boxes):
        self.boxes = np.asarray(boxes, np.float64)
        if self.boxes.shape[-1] != 4 or self.boxes.ndim not in (1, 2):
            raise ValueError(f"`boxes` must have shape (4,) or (N, 4); received {self.boxes.shape}")

    def detect(self, frame, index=0):
        box = self.boxes if self.boxes.ndim == 1 else self.boxes[min(index, len(self.boxes) - 1)]
        return None if np.isnan(box).any() else box


def make_detector(spec):
    """'haar' -> the default cascade; 'cascade:PATH' -> that cascade XML."""
    if spec == "haar":
        return HaarDetector()
    if spec.startswith("cascade:"):
        return HaarDetector(cascade_path=spec[len("cascade:") :])
    raise ValueError(f"face detector must be 'haar' or 'cascade:PATH'; received {spec!r}")


def detect_boxes(frames, detector, every=1):
    """(N, 4) boxes, NaN where no face was found.

    With `every` > 1 only every k-th frame is searched and the boxes in between
    are interpolated: faces move little in 1/25 s and detection dominates the cost.
    """
    frames = list(frames) if not isinstance(frames, np.ndarray) else frames
    count = len(frames)
    boxes = np.full((count, 4), np.nan)
    searched = sorted(set(range(0, count, every)) | {count - 1}) if count else []
    for index in searched:
        box = detector.detect(frames[index], index)
        if box is not None:
            boxes[index] = box
    if every > 1:
        boxes = fill_gaps(boxes, max_gap=every - 1)
    return boxes


def fill_gaps(boxes, max_gap=12):
    """Interpolate runs of up to `max_gap` frames without a face between two detections.

    Detectors miss single frames (an open mouth, a blink); a face does not vanish
    for half a second. Longer runs, and runs at either end, stay NaN.
    """
    boxes = np.asarray(boxes, np.float64).copy()
    found = np.flatnonzero(~np.isnan(boxes).any(axis=1))
    for left, right in zip(found[:-1], found[1:]):
        if 1 < right - left <= max_gap + 1:
            weights = (np.arange(left + 1, right) - left) / (right - left)
            boxes[left + 1 : right] = boxes[left] + weights[:, None] * (boxes[right] - boxes[left])
    return boxes


def smooth_boxes(boxes, window=5):
    """Centred moving average over the frames that have a face; missing frames stay NaN."""
    if window < 1:
        raise ValueError(f"`window` must be >= 1; received {window}")
    boxes = np.asarray(boxes, np.float64)
    found = ~np.isnan(boxes).any(axis=1)
    values = np.where(found[:, None], boxes, 0.0)
    kernel = np.ones(min(window, max(len(boxes), 1)))  # np.convolve's "same" output is as long as the longer input
    sums = np.stack([np.convolve(values[:, i], kernel, mode="same") for i in range(4)], axis=1)
    counts = np.convolve(found.astype(np.float64), kernel, mode="same")
    smoothed = sums / np.maximum(counts, 1.0)[:, None]
    smoothed[~found] = np.nan
    return smoothed


def square_boxes(boxes, image_shape, margin=0.25, shift_down=0.05):
    """(N, 3) integer squares (x0, y0, side) around the boxes, clipped to the image.

    The square grows by `margin` of the box size and moves down by `shift_down`
    of it, so the chin and mouth stay inside. Rows without a face are -1.
    """
    height, width = image_shape[:2]
    out = np.full((len(boxes), 3), -1, np.int64)
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, np.float64)):
        if np.isnan(x):
            continue
        side = min(max(w, h) * (1.0 + margin), width, height)
        center_x, center_y = x + w / 2, y + h / 2 + shift_down * h
        x0 = int(round(np.clip(center_x - side / 2, 0, width - side)))
        y0 = int(round(np.clip(center_y - side / 2, 0, height - side)))
        out[i] = (x0, y0, int(side))
    return out


def crop(frame, square, size=CROP_SIZE):
    x0, y0, side = square
    return cv2.resize(frame[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA)


def crop_faces(frames, squares, size=CROP_SIZE):
    """(N, size, size, 3) crops; frames without a face give a black crop."""
    crops = np.zeros((len(squares), size, size, 3), np.uint8)
    for i, square in enumerate(squares):
        if square[2] > 0:
            crops[i] = crop(frames[i], square, size)
    return crops


@functools.lru_cache(maxsize=16)
def lower_face_mask(side, feather=0.12):
    """(side, side, 1) blend weights: 1 on the lower half, ramping to 0 at its edges."""
    ramp = max(1.0, feather * side)
    rows = np.arange(side, dtype=np.float32)
    cols = np.arange(side, dtype=np.float32)
    vertical = np.clip((rows - side / 2) / ramp, 0, 1) * np.clip((side - 1 - rows) / ramp, 0, 1)
    horizontal = np.clip(np.minimum(cols, side - 1 - cols) / ramp, 0, 1)
    return (vertical[:, None] * horizontal[None, :])[..., None]


def paste_back(frame, face, square, feather=0.12):
    """Blend the lower half of a generated crop into `frame` (a new array is returned)."""
    x0, y0, side = square
    if side <= 0:
        return frame
    resized = cv2.resize(face, (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mask = lower_face_mask(int(side), feather)
    out = frame.copy()
    region = out[y0 : y0 + side, x0 : x0 + side].astype(np.float32)
    out[y0 : y0 + side, x0 : x0 + side] = np.clip(mask * resized + (1 - mask) * region + 0.5, 0, 255).astype(np.uint8)
    return out


def require_faces(boxes, path):
    if np.isnan(np.asarray(boxes, np.float64)).any(axis=1).all():
        raise NoFaceError(path, "no face found in any frame")
