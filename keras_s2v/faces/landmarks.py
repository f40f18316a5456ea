"""Face-mesh point numbers (MediaPipe's canonical 468-point face model) and the lip gap read from them.

Every module that picks points of the mesh takes their numbers from here.
"""

import numpy as np

MESH_POINTS = 468
LEFT_EYE = (33, 133, 159, 145)  # left in the image: outer and inner corner, upper and lower lid
RIGHT_EYE = (362, 263, 386, 374)
EYE_CORNERS = (33, 263)
NOSE_TIP = 1
FACE_TOP, FACE_BOTTOM = 10, 152  # forehead and chin on the face's midline
MOUTH = (61, 291, 13, 14)  # the corners, then the upper and lower inner-lip midpoints
MOUTH_CORNERS = MOUTH[:2]
INNER_LIPS = INNER_TOP, INNER_BOTTOM = MOUTH[2:]
UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)  # the outer upper lip's top edge, corner to corner
OUTER_LIPS = UPPER_LIP + (375, 321, 405, 314, 17, 84, 181, 91, 146)
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
JAW = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323)
JAW_TO_TEMPLES = (234, *JAW, 454)
# Points that speech does not move: eye corners, nose bridge and tip, forehead, temples.
STABLE = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 10, 151, 9, 8, 234, 454, 127, 356, 98, 327)
# With the face's outline beside the eyes, which shows how the head is turned. Not the jaw's: it moves
# with the speaker's mouth, and would let the original mouth choose the source.
POSE_POINTS = STABLE + (127, 356, 93, 323)
# The region the own-pixels mouth replaces: the jaw line from cheek to cheek below the ears, closed over
# the cheeks beside the nostrils. The face's sides and the ears stay the frame's own: a source frame with
# another turn of the head would show there.
LOWER_JAW = JAW[2:-2]  # the jaw line below the ears, from cheek to cheek over the chin
LOWER_FACE = LOWER_JAW + (425, 426, 327, 326, 2, 97, 98, 206, 205)
NOSE_BASE = (327, 326, 2, 97, 98)  # under the nostrils, from one wing to the other


def mesh_points(landmarks):
    """(468, 2) float64 points, or ValueError naming what was received."""
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.ndim != 2 or landmarks.shape[0] < MESH_POINTS or landmarks.shape[1] < 2:
        raise ValueError(f"`landmarks` must be ({MESH_POINTS}, 2) face-mesh points; received shape {landmarks.shape}")
    return landmarks[:, :2]


def face_height(landmarks):
    """Forehead to chin on the face's midline, in the landmarks' units."""
    return float(np.linalg.norm(landmarks[FACE_BOTTOM] - landmarks[FACE_TOP]))


def mouth_axes(landmarks):
    """(centre, along, down): the midpoint of the mouth's corners, the unit vector from the left corner to
    the right, and the unit vector at right angles to it towards the chin (image rows grow downwards)."""
    left, right = landmarks[MOUTH_CORNERS[0]], landmarks[MOUTH_CORNERS[1]]
    along = (right - left) / max(np.linalg.norm(right - left), 1e-6)
    return (left + right) / 2, along, np.array([-along[1], along[0]])


def jaw_reach(landmarks, points):
    """(N,) the share of the chin's drop that `points` take as the mouth opens, by how far they lie to the side:
    1 on the face's midline, falling to 0 at the width of the temples (the jaw turns about the ears)."""
    landmarks = np.asarray(landmarks, np.float64)
    centre, along, _ = mouth_axes(landmarks)
    half_face = max(abs((landmarks[JAW_TO_TEMPLES[-1]] - landmarks[JAW_TO_TEMPLES[0]]) @ along) / 2, 1e-6)
    return np.clip(1.0 - (((np.asarray(points, np.float64) - centre) @ along) / half_face) ** 2, 0.0, 1.0)


def below_jaw(landmarks, share, least=0.2):
    """A line under the jaw: LOWER_JAW's points moved towards the chin by `share` of the face height under the
    chin and less towards the ears, as far as the jaw itself drops there (`jaw_reach`, at least `least`)."""
    points = np.asarray(landmarks, np.float64)
    jaw = points[list(LOWER_JAW)]
    reach = np.maximum(jaw_reach(points, jaw), least)
    return jaw + (share * face_height(points) * reach)[:, None] * mouth_axes(points)[2]


def lip_gap(landmarks):
    """Inner-lip gap (points 13 to 14) divided by the face height (10 to 152).

    Divided by the face height so that faces of any size and distance compare, and a head
    nod (which moves both lips) does not count as opening.
    """
    points = mesh_points(landmarks)
    height = face_height(points)
    if height <= 0:
        raise ValueError(f"the face height (landmarks {FACE_TOP} to {FACE_BOTTOM}) must be positive; received {height}")
    return float(np.linalg.norm(points[INNER_BOTTOM] - points[INNER_TOP]) / height)


def mouth_width(landmarks):
    """The distance between the mouth's corners divided by the face height, as `lip_gap` is."""
    points = mesh_points(landmarks)
    return float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]) / max(face_height(points), 1e-6))
