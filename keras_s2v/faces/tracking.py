"""`FaceTracker` follows one face through a video: the landmarks of one frame give the next frame's search
region, and the detector runs again only when the track is lost.
"""

import numpy as np

from keras_s2v.errors import NoFaceError
from keras_s2v.faces.alignment import Face


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
