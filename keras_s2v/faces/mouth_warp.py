"""The mouth drawn from the person's own pixels, at the frame's own resolution.

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
upper teeth go with the upper lip, the lower with the lower) and a dark cavity fills the gap, with
the tongue in its lower part and, where the source shows no teeth of its own, upper teeth drawn
under the upper lip and the tips of the lower teeth above the lower lip.
"""

import dataclasses
import functools

import cv2
import numpy as np
from scipy.spatial import Delaunay

from keras_s2v.faces.alignment import apply_matrix
from keras_s2v.faces.landmarks import (
    INNER_BOTTOM,
    LOWER_INNER_LIP,
    LOWER_JAW,
    MOUTH_CORNERS,
    NOSE_BASE,
    STABLE,
    UPPER_INNER_LIP,
    UPPER_LIP,
    below_jaw,
    face_height,
    jaw_reach,
    lip_gap,
    mouth_axes,
)
from keras_s2v.faces.mouth_masks import (
    DEFAULT_CAVITY,
    DEFAULT_TEETH,
    DEFAULT_TONGUE,
    LOWER_TEETH_DEPTH,
    LOWER_TEETH_SHADE,
    LOWER_TEETH_SHARE,
    LOWER_TEETH_TURN,
    LOWER_TOOTH_WIDTH,
    agreeing_cheeks,
    cavity_image,
    cavity_mask,
    fill_hull,
    fill_polygon,
    lip_colour,
    lip_ring,
    lips_mask,
    lower_face_mask,
    lower_face_outline,
    match_colour,
    morph_coverage,
    region_box,
    teeth_mask,
    tongue_mask,
    under_the_nose,
)

COARSE = 4  # pixels between the grid points where the warp's map is worked out exactly
MIN_SPLIT_SEARCH = 3.0  # pixels between the inner lips below which a mouth splits at its midline
TEETH_EDGE = 12.0  # grey levels lost over a pixel going down: the lower edge of the upper teeth
TEETH_LIGHTER = 25.0  # grey levels by which teeth above that edge are lighter than the lips at least
# How an opening spreads across the mouth: (1 - (x / 1.05)^2) ** LENS_POWER, x in half the mouth's width from its
# middle. The face mesh reads 0.47-0.49, 0.68-0.69, 0.85-0.87 and 0.97 of the middle opening at x = 0.86, 0.7, 0.5 and
# 0.25 on each of three real speakers, and 0.65 gives 0.49, 0.68, 0.85 and 0.96 (a square root, 0.58 at 0.86, drew
# the corners open like a box).
LENS_POWER = 0.65
UPPER_LIP_SHARE = 0.2  # of a change of gap the upper lip moves the other way from the jaw, which moves by all of it
# A mouth closed is left this far open between its inner lips: the source's inside, squeezed into it, is the dark line
# between closed lips, and inner lips on each other make no triangles for the warp.
MIN_CLOSED_PIXELS = 0.5
MIN_PROFILE_OPENING = 1.0  # pixels: a mouth open less than this closes as a lens
# Closed to a gap under this (face heights, as rendered), the source's inside squeezed between the lips fades into the cavity's
# colour, wholly at 0: squeezed, a smile's teeth left a white tangle on the lip line.
SHUT_GAP = 0.02
# Face heights of blur on the drawn opening's edge. Twice as soft (0.01) bled its dark onto the lips round it, a smudge
# like dark lipstick at a photo's mouth corners (docs/experiments.md); the teeth drawn inside it are crisper still.
OPENING_BLUR = 0.006
SKIN_BAND = 0.12  # face heights inside the mesh's outline where a source pixel must look like skin to be used
SKIN_CHROMA = 14.0  # how far from the face's median (Cr, Cb) a pixel may be and still count as its skin
SKIN_MARGIN = 0.02  # face heights between a source's skin that is used and anything of another colour
# Face heights under the jaw where the jaw's motion has faded to none: the neck between stretches or
# squeezes, so a chin raised or lowered leaves no step and no second chin where the motion would stop.
NECK = 0.25
# Under a dropped chin, a pixel of a source's neck whose colour is less than this share as far from grey as the face's,
# in the face's hue (`chromaticity`), is no skin: a grey chain, a green collar. It is painted over from the skin
# around it. The shade under a chin is as saturated as the face or more (1.2 times on the close-up), so it stays.
NECK_SATURATION = 0.5
CHIN_REACH = 0.7  # share of the middle's drop (`jaw_reach`) from which a place under the jaw counts as the chin's


def _disc(radius):
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(radius) + 1,) * 2)


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

    @property
    def split_line(self):
        """(9, 2) points where this mouth splits when it opens wider than it is, one per pair of inner-lip points.

        Where the inside of the mouth darkens sharply going down from something lighter than the lips
        (the lower edge of the upper teeth, above the cavity or the lower teeth), it splits there, so the
        upper teeth go up whole with the upper lip; elsewhere at the midline. The mesh's own midline cuts a
        smile's teeth in two.
        """
        return self._split[0]

    @property
    def shows_teeth(self):
        """Whether the inside of this mouth has the lower edge of upper teeth (`split_line` found one)."""
        return self._split[1]

    @property
    def shows_lower_teeth(self):
        """Whether something lighter than the lips lies between `split_line` and the lower lip: the lower teeth,
        which go down with the lower lip when the mouth opens."""
        return self._split[2]

    @functools.cached_property
    def _split(self):
        upper = self.landmarks[list(UPPER_INNER_LIP[1:-1])]
        lower = self.landmarks[list(LOWER_INNER_LIP[1:-1])]
        grey = cv2.cvtColor(np.ascontiguousarray(self.image), cv2.COLOR_RGB2GRAY).astype(np.float32)
        lips = lip_colour(self.image, self.landmarks)
        # Teeth are lighter than the lips: a closed mouth's dark lip line darkens as sharply, from the lips' own red.
        lightest_lips = (
            -np.inf if lips is None else float(cv2.cvtColor(np.float32([[lips]]), cv2.COLOR_RGB2GRAY)[0, 0]) + TEETH_LIGHTER
        )
        shares, teeth, lower_teeth = np.full(len(upper), 0.5), False, False
        for pair, (top, bottom) in enumerate(zip(upper, lower)):
            length = float(np.linalg.norm(bottom - top))
            if length < MIN_SPLIT_SEARCH:
                continue
            along = np.linspace(0.0, 1.0, 2 * int(np.ceil(length)) + 1)
            points = (top + along[:, None] * (bottom - top)).astype(np.float32)
            profile = cv2.remap(grey, points[None, :, 0], points[None, :, 1], cv2.INTER_LINEAR)[0]
            darkening = profile[:-2] - profile[2:]  # > 0 where it darkens going down
            inside = (along[1:-1] > 0.15) & (along[1:-1] < 0.9)  # not the lips' own edges
            best = int(np.argmax(np.where(inside, darkening, -np.inf)))
            if darkening[best] > TEETH_EDGE and profile[best] > lightest_lips:
                # Below the edge, not on it: cut at its middle, the upper teeth lost their lit lower half-pixel.
                shares[pair] = along[best + 2]
                teeth = True
            below = profile[(along > shares[pair] + 0.1) & (along < 0.9)]
            lower_teeth |= bool(below.size) and float(below.max()) > lightest_lips
        shares = np.convolve(np.pad(shares, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")  # one line, not a saw
        return upper + shares[:, None] * (lower - upper), teeth, lower_teeth

    @functools.cached_property
    def _hull(self):
        """The mesh's hull and the neck down to NECK under the jaw: a chin raised in the frame shows the neck below it."""
        return fill_hull(self.image.shape[:2], np.concatenate([self.landmarks, below_jaw(self.landmarks, NECK)]), np.zeros(2))

    # Worked out when asked, not kept: a bank holds its sources for the whole dub.
    def _core(self):
        """The mesh's hull shrunk by SKIN_BAND: every pixel inside it is this face's."""
        hull = fill_hull(self.image.shape[:2], self.landmarks, np.zeros(2))
        return morph_coverage(cv2.erode, hull, _disc(SKIN_BAND * face_height(self.landmarks)))

    def _chroma(self):
        return cv2.cvtColor(np.ascontiguousarray(self.image), cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.float32)

    def _median_in_core(self, values):
        """The median over `_core` of `values` ((H, W, k) per pixel of the image), or None where the core is too
        small to tell."""
        inside = self._core() > 0.5
        return np.median(values[inside], axis=0) if inside.sum() >= 16 else None

    @functools.cached_property
    def _face_chroma(self):
        """The face's median (Cr, Cb) in `_core`, or None where the core is too small to tell."""
        return self._median_in_core(self._chroma())

    @functools.cached_property
    def face_colour(self):
        """The face's median RGB in `_core`, or None where it is too small to tell."""
        return self._median_in_core(self.image.astype(np.float32))

    @functools.cached_property
    def face_chromaticity(self):
        """The face's median red and green shares (`chromaticity`) in `_core`, or None where it is too small to tell."""
        return self._median_in_core(chromaticity(self.image))

    @functools.cached_property
    def lip_contrast(self):
        """How far the lips' colour is from the face's: the 75th percentile, over the pixels between the mesh's
        lip lines, of their (Cr, Cb) distance from the face's median; None where either is too small to tell.
        Lips rolled in or pressed out of sight leave skin there, and a mouth drawn from such a frame has no lips
        (mouth_bank.with_lips_shown). Not the median: stretched thin over a wide opening, lips share the ring
        with teeth."""
        ring = lip_ring(self.image.shape[:2], self.landmarks)
        if self._face_chroma is None or ring.sum() < 8:
            return None
        return float(np.percentile(np.linalg.norm(self._chroma()[ring] - self._face_chroma, axis=1), 75))

    def _skin(self, feather):
        """1 where a pixel may be this face's: deep inside the mesh's hull, on the lips, or of the face's own
        colour in the hull's outer SKIN_BAND and on the neck (on a head turned aside the mesh reaches past the
        cheek's edge; under the chin may be a collar or a beard), SKIN_MARGIN and half of `feather` away from any
        other: the mask is blurred by half a feather, and a margin of SKIN_MARGIN alone left a grey line where a
        turned cheek met the background."""
        core = self._core()
        if self._face_chroma is None:
            return np.ones_like(core)
        height = face_height(self.landmarks)
        skin = (np.linalg.norm(self._chroma() - self._face_chroma, axis=2) <= SKIN_CHROMA).astype(np.float32)
        lips = lips_mask(core.shape, np.zeros(2), self.landmarks, margin=max(1.0, 0.04 * height))
        # The lips count as the face whatever their colour; between the links of a chain is skin too.
        skin = cv2.erode(np.maximum(skin, lips), _disc(max(1.0, SKIN_MARGIN * height) + feather / 2))
        return np.maximum(np.maximum(core, lips), skin)

    def face_mask(self, feather, skin=True):
        """(H, W) float32: 1 on this source's face, 0 beyond: the mesh's hull shrunk by `feather`, and near
        its outline only skin, so the background beside a turned head is not carried onto another frame's cheek;
        with `skin` False the hull whatever its colour. Kept per whole pixel of `feather`: every frame drawn from
        this source asks again."""
        masks = self.__dict__.setdefault("_face_masks", {})
        key = int(feather), skin
        if key not in masks:
            hull = morph_coverage(cv2.erode, self._hull, _disc(key[0]))
            masks[key] = hull * self._skin(key[0]) if skin else hull
        return masks[key]

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


def pose_transform(source_landmarks, target_landmarks):
    """(2, 3) similarity that maps the source's stable points onto the target's, least squares."""
    source = np.asarray(source_landmarks, np.float64)[list(STABLE)]
    target = np.asarray(target_landmarks, np.float64)[list(STABLE)]
    matrix, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.LMEDS)
    return matrix if matrix is not None else np.array([[1.0, 0, 0], [0, 1.0, 0]])


def jaw_weights(landmarks, closing=False):
    """(468,) how far each mesh point moves down when the mouth opens, as a share of the change of gap.

    The inner lips split the face: below their midline (the lower lip, the chin, the jaw) points
    move with the jaw, fully in the middle and less towards the ears; above it the upper lip
    moves up by UPPER_LIP_SHARE, fading towards the nose. The inner lips' own points are told
    apart by their index, since on a closed mouth the two lines lie on each other.

    Opening, the lips part as a lens. `closing`, each column of the mouth closes in proportion to how open it
    is (`_opening_profile`): closed as a lens, a mouth open wide at its corners closed there past shut, and
    the crossed lips sampled teeth and cavity into a tangle.
    """
    points = np.asarray(landmarks, np.float64)
    left, right = points[MOUTH_CORNERS[0]], points[MOUTH_CORNERS[1]]
    centre, along, down = mouth_axes(points)
    half_mouth = max(np.linalg.norm(right - left) / 2, 1e-6)
    midline = (points[list(UPPER_INNER_LIP)] + points[list(LOWER_INNER_LIP)]) / 2
    order = np.argsort((midline - centre) @ along)
    across = (points - centre) @ along
    below = (points - centre) @ down - np.interp(across, ((midline - centre) @ along)[order], ((midline - centre) @ down)[order])
    lip_height = max(np.linalg.norm(points[INNER_BOTTOM] - points[17]), 1e-6)  # inner lower lip to outer
    # A sharp split between the lips, a soft one on the cheeks beyond the corners: no tear there.
    ramp = np.where(np.abs(across) < half_mouth, 0.2, 1.5) * lip_height
    sideways = jaw_reach(points, points)
    weights = np.clip(0.5 + below / ramp, 0.0, 1.0) * sideways
    # The lips part as a lens, widest in the middle and shut at the corners; the chin drops as one.
    profile = _opening_profile(points, centre, along, down) if closing else None
    if profile is None:
        lens = np.clip(1.0 - (across / (1.05 * half_mouth)) ** 2, 0.0, 1.0) ** LENS_POWER
    else:  # divided by `sideways`, which the lips' weights are multiplied by: each column closes by its own
        lens = np.interp(across, *profile, left=0.0, right=0.0) / np.maximum(sideways, 0.5)
    near_lips = np.clip(1.0 - np.abs(below) / (2.0 * lip_height), 0.0, 1.0)
    weights *= 1.0 - near_lips * (1.0 - lens)
    upper = (below < 0) & (np.abs(across) < 1.2 * half_mouth)
    weights[upper] = -UPPER_LIP_SHARE * np.clip(1.0 + below[upper] / (2 * lip_height), 0.0, 1.0) * sideways[upper]
    weights[list(UPPER_INNER_LIP[1:-1])] = -UPPER_LIP_SHARE * sideways[list(UPPER_INNER_LIP[1:-1])]
    weights[list(LOWER_INNER_LIP[1:-1])] = (sideways * lens)[list(LOWER_INNER_LIP[1:-1])]
    weights[list(UPPER_INNER_LIP[1:-1])] *= lens[list(UPPER_INNER_LIP[1:-1])]
    return weights


def _opening_profile(points, centre, along, down):
    """(across, share): along the mouth, how open each pair of inner-lip points is as a share of the widest
    pair; None for a mouth open by less than MIN_PROFILE_OPENING pixels, whose shape cannot be told."""
    upper, lower = points[list(UPPER_INNER_LIP)], points[list(LOWER_INNER_LIP)]
    openings = np.maximum((lower - upper) @ down, 0.0)
    if openings.max() < MIN_PROFILE_OPENING:
        return None
    across = ((upper + lower) / 2 - centre) @ along
    order = np.argsort(across)
    return across[order], openings[order] / openings.max()


def target_landmarks(source, frame_landmarks, gap):
    """The source's mesh placed in the frame (by the stable points, its nose's base on the frame's:
    `_on_the_frames_nose`) with its lip gap changed to `gap`."""
    matrix = pose_transform(source.landmarks, frame_landmarks)
    placed = _on_the_frames_nose(apply_matrix(matrix, source.landmarks), np.asarray(frame_landmarks, np.float64))
    return _opened_by(placed, gap - source.gap), matrix


def _on_the_frames_nose(placed, frame_landmarks):
    """`placed` (a source's mesh placed by the pose similarity) moved so that each point of its nose's base lies on the
    frame's: everything above that line moves as the base point beside it does, the move fading to none at the upper
    lip's highest point, so that the lips keep their shape. A similarity cannot undo a head tilted otherwise: the
    man's sources placed up to 0.046 face heights low left their nostrils under the frame's (docs/experiments.md)."""
    _, along, down = mouth_axes(frame_landmarks)
    across = placed @ along
    base = list(NOSE_BASE)
    order = np.argsort(across[base])
    base_across = across[base][order]
    shift = (frame_landmarks[base] - placed[base])[order]
    below_the_base = placed @ down - np.interp(across, base_across, (placed[base] @ down)[order])
    philtrum = max(float(below_the_base[list(UPPER_LIP)].min()), 1e-6)
    share = np.clip(1.0 - below_the_base / philtrum, 0.0, 1.0)
    return placed + share[:, None] * np.stack([np.interp(across, base_across, shift[:, axis]) for axis in (0, 1)], axis=1)


def _opened_by(landmarks, change):
    """`landmarks` with the lips opened by `change` face heights of gap (closed where negative, never past
    MIN_CLOSED_PIXELS apart), the jaw moving. The lips part by (1 + UPPER_LIP_SHARE) times the change either
    way, as opening always did: closing by the change alone pressed open sources less shut, and a silent dub's lip
    gap varied more (docs/experiments.md)."""
    height = face_height(landmarks)
    if change < 0:
        change = max(change, (MIN_CLOSED_PIXELS / height - lip_gap(landmarks)) / (1.0 + UPPER_LIP_SHARE))
        if change >= 0:
            return np.array(landmarks, np.float64)
    weights = jaw_weights(landmarks, closing=change < 0)
    return landmarks + change * height * weights[:, None] * mouth_axes(landmarks)[2]


def _backward_map(targets, sources, matrix, box):
    """(mapx, mapy) float32 over `box` (x0, y0, x1, y1): for each pixel, where to sample the source.

    Piecewise linear over the Delaunay triangles of `targets` -> `sources`; beyond them the
    inverse of the pose similarity `matrix`. Worked out every COARSE pixels and resized: it is smooth.
    """
    x0, y0, x1, y1 = box
    xs, ys = np.arange(x0, x1 + COARSE, COARSE, dtype=np.float64), np.arange(y0, y1 + COARSE, COARSE, dtype=np.float64)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    values = apply_matrix(cv2.invertAffineTransform(matrix), grid)
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
    full = cv2.warpAffine(
        coarse, scale, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return full[..., 0], full[..., 1]


def render_mouth(
    frame, frame_landmarks, source, gap, cavity_colour=DEFAULT_CAVITY, tongue_colour=DEFAULT_TONGUE, teeth_colour=DEFAULT_TEETH
):
    """`frame` with its lower face replaced by `source` warped into the frame's pose, lips opened to `gap`.

    `frame_landmarks` (468, 2) give the pose (through the stable points only) and, with the
    target's, the lower face to replace. Only pixels inside that soft mask change. With
    `source` cut from this very frame and `gap` its own, the output is the frame, bit for bit.
    """
    frame_landmarks = np.asarray(frame_landmarks, np.float64)
    targets, matrix = target_landmarks(source, frame_landmarks, gap)
    height = face_height(targets)
    feather = max(1.0, 0.04 * height)
    box = region_box(
        frame.shape, np.concatenate([lower_face_outline(targets), lower_face_outline(frame_landmarks)]), 2 * feather + COARSE
    )
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return frame.copy()
    offset = np.array([x0, y0], np.float64)
    mapx, mapy, split = warp_map(source, targets, matrix, gap, box)
    # Bicubic: bilinear sampling at the warp's sub-pixel positions took a third of the lips' sharpness (docs/experiments.md).
    warped = cv2.remap(source.image, mapx, mapy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    shape = (y1 - y0, x1 - x0)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    on_face = _warped_face(source, mapx, mapy, feather)
    # Where the frame's chin hangs below the dub's (its mouth was open wider), the source's neck is taken however dark:
    # the shade under a chin fails the skin test, and the frame's own chin kept there is a second chin.
    # Told by the frame's own jaw closed to the dub's gap, not by the dub's jaw line: that one also lies higher where
    # the source's head was held otherwise, and the source's neck taken there brought its chain onto the frame's jaw.
    chin_wide = _chin_wide(shape, offset, frame_landmarks)
    frame_jaw, dub_jaw, raised = (
        fill_hull(shape, lower_face_outline(points, under_chin=0.0), offset)
        for points in (frame_landmarks, targets, _opened_by(frame_landmarks, gap - lip_gap(frame_landmarks)))
    )
    dropped = _dropped_chin(frame_jaw, raised, feather, chin_wide)
    if dropped.any():
        on_face = np.maximum(on_face, dropped * _warped_face(source, mapx, mapy, feather, skin=False))
        # But not its chain or collar there (the boy's chain link on his jaw): what is not of the face's colour, shade
        # aside, is painted over from the skin around it. Only below the dub's jaw: the lips are not skin either.
        under = (dropped > 0.05) & (morph_coverage(cv2.erode, dub_jaw, _disc(feather)) < 0.5)
        warped = _skin_over_foreign(warped, under, source.face_chromaticity, feather)
    face = lower_face_mask(shape, offset, targets, frame_landmarks, feather=feather)
    face *= on_face  # never the background a source turned otherwise shows
    # The frame's own lips and a feather around them take no part in the cheeks' check: nothing of its mouth decides
    # anything. Nor does its jaw where the chin drops: below either jaw line, a difference there is the jaw that moved.
    # Beside the mouth only the source's face counts as agreeing: the lips' margin below takes nothing else either
    # (near a turned head's edge it took in the background, a light streak down the cheek).
    frame_lips = lips_mask(shape, offset, frame_landmarks, margin=feather / 2) > 0
    cheeks = agreeing_cheeks(
        warped,
        region,
        targets,
        offset,
        feather,
        ignore=frame_lips | _under_the_chin(frame_jaw, dub_jaw, feather, chin_wide),
        usable=on_face,
    )
    face *= cheeks
    # The lips and a feather around them always; beside the mouth corners only where the cheeks agree.
    lips = np.maximum(
        lips_mask(shape, offset, targets, frame_landmarks, margin=max(1.0, feather / 3)),
        lips_mask(shape, offset, targets, frame_landmarks, margin=feather) * cheeks,
    )
    # Whatever the feather, no pixel of the frame's own lips stays; above the base of its nose nothing changes.
    mask = np.maximum(face, lips) * under_the_nose(shape, offset, frame_landmarks, feather)
    # Matched where the frame and the source should agree: not where the frame's chin hung lower than the dub's, nor
    # within a feather of either jaw line or below it, where they differ by the jaw that moved (a photo, its own
    # source, came out paler round its mouth as it opened).
    moved = np.maximum(*(_below_the_jaw(shape, offset, points) for points in (frame_landmarks, targets))) >= 0.5
    away_from_the_jaw = cv2.dilate(moved.astype(np.uint8), _disc(feather)) == 0  # 8-bit: the same pixels, faster
    warped = match_colour(warped, region, face * (1.0 - face) * (1.0 - lips) * (1.0 - dropped) * away_from_the_jaw)
    if split is not None:  # the new opening between the two halves of the source's mouth: dark inside, the tongue below
        blur = max(0.5, OPENING_BLUR * height)
        upper_edge = split[0]
        if source.shows_teeth:
            # The dark starts below the teeth's edge, not on it: `fill_polygon`'s anti-aliased edge lies up to a pixel
            # outside the polygon and the blur reaches further, and the lit lower part of the teeth went dark.
            across = split[1] - split[0]
            length = np.maximum(np.linalg.norm(across, axis=1, keepdims=True), 1e-6)
            upper_edge = split[0] + across / length * np.minimum(blur + 1.0, length / 2)
        polygon = np.concatenate([targets[[UPPER_INNER_LIP[0]]], upper_edge, targets[[UPPER_INNER_LIP[-1]]], split[1][::-1]])
        opened = cv2.GaussianBlur(fill_polygon(shape, polygon, offset), (0, 0), blur)
        inside = cavity_image(shape, offset, targets, cavity_colour)
        # Its soft upper edge is the tongue's back, curving away into the shade.
        tongue = tongue_mask(shape, offset, *split, blur=0.01 * height)[..., None]
        inside = inside + tongue * (tongue * np.asarray(tongue_colour, np.float32) - inside)
        teeth_colour = np.asarray(teeth_colour, np.float32)
        if not source.shows_teeth:  # its own teeth, where it has them, came up with the upper lip
            teeth = teeth_mask(shape, offset, *split, height, blur=0.004 * height)[..., None]  # crisp, as teeth are
            inside = inside + teeth * (teeth_colour - inside)
        if not source.shows_lower_teeth:  # and its own lower teeth, where it has them, went down with the lower lip
            teeth = teeth_mask(
                shape,
                offset,
                split[1],
                split[0],
                height,
                0.004 * height,
                share=LOWER_TEETH_SHARE,
                depth=LOWER_TEETH_DEPTH,
                width=LOWER_TOOTH_WIDTH,
                turn=LOWER_TEETH_TURN,
            )[..., None]
            inside = inside + teeth * (LOWER_TEETH_SHADE * teeth_colour - inside)
        warped += opened[..., None] * (inside - warped)
    elif gap < source.gap and (rendered_gap := lip_gap(targets)) < SHUT_GAP:
        # Nearly shut: the inside squeezed between the lips is their shadow.
        shut = (1.0 - rendered_gap / SHUT_GAP) * cavity_mask(shape, offset, targets, feather=max(0.5, 0.005 * height))
        warped += shut[..., None] * (np.asarray(cavity_colour, np.float32) - warped)
    blended = region + mask[..., None] * (warped - region)
    out = frame.copy()
    out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


def chromaticity(image):
    """(..., 2) float32: each pixel's red and green shares of R + G + B, which a shadow mostly keeps (grey is a
    third each)."""
    image = np.asarray(image, np.float32)
    return image[..., :2] / (image.sum(axis=-1, keepdims=True) + 1.0)


def _skin_over_foreign(warped, inside, face_chromaticity, feather):
    """`warped` with its pixels in `inside` that are not of the face's colour (NECK_SATURATION: greyer than it, or
    of another hue; a shade keeps it) painted over from the skin around them."""
    if face_chromaticity is None:
        return warped
    skin = face_chromaticity - 1.0 / 3.0  # from grey
    if np.linalg.norm(skin) < 0.01:  # a grey face: no colour to tell skin by
        return warped
    saturation = (chromaticity(warped) - 1.0 / 3.0) @ skin / float(skin @ skin)
    foreign = inside & (saturation < NECK_SATURATION)
    if not foreign.any():
        return warped
    foreign = cv2.dilate(foreign.astype(np.uint8), _disc(max(1.0, feather / 2)))
    painted = cv2.inpaint(np.clip(warped + 0.5, 0, 255).astype(np.uint8), foreign, max(1.0, feather), cv2.INPAINT_TELEA)
    return np.where(foreign[..., None] > 0, painted.astype(np.float32), warped)


def _under_the_chin(frame_jaw, dub_jaw, feather, chin_wide):
    """(H, W) bool: outside either jaw line (the frame's or the dub's lower face, less a feather), where the chin
    drops at least CHIN_REACH of its drop in the middle (`chin_wide`); not beside the cheeks, where a source and a
    frame differ when the head turns."""
    return (morph_coverage(cv2.erode, np.minimum(frame_jaw, dub_jaw), _disc(feather)) < 0.5) & chin_wide


def _below_the_jaw(shape, offset, landmarks):
    """(H, W) float32: 1 below the jaw line of `landmarks`, from ear to ear."""
    points = np.asarray(landmarks, np.float64)
    return fill_polygon(shape, np.concatenate([points[list(LOWER_JAW)], below_jaw(points, 1.0)[::-1]]), offset)


def _chin_wide(shape, offset, frame_landmarks):
    """(H, W) bool: where the chin drops at least CHIN_REACH of its drop in the middle as the mouth opens."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return jaw_reach(frame_landmarks, np.stack([cols, rows], -1).reshape(-1, 2) + offset).reshape(shape) > CHIN_REACH


def _dropped_chin(frame_jaw, raised_jaw, feather, chin_wide):
    """(H, W) float32: 1 where the frame's lower face reaches below `raised_jaw` (its own at the dub's gap), and
    two feathers round it, fading over half a feather: the frame's own chin, where the dub's has risen above it (0
    where it has not), held at 1 all across even when it rose by a pixel or two. Only as wide as the chin
    (`chin_wide`): beside it the jaw lines differ with the turn of the head, and a source's neck there may be its
    collar or the background."""
    # A square's margin: dilating by it is separable, a disc of that size took 5 ms a frame at 300 px faces.
    side = 2 * int(2 * feather) + 1
    below = cv2.dilate(np.clip(frame_jaw - raised_jaw, 0.0, 1.0), cv2.getStructuringElement(cv2.MORPH_RECT, (side, side)))
    return cv2.GaussianBlur(below * chin_wide, (0, 0), max(feather / 2, 0.5))


def warp_map(source, targets, matrix, gap, box):
    """(mapx, mapy, split): where each pixel of `box` samples `source` for the mouth at `targets`, and the
    edges of the new opening (`_split_mouth`). Under the jaw the motion fades to none by NECK face heights."""
    controls, sampled, split = _split_mouth(source, targets, matrix, gap)
    neck = below_jaw(source.landmarks, NECK)  # placed by the pose alone: no step where the motion stops
    controls, sampled = np.concatenate([controls, apply_matrix(matrix, neck)]), np.concatenate([sampled, neck])
    return (*_backward_map(controls, sampled, matrix, box), split)


def _split_mouth(source, targets, matrix, gap):
    """(target points, source points, split) for the warp. When the mouth opens wider than the source's,
    the inside of the source's mouth splits along `MouthSource.split_line`: its upper part (the upper teeth)
    moves with the upper lip, its lower part with the lower lip, and `split` (the two edges, in the frame)
    bounds the new opening between them, which no pixel of the source is stretched over."""
    if gap <= source.gap:
        return targets, source.landmarks, None
    upper, lower = list(UPPER_INNER_LIP[1:-1]), list(LOWER_INNER_LIP[1:-1])
    middle = source.split_line
    placed = apply_matrix(matrix, source.landmarks)
    placed_middle = apply_matrix(matrix, middle)
    with_upper = targets[upper] + (placed_middle - placed[upper])
    with_lower = targets[lower] + (placed_middle - placed[lower])
    controls = np.concatenate([targets, with_upper, with_lower])
    return controls, np.concatenate([source.landmarks, middle, middle]), (with_upper, with_lower)


def _warped_face(source, mapx, mapy, feather, skin=True):
    """Where the warp samples the source's own face: 1 inside, 0 beyond (MouthSource.face_mask, remapped)."""
    warped = cv2.remap(
        source.face_mask(feather, skin), mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return cv2.GaussianBlur(warped, (0, 0), max(feather / 2, 0.5))
