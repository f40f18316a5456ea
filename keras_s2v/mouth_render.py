"""The mouth drawn from the person's own pixels, at the frame's own resolution (README, "The mouth from the person's own pixels").

A generator that has only seen synthetic faces at 112 pixels paints a grey, blurred mouth on
a real face. Here nothing is painted but the inside of the mouth: a real frame of the same
person (a `MouthSource`: for a video another frame of the clip, for a photo the photo) is
warped so that its lips take the wanted opening, and laid over the lower face of the frame
being dubbed. Lips keep their colour, texture and teeth; what decides the motion is one
number per frame, the wanted lip gap, which comes from the speech.

The frame being dubbed gives only its pose (landmarks of the eyes, nose and forehead, which
speech does not move) and its pixels outside the lower face: none of its mouth reaches the
output, so the original speaker's lip motion cannot leak through.

The warp: the source's face-mesh points are mapped onto the frame by the similarity that best
aligns their stable points, then the lower lip, chin and jaw are moved down (or up) by the
change of gap; a piecewise-linear map over the Delaunay triangles of those points, worked out
on a coarse grid (it is smooth) and sampled bicubic with cv2.remap, moves the source's pixels.
Where the new gap is wider than the source's, the source's mouth splits along its midline (the
upper teeth go with the upper lip, the lower with the lower) and a dark cavity fills the gap.
"""

import dataclasses

import cv2
import numpy as np
from scipy.spatial import Delaunay

# Face-mesh indices (MediaPipe's canonical face model).
# Points that speech does not move: eye corners, nose bridge and tip, forehead, temples.
STABLE = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 10, 151, 9, 8, 234, 454, 127, 356, 98, 327)
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
# The region replaced: the jaw line from cheek to cheek below the ears, closed over the cheeks
# beside the nostrils. The face's sides and the ears stay the frame's own: a source frame with
# another turn of the head would show there.
LOWER_FACE = (58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 425, 426, 327, 326, 2, 97, 98, 206, 205)
FACE_TOP, FACE_BOTTOM, INNER_TOP, INNER_BOTTOM = 10, 152, 13, 14
MOUTH_CORNERS = (61, 291)

COARSE = 4  # pixels between the grid points where the warp's map is worked out exactly
DEFAULT_CAVITY = (45, 20, 22)  # RGB of a mouth's dark inside when the person shows none
MAX_CAVITY_LEVEL = 60.0  # the brightest channel of a cavity colour taken from the person
UPPER_LIP_SHARE = 0.2  # of a change of gap taken by the upper lip (moving up); the jaw takes the rest
MAX_COLOUR_SHIFT = 20.0  # grey levels: the most match_colour moves a pixel
CHEEK_TOLERANCE = 25.0  # grey levels between source and frame beside the mouth before the frame's own is kept
NARROW = 0.85  # of the lower face's width that is replaced (lower_face_mask)


@dataclasses.dataclass(eq=False)  # compared by identity: it holds arrays
class MouthSource:
    """A real frame of the person, cut to the region around the face: what the renderer moves.

    `landmarks` are the 468 face-mesh points in the region's pixels; `offset` (x0, y0) is where
    the region sat in its frame; `index` the frame's number in its video (-1 for a photo).
    """

    image: np.ndarray
    landmarks: np.ndarray
    offset: tuple = (0, 0)
    index: int = -1

    @property
    def gap(self):
        return lip_gap(self.landmarks)

    @classmethod
    def from_frame(cls, frame, landmarks, index=-1, margin=0.35):
        """The region of `frame` around the face's landmarks, grown by `margin` of the face's size each side."""
        landmarks = np.asarray(landmarks, np.float64)
        low, high = landmarks.min(axis=0), landmarks.max(axis=0)
        grow = margin * (high - low).max()
        height, width = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(low - grow).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(high + grow).astype(int), [width, height])
        return cls(np.ascontiguousarray(frame[y0:y1, x0:x1]), landmarks - [x0, y0], (int(x0), int(y0)), index)


def face_height(landmarks):
    return float(np.linalg.norm(landmarks[FACE_BOTTOM] - landmarks[FACE_TOP]))


def lip_gap(landmarks):
    """Inner-lip gap (points 13 to 14) over the face height (10 to 152): the opening, at any face size."""
    landmarks = np.asarray(landmarks, np.float64)
    return float(np.linalg.norm(landmarks[INNER_BOTTOM] - landmarks[INNER_TOP]) / max(face_height(landmarks), 1e-6))


def pose_transform(source_landmarks, target_landmarks):
    """(2, 3) similarity that maps the source's stable points onto the target's, least squares."""
    source = np.asarray(source_landmarks, np.float64)[list(STABLE)]
    target = np.asarray(target_landmarks, np.float64)[list(STABLE)]
    matrix, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.LMEDS)
    return matrix if matrix is not None else np.array([[1.0, 0, 0], [0, 1.0, 0]])


def _apply(matrix, points):
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def jaw_weights(landmarks):
    """(468,) how far each mesh point moves down when the mouth opens, as a share of the change of gap.

    The inner lips split the face: below their midline (the lower lip, the chin, the jaw) points
    move with the jaw, fully in the middle and less towards the ears; above it the upper lip
    moves up by UPPER_LIP_SHARE, fading towards the nose. The inner lips' own points are told
    apart by their index, since on a closed mouth the two lines lie on each other.
    """
    points = np.asarray(landmarks, np.float64)
    left, right = points[MOUTH_CORNERS[0]], points[MOUTH_CORNERS[1]]
    along = (right - left) / max(np.linalg.norm(right - left), 1e-6)
    down = np.array([-along[1], along[0]])  # image rows grow downwards
    centre = (left + right) / 2
    half_mouth = max(np.linalg.norm(right - left) / 2, 1e-6)
    half_face = max(abs((points[JAW[-1]] - points[JAW[0]]) @ along) / 2, 1e-6)
    midline = (points[list(UPPER_INNER_LIP)] + points[list(LOWER_INNER_LIP)]) / 2
    order = np.argsort((midline - centre) @ along)
    across = (points - centre) @ along
    below = (points - centre) @ down - np.interp(across, ((midline - centre) @ along)[order], ((midline - centre) @ down)[order])
    lip_height = max(np.linalg.norm(points[INNER_BOTTOM] - points[17]), 1e-6)  # inner lower lip to outer
    # A sharp split between the lips, a soft one on the cheeks beyond the corners: no tear there.
    ramp = np.where(np.abs(across) < half_mouth, 0.2, 1.5) * lip_height
    sideways = np.clip(1.0 - (np.abs(across) / half_face) ** 2, 0.0, 1.0)
    weights = np.clip(0.5 + below / ramp, 0.0, 1.0) * sideways
    # The lips part as a lens, widest in the middle and shut at the corners; the chin drops as one.
    lens = np.sqrt(np.clip(1.0 - (across / (1.05 * half_mouth)) ** 2, 0.0, 1.0))
    near_lips = np.clip(1.0 - np.abs(below) / (2.0 * lip_height), 0.0, 1.0)
    weights *= 1.0 - near_lips * (1.0 - lens)
    upper = (below < 0) & (np.abs(across) < 1.2 * half_mouth)
    weights[upper] = -UPPER_LIP_SHARE * np.clip(1.0 + below[upper] / (2 * lip_height), 0.0, 1.0) * sideways[upper]
    weights[list(UPPER_INNER_LIP[1:-1])] = -UPPER_LIP_SHARE * sideways[list(UPPER_INNER_LIP[1:-1])]
    weights[list(LOWER_INNER_LIP[1:-1])] = (sideways * lens)[list(LOWER_INNER_LIP[1:-1])]
    weights[list(UPPER_INNER_LIP[1:-1])] *= lens[list(UPPER_INNER_LIP[1:-1])]
    return weights


def target_landmarks(source, frame_landmarks, gap):
    """The source's mesh placed in the frame (by the stable points) with its lip gap changed to `gap`."""
    matrix = pose_transform(source.landmarks, frame_landmarks)
    placed = _apply(matrix, source.landmarks)
    change = (gap - source.gap) * face_height(placed)
    left, right = placed[MOUTH_CORNERS[0]], placed[MOUTH_CORNERS[1]]
    along = (right - left) / max(np.linalg.norm(right - left), 1e-6)
    down = np.array([-along[1], along[0]])
    return placed + change * jaw_weights(placed)[:, None] * down, matrix


def _region(frame_shape, points, grow):
    height, width = frame_shape[:2]
    x0, y0 = np.maximum(np.floor(points.min(axis=0) - grow).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(points.max(axis=0) + grow).astype(int), [width, height])
    return int(x0), int(y0), int(x1), int(y1)


def _backward_map(targets, sources, matrix, box):
    """(mapx, mapy) float32 over `box` (x0, y0, x1, y1): for each pixel, where to sample the source.

    Piecewise linear over the Delaunay triangles of `targets` -> `sources`; beyond them the
    inverse of the pose similarity `matrix`. Worked out every COARSE pixels and resized: it is smooth.
    """
    x0, y0, x1, y1 = box
    xs, ys = np.arange(x0, x1 + COARSE, COARSE, dtype=np.float64), np.arange(y0, y1 + COARSE, COARSE, dtype=np.float64)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    values = _apply(cv2.invertAffineTransform(matrix), grid)
    triangulation = Delaunay(targets)
    simplex = triangulation.find_simplex(grid)
    inside = simplex >= 0
    transforms = triangulation.transform[simplex[inside]]
    bary = np.einsum("nij,nj->ni", transforms[:, :2], grid[inside] - transforms[:, 2])
    weights = np.concatenate([bary, 1.0 - bary.sum(axis=1, keepdims=True)], axis=1)
    corners = sources[triangulation.simplices[simplex[inside]]]
    values[inside] = np.einsum("ni,nij->nj", weights, corners)
    coarse = values.reshape(len(ys), len(xs), 2).astype(np.float32)
    # Grid point (i, j) is pixel (x0 + COARSE j, y0 + COARSE i): an affine resize keeps that exactly.
    scale = np.array([[1.0 / COARSE, 0, 0], [0, 1.0 / COARSE, 0]])
    full = cv2.warpAffine(coarse, scale, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    return full[..., 0], full[..., 1]


def _fill(shape, polygon, offset):
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round((polygon - offset) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    return mask.astype(np.float32) / 255.0


def _narrowed(landmarks, keep=NARROW):
    """LOWER_FACE's points drawn towards the mouth's centre line to `keep` of their distance sideways:
    the cheeks' outline, where a source with another turn of the head would show its background, stays."""
    points = landmarks[list(LOWER_FACE)]
    left, right = landmarks[MOUTH_CORNERS[0]], landmarks[MOUTH_CORNERS[1]]
    along = (right - left) / max(np.linalg.norm(right - left), 1e-6)
    centre = (left + right) / 2
    sideways = (points - centre) @ along
    return points - (1.0 - keep) * sideways[:, None] * along


def lower_face_mask(shape, offset, *landmark_sets, feather):
    """Soft mask of the lower face (LOWER_FACE) of each set of landmarks, their hull, feathered inwards."""
    hull = np.concatenate([_narrowed(np.asarray(points, np.float64)) for points in landmark_sets])
    hard = _fill(shape, cv2.convexHull(hull.astype(np.float32))[:, 0].astype(np.float64), offset)
    # Shrink by the feather first, so the soft edge ends on the face's outline rather than past it.
    inner = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(feather) + 1,) * 2))
    return np.clip(cv2.GaussianBlur(inner, (0, 0), max(feather / 2, 0.5)), 0.0, 1.0)



def lips_mask(shape, offset, *landmark_sets, margin):
    """1 on the outer lips of each set and `margin` pixels around them, fading to 0 over the next `margin`."""
    hard = np.zeros(shape, np.float32)
    for points in landmark_sets:
        hard = np.maximum(hard, _fill(shape, np.asarray(points, np.float64)[list(OUTER_LIPS)], offset))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(np.ceil(1.5 * margin)) + 1,) * 2)
    grown = cv2.dilate(hard, disc)
    fade = cv2.GaussianBlur(cv2.dilate(grown, disc), (0, 0), max(margin / 3, 0.5))
    return np.maximum(grown, fade * (grown < 1))


def cavity_mask(shape, offset, landmarks, feather):
    """Soft mask between the inner lips of `landmarks`."""
    polygon = np.asarray(landmarks, np.float64)[list(UPPER_INNER_LIP) + list(LOWER_INNER_LIP[::-1])]
    return cv2.GaussianBlur(_fill(shape, polygon, offset), (0, 0), max(feather, 0.5))


def match_colour(image, reference, band, grid=32):
    """`image` plus a smooth per-channel offset that makes it agree with `reference` where `band` weighs."""
    if band.sum() < 1.0:
        return image
    height, width = band.shape
    factor = min(1.0, grid / max(height, width))
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    weight = cv2.resize(band, small, interpolation=cv2.INTER_AREA)
    difference = cv2.resize((reference - image) * band[..., None], small, interpolation=cv2.INTER_AREA)
    mean = difference.sum(axis=(0, 1)) / max(weight.sum(), 1e-6)
    sigma = max(1.0, small[0] / 6)
    local = (cv2.GaussianBlur(difference, (0, 0), sigma) + mean * 1e-3) / (cv2.GaussianBlur(weight, (0, 0), sigma)[..., None] + 1e-3)
    # Light differs little between frames of one shot; a larger offset comes from a band that crosses
    # the background in one of the two, and would paint the face with it.
    local = np.clip(local, -MAX_COLOUR_SHIFT, MAX_COLOUR_SHIFT)
    return image + cv2.resize(local, (width, height), interpolation=cv2.INTER_LINEAR)


def render_mouth(frame, frame_landmarks, source, gap, cavity_colour=DEFAULT_CAVITY):
    """`frame` with its lower face replaced by `source` warped into the frame's pose, lips opened to `gap`.

    `frame_landmarks` (468, 2) give the pose (through the stable points only) and, with the
    target's, the lower face to replace. Only pixels inside that soft mask change. With
    `source` cut from this very frame and `gap` its own, the output is the frame, bit for bit.
    """
    frame_landmarks = np.asarray(frame_landmarks, np.float64)
    targets, matrix = target_landmarks(source, frame_landmarks, gap)
    height = face_height(targets)
    feather = max(1.0, 0.04 * height)
    box = _region(frame.shape, np.concatenate([targets[list(LOWER_FACE)], frame_landmarks[list(LOWER_FACE)]]), 2 * feather + COARSE)
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return frame.copy()
    offset = np.array([x0, y0], np.float64)
    controls, sampled, split = _split_mouth(source, targets, matrix, gap)
    mapx, mapy = _backward_map(controls, sampled, matrix, box)
    # Bicubic: bilinear sampling at the warp's sub-pixel positions took a third of the lips' sharpness (docs/experiments.md).
    warped = cv2.remap(source.image, mapx, mapy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    shape = (y1 - y0, x1 - x0)
    face = lower_face_mask(shape, offset, targets, frame_landmarks, feather=feather)
    face *= _warped_face(source, mapx, mapy, feather)  # never the background a source turned otherwise shows
    # The frame's own lips and a feather around them take no part in the cheeks' check: nothing of its mouth decides anything.
    frame_lips = lips_mask(shape, offset, frame_landmarks, margin=feather / 2) > 0
    cheeks = _agreeing_cheeks(warped, frame[y0:y1, x0:x1], targets, offset, feather, ignore=frame_lips)
    face *= cheeks
    # The lips and a feather around them always; beside the mouth corners only where the cheeks agree.
    lips = np.maximum(lips_mask(shape, offset, targets, frame_landmarks, margin=max(1.0, feather / 3)),
                      lips_mask(shape, offset, targets, frame_landmarks, margin=feather) * cheeks)
    mask = np.maximum(face, lips)  # whatever the feather, no pixel of the frame's own lips stays
    region = frame[y0:y1, x0:x1].astype(np.float32)
    warped = match_colour(warped, region, face * (1.0 - face) * (1.0 - lips))
    if split is not None:  # the new opening between the two halves of the source's mouth is dark inside
        polygon = np.concatenate([targets[[UPPER_INNER_LIP[0]]], split[0], targets[[UPPER_INNER_LIP[-1]]], split[1][::-1]])
        opened = cv2.GaussianBlur(_fill(shape, polygon, offset), (0, 0), max(0.5, 0.01 * height))
        warped += opened[..., None] * (_cavity(shape, offset, targets, cavity_colour) - warped)
    blended = region + mask[..., None] * (warped - region)
    out = frame.copy()
    out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


def _split_mouth(source, targets, matrix, gap):
    """(target points, source points, split) for the warp. When the mouth opens wider than the source's,
    the inside of the source's mouth splits along its midline: its upper half (the upper teeth) moves
    with the upper lip, its lower half with the lower lip, and `split` (the two edges, in the frame)
    bounds the new opening between them, which no pixel of the source is stretched over."""
    if gap <= source.gap:
        return targets, source.landmarks, None
    upper, lower = list(UPPER_INNER_LIP[1:-1]), list(LOWER_INNER_LIP[1:-1])
    middle = (source.landmarks[upper] + source.landmarks[lower]) / 2
    placed = _apply(matrix, source.landmarks)
    placed_middle = (placed[upper] + placed[lower]) / 2
    with_upper = targets[upper] + (placed_middle - placed[upper])
    with_lower = targets[lower] + (placed_middle - placed[lower])
    controls = np.concatenate([targets, with_upper, with_lower])
    return controls, np.concatenate([source.landmarks, middle, middle]), (with_upper, with_lower)


def _agreeing_cheeks(warped, region, landmarks, offset, feather, ignore):
    """1, but on the cheeks beside the mouth (past its corners) 0 where the warped source differs from
    the frame by far more than light does: there speech hardly moves the skin, so such a difference is
    something the source shows that the frame does not (the background beside a head turned otherwise).
    Pixels where `ignore` is set count as agreeing."""
    left, right = landmarks[MOUTH_CORNERS[0]] - offset, landmarks[MOUTH_CORNERS[1]] - offset
    along = (right - left) / max(np.linalg.norm(right - left), 1e-6)
    rows, cols = np.mgrid[0 : region.shape[0], 0 : region.shape[1]]
    across = np.abs((np.stack([cols, rows], -1) - (left + right) / 2) @ along)
    beside = np.clip((across - np.linalg.norm(right - left) / 2) / max(feather, 1.0), 0.0, 1.0)
    difference = np.where(ignore, 0.0, np.abs(warped - region.astype(np.float32)).max(axis=2)).astype(np.float32)
    difference = cv2.GaussianBlur(difference, (0, 0), max(feather / 2, 0.5))
    agree = np.clip(1.0 - (difference - CHEEK_TOLERANCE) / CHEEK_TOLERANCE, 0.0, 1.0)
    return (1.0 - beside * (1.0 - agree)).astype(np.float32)


def _warped_face(source, mapx, mapy, feather):
    """Where the warp samples the source's own face (its mesh's hull, shrunk by a feather): 1 inside, 0 beyond."""
    hull = cv2.convexHull(source.landmarks.astype(np.float32))[:, 0].astype(np.float64)
    inside = _fill(source.image.shape[:2], hull, np.zeros(2))
    inside = cv2.erode(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(feather) + 1,) * 2))
    warped = cv2.remap(inside, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.GaussianBlur(warped, (0, 0), max(feather / 2, 0.5))


def _cavity(shape, offset, landmarks, colour):
    """The inside of a mouth: `colour`, darker towards its middle, as in a real mouth's shadow."""
    top, bottom = landmarks[INNER_TOP] - offset, landmarks[INNER_BOTTOM] - offset
    rows = np.arange(shape[0], dtype=np.float32)[:, None]
    middle, half = (top[1] + bottom[1]) / 2, max(abs(bottom[1] - top[1]) / 2, 1.0)
    shade = 1.0 - 0.45 * np.clip(1.0 - np.abs(rows - middle) / half, 0.0, 1.0)
    return np.broadcast_to(shade[..., None] * np.asarray(colour, np.float32), (*shape, 3))


# --------------------------------------------------------------------------- a video's own mouths
# With the face's outline beside the eyes, which shows how the head is turned. Not the jaw's: it moves
# with the speaker's mouth, and would let the original mouth choose the source.
POSE_POINTS = STABLE + (127, 356, 93, 323)
MIN_DISTANCE = 10  # frames between the frame dubbed and the source it is given: never its own mouth
GAP_SCALE, POSE_SCALE = 0.02, 0.005  # what one unit of the pick's cost is worth, in face heights
STAY = 0.5  # the last pick is kept unless another costs this much less: no flicker between sources


def pose_residual(source_landmarks, frame_landmarks):
    """RMS distance, in face heights, left between POSE_POINTS after aligning the stable points: how
    differently the head is turned in the two frames (a similarity cannot undo a turn)."""
    matrix = pose_transform(source_landmarks, frame_landmarks)
    placed = _apply(matrix, np.asarray(source_landmarks, np.float64)[list(POSE_POINTS)])
    error = placed - np.asarray(frame_landmarks, np.float64)[list(POSE_POINTS)]
    return float(np.sqrt((error**2).sum(axis=1).mean()) / max(face_height(frame_landmarks), 1e-6))


def choose_bank(landmarks, size=16):
    """Indices of at most `size` frames to draw mouths from: half span the clip's lip openings (each
    the most typical head pose of its band of openings), half span its head poses (each the farthest
    in pose from those chosen so far), so every frame finds a source turned as it is.
    `landmarks`: (468, 2) or None per frame."""
    found = [index for index, points in enumerate(landmarks) if points is not None]
    if not found:
        return []
    gaps = np.array([lip_gap(landmarks[index]) for index in found])
    typical = landmarks[found[int(np.argsort(gaps)[len(gaps) // 2])]]
    residual = np.array([pose_residual(landmarks[index], typical) for index in found])
    order = np.argsort(gaps)
    chosen = [found[int(band[np.argmin(residual[band])])] for band in np.array_split(order, min(max(1, size // 2), len(order)))]
    # Pose distances to a subsample are enough to spread the rest: a few hundred frames at most.
    candidates = found[:: max(1, len(found) // 300)]
    distance = np.array([min(pose_residual(landmarks[index], landmarks[other]) for other in chosen) for index in candidates])
    while len(set(chosen)) < size and distance.max() > 0:
        pick = int(np.argmax(distance))
        chosen.append(candidates[pick])
        distance = np.minimum(distance, [pose_residual(landmarks[index], landmarks[candidates[pick]]) for index in candidates])
    return sorted(set(chosen))


def cavity_colour(sources, default=DEFAULT_CAVITY):
    """The colour of the darkest part of the most open mouth among `sources` (the person's own), or `default`."""
    widest = max(sources, key=lambda source: source.gap, default=None)
    if widest is None or widest.gap * face_height(widest.landmarks) < 4:
        return default
    inside = cavity_mask(widest.image.shape[:2], np.zeros(2), widest.landmarks, feather=0.5) > 0.5
    pixels = widest.image[inside].astype(np.float32)
    if len(pixels) < 8:
        return default
    dark = np.median(pixels[pixels.sum(axis=1) <= np.percentile(pixels.sum(axis=1), 30)], axis=0)
    # A mouth shown mostly by its teeth and lips (a smile) has no shadow to take: keep its hue, not its light.
    dark *= min(1.0, MAX_CAVITY_LEVEL / max(float(dark.max()), 1e-6))
    return tuple(float(value) for value in dark)


class MouthBank:
    """Frames of one video to draw its mouths from: `pick` gives, for a frame and a wanted lip gap,
    the source with the nearest opening and head pose, never one within MIN_DISTANCE frames."""

    def __init__(self, sources):
        if not sources:
            raise ValueError("a MouthBank needs at least one source frame")
        self.sources = list(sources)
        self.cavity = cavity_colour(self.sources)
        self._last = None

    def pick(self, frame_landmarks, gap, index=-1):
        allowed = [source for source in self.sources if index < 0 or source.index < 0 or abs(source.index - index) >= MIN_DISTANCE]
        if not allowed:  # a clip shorter than MIN_DISTANCE frames: the farthest frame
            allowed = [max(self.sources, key=lambda source: abs(source.index - index))]

        def cost(source):
            return abs(source.gap - gap) / GAP_SCALE + pose_residual(source.landmarks, frame_landmarks) / POSE_SCALE

        best = min(allowed, key=cost)
        if self._last is not None and self._last in allowed and cost(self._last) <= cost(best) + STAY:
            best = self._last
        self._last = best
        return best

    def render(self, frame, frame_landmarks, gap, index=-1):
        return render_mouth(frame, frame_landmarks, self.pick(frame_landmarks, gap, index), gap, self.cavity)
