"""Faces: detect, track, align a crop by the landmarks, paste a generated crop back, and render a mouth from
the person's own pixels.

- `detectors`: "cnn" (BlazeFace + face mesh, LiteRT), "haar" and "cascade:PATH" (OpenCV), fixed boxes.
- `tracking`: `FaceTracker` follows one face through a video.
- `alignment`: `Face`, `Alignment` and the FACE_SIZE crop the networks see.
- `paste`: a generated crop back into the frame through a soft mouth-and-jaw mask.
- `landmarks`: face-mesh point numbers and the lip gap.
- `mouth_warp`, `mouth_masks`, `mouth_bank`: the mouth drawn from a real frame of the person.
"""

from keras_s2v.faces.alignment import Alignment, Face, alignment_matrix, crop_face
from keras_s2v.faces.detectors import CNNDetector, FixedBoxDetector, HaarDetector, detector_alignment, make_detector
from keras_s2v.faces.paste import below_upper_lip, mouth_polygon, paste_face, paste_mask
from keras_s2v.faces.tracking import FaceTracker, require_faces, track_faces

__all__ = [
    "Alignment",
    "CNNDetector",
    "Face",
    "FaceTracker",
    "FixedBoxDetector",
    "HaarDetector",
    "alignment_matrix",
    "below_upper_lip",
    "crop_face",
    "detector_alignment",
    "make_detector",
    "mouth_polygon",
    "paste_face",
    "paste_mask",
    "require_faces",
    "track_faces",
]
