"""How a face is found in a frame and cut out: `Face` (a box, and 468 face-mesh landmarks from the CNN
detector), `Alignment`, and the FACE_SIZE square crop with the eye line level and the mouth at a fixed place
(by the box when there are no landmarks).
"""

import dataclasses

import cv2
import numpy as np

from keras_s2v.faces.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE
from keras_s2v.geometry import FACE_SIZE

# How crops are aligned; recorded in shards so training and dubbing crops are alike.
ALIGN_LANDMARKS = "landmarks-v1"
ALIGN_BOX = "box-v1"

# Landmark template of the aligned crop, as fractions of its side: the eye midpoint
# sits at EYE_Y and the face scale (eye-to-mouth distance) spans FACE_SCALE.
EYE_Y = 0.38
FACE_SCALE = 1 / 3.2  # mouth at about 0.69, chin at about 0.92
# Box-aligned crops: a square `1 + BOX_MARGIN` times the box, moved down by BOX_SHIFT of it.
BOX_MARGIN = 0.25
BOX_SHIFT = 0.05


@dataclasses.dataclass
class Face:
    """One face in one frame: box (4,) float32 x0, y0, x1, y1; landmarks (K, 2) or None."""

    box: np.ndarray
    landmarks: np.ndarray | None = None

    def __post_init__(self):
        self.box = np.asarray(self.box, np.float32).reshape(4)
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, np.float32)

    @property
    def size(self):
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


@dataclasses.dataclass(frozen=True)
class Alignment:
    """The affine map frame -> crop that `crop_face` used; `paste_face` inverts it."""

    matrix: np.ndarray  # (2, 3) float64
    size: int
    kind: str  # ALIGN_LANDMARKS or ALIGN_BOX

    def to_frame(self, points):
        """Crop pixel coordinates (..., 2) -> frame pixel coordinates."""
        inverse = cv2.invertAffineTransform(self.matrix)
        return np.asarray(points, np.float64) @ inverse[:, :2].T + inverse[:, 2]


def box_face(x0, y0, x1, y1):
    return Face(np.array([x0, y0, x1, y1], np.float32))


# --------------------------------------------------------------------------- warping
def warp_image(image, matrix, size, border=cv2.BORDER_REPLICATE):
    """cv2.warpAffine to (size, size) that shrinks with INTER_AREA first.

    Bilinear interpolation alone aliases when a large face is made small; only the
    part of the image that the output needs is resized.
    """
    matrix = np.asarray(matrix, np.float64)
    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < 0.75:
        corners = apply_matrix(cv2.invertAffineTransform(matrix), [[0, 0], [size, 0], [0, size], [size, size]])
        height, width = image.shape[:2]
        x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 2, 0, [width - 1, height - 1])
        x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 2, [x0 + 1, y0 + 1], [width, height])
        region = image[y0:y1, x0:x1]
        small = cv2.resize(
            region, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))), interpolation=cv2.INTER_AREA
        )
        fx, fy = small.shape[1] / (x1 - x0), small.shape[0] / (y1 - y0)
        # cv2.resize maps pixel centres: x = (x_small + 0.5) / fx - 0.5 + x0.
        to_frame = np.array([[1 / fx, 0, x0 + 0.5 / fx - 0.5], [0, 1 / fy, y0 + 0.5 / fy - 0.5]])
        matrix = np.concatenate(
            [matrix[:, :2] @ to_frame[:, :2], (matrix[:, :2] @ to_frame[:, 2] + matrix[:, 2])[:, None]], axis=1
        )
        image = small
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)


def apply_matrix(matrix, points):
    points = np.asarray(points, np.float64)
    return points @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def square_matrix(center, side, angle, size):
    """Frame -> (size, size): a square of `side` pixels around `center`, rotated by `angle` (radians)."""
    scale = size / side
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    rotation = np.array([[cos, sin], [-sin, cos]])
    offset = size / 2 - rotation @ np.asarray(center, np.float64)
    return np.concatenate([rotation, offset[:, None]], axis=1)


# --------------------------------------------------------------------------- alignment
def alignment_kind(face):
    return ALIGN_BOX if face.landmarks is None else ALIGN_LANDMARKS


def alignment_matrix(face, size=FACE_SIZE):
    """(2, 3) frame -> crop: the eye line level and the mouth at a fixed place (or a square around the box)."""
    if face.landmarks is None:
        x0, y0, x1, y1 = face.box.astype(np.float64)
        width, height = x1 - x0, y1 - y0
        center = ((x0 + x1) / 2, (y0 + y1) / 2 + BOX_SHIFT * height)
        return square_matrix(center, max(width, height) * (1 + BOX_MARGIN), 0.0, size)
    points = face.landmarks.astype(np.float64)
    left, right = points[list(LEFT_EYE)].mean(axis=0), points[list(RIGHT_EYE)].mean(axis=0)
    eyes = (left + right) / 2
    eye_to_eye, eye_to_mouth = right - left, points[list(MOUTH)].mean(axis=0) - eyes
    # As in the FFHQ alignment: the crop's x axis from both the eye line and the eye-mouth
    # line, its scale from the larger of the two, so a turned head neither tilts nor shrinks the crop.
    axis = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    angle = np.arctan2(axis[1], axis[0])
    face_scale = max(np.hypot(*eye_to_eye), np.hypot(*eye_to_mouth))
    side = face_scale / FACE_SCALE
    matrix = square_matrix(eyes, side, angle, size)
    matrix[1, 2] += (EYE_Y - 0.5) * size  # the eye midpoint at EYE_Y, not the centre
    return matrix


def crop_face(frame, face, size=FACE_SIZE):
    """The aligned (size, size, 3) uint8 crop and its Alignment."""
    alignment = Alignment(alignment_matrix(face, size), size, alignment_kind(face))
    return warp_image(frame, alignment.matrix, size), alignment
