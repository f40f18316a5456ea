"""The masks and colour matching of the own-pixels mouth: which pixels of the frame being dubbed are
replaced (a soft lower face, always the frame's lips), where the frame's own cheek is kept, and the cavity.
"""

import cv2
import numpy as np

from keras_s2v.faces.landmarks import (
    INNER_BOTTOM,
    INNER_TOP,
    LOWER_FACE,
    LOWER_INNER_LIP,
    MOUTH_CORNERS,
    NOSE_BASE,
    OUTER_LIPS,
    UPPER_INNER_LIP,
    below_jaw,
    mouth_axes,
)

DEFAULT_CAVITY = (45, 20, 22)  # RGB of a mouth's dark inside when the person shows none
DEFAULT_TONGUE = (125, 55, 60)  # RGB of a tongue in a mouth's shade when the person shows no lips to take it from
# A drawn opening is not a hole: the tongue lies behind the lower teeth and fills the lower part of it, this share
# of its height in the middle and none at the corners, in the lips' own colour times TONGUE_SHADE (in the shade),
# its green and blue at most TONGUE_GREEN_BLUE of its red. In real open mouths (three clips, docs/experiments.md) the
# lower 40% is tongue at 0.4-0.86 of the lips' red, green and blue 0.38-0.64 of its red; a third of the opening,
# blurred, left it at 0.31-0.39 (a dark hole), and pale lips made a grey tongue.
TONGUE_SHARE = 0.5
TONGUE_SHADE = 0.75
TONGUE_GREEN_BLUE = 0.62
# Nor is it a hole under the upper lip: where the person's source shows no teeth of its own, the upper teeth show
# below the lip, this share of the opening in the middle but at most TEETH_DEPTH face heights, and fade into
# the shade towards the corners, where the mouth curves away: their light across the mouth is sin(pi x) ** TEETH_TURN
# (x from corner to corner), none at the corners. Half lit there, teeth drawn from corner to corner read as a
# mouthguard. Their colour is the face's own, TEETH_SATURATION as saturated, as bright as its brightest channel:
# white teeth in a warm light are warm.
DEFAULT_TEETH = (205, 195, 180)  # RGB of teeth where the face's colour cannot be told either
TEETH_SHARE = 0.3
TEETH_DEPTH = 0.03
TEETH_TURN = 0.75
TEETH_SATURATION = 0.3
# The lower teeth likewise, up from the lower lip, where the source's lower lip brings none of its own: an opening
# drawn with upper teeth alone read as a dark hole (a real mouth that opens wide shows the tips of its lower teeth).
# Smaller than the upper ones, in the upper lip's shade, and only in the middle of the mouth: a band as wide as
# the upper teeth made a mouth of two rows of dentures.
LOWER_TEETH_SHARE = 0.2
LOWER_TEETH_DEPTH = 0.015
LOWER_TEETH_SHADE = 0.6
LOWER_TEETH_TURN = 3.0
# Drawn teeth are told from a pale band by the shade between them: a line every TOOTH_WIDTH of the mouth's width
# (the lower incisors are narrower), from the midline out, darker by TOOTH_LINE_SHADE.
TOOTH_WIDTH, LOWER_TOOTH_WIDTH = 0.14, 0.1
TOOTH_LINE_SHADE = 0.2
MAX_CAVITY_LEVEL = 60.0  # the brightest channel of a cavity colour taken from the person
MAX_COLOUR_SHIFT = 20.0  # grey levels: the most match_colour moves a pixel
CHEEK_TOLERANCE = 25.0  # grey levels between source and frame beside the mouth before the frame's own is kept
NARROW = 0.85  # of the lower face's width that is replaced (lower_face_mask)
# Face heights under the jaw line that are replaced too: the frame's own chin, lower than the dub's when its
# mouth was open wider, would show as a second chin, however soft the mask's edge on it.
UNDER_CHIN = 0.1


def region_box(frame_shape, points, grow):
    height, width = frame_shape[:2]
    x0, y0 = np.maximum(np.floor(points.min(axis=0) - grow).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(points.max(axis=0) + grow).astype(int), [width, height])
    return int(x0), int(y0), int(x1), int(y1)


def fill_polygon(shape, polygon, offset):
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round((polygon - offset) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    return mask.astype(np.float32) / 255.0


def morph_coverage(operation, coverage, kernel):
    """`cv2.erode` or `cv2.dilate` (`operation`) of a coverage drawn in 8 bits, as `fill_polygon` gives it (and
    the minimum or maximum of such), worked out in 8 bits: the same values, about twice as fast as in float32."""
    return operation(np.round(coverage * 255.0).astype(np.uint8), kernel).astype(np.float32) / 255.0


def lower_face_outline(landmarks, under_chin=UNDER_CHIN, keep=NARROW):
    """The points that bound the lower face to replace: LOWER_FACE's and a line `under_chin` face heights below
    the jaw, drawn towards the mouth's centre line to `keep` of their distance sideways: the cheeks' outline,
    where a source with another turn of the head would show its background, stays."""
    landmarks = np.asarray(landmarks, np.float64)
    points = np.concatenate([landmarks[list(LOWER_FACE)], below_jaw(landmarks, under_chin)])
    centre, along, _ = mouth_axes(landmarks)
    sideways = (points - centre) @ along
    return points - (1.0 - keep) * sideways[:, None] * along


def under_the_nose(shape, offset, landmarks, feather):
    """1 below the base of the nose of `landmarks` (the line extended along the mouth), 0 above it, over a pixel or
    two: the source's nostrils sit just above its own base, and the lips' margin must not carry them in beside the
    frame's, which a head tilted otherwise shows a little higher or lower. No lip reaches the nose."""
    points = np.asarray(landmarks, np.float64)
    _, along, down = mouth_axes(points)
    base = points[list(NOSE_BASE)]
    reach = 2 * float(np.ptp(points, axis=0).max())
    corners = [base[-1] - reach * along, base[-1] - reach * along + reach * down, base[0] + reach * (along + down)]
    polygon = np.concatenate([[base[0] + reach * along], base, corners])
    return cv2.GaussianBlur(fill_polygon(shape, polygon, offset), (0, 0), max(feather / 8, 0.5))


def fill_hull(shape, points, offset):
    return fill_polygon(shape, cv2.convexHull(np.asarray(points, np.float32))[:, 0].astype(np.float64), offset)


def lower_face_mask(shape, offset, *landmark_sets, feather):
    """Soft mask of the lower face (`lower_face_outline`) of each set of landmarks, their hull, feathered inwards."""
    hard = fill_hull(shape, np.concatenate([lower_face_outline(points) for points in landmark_sets]), offset)
    # Shrink by the feather first, so the soft edge ends on the face's outline rather than past it.
    inner = morph_coverage(cv2.erode, hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(feather) + 1,) * 2))
    return np.clip(cv2.GaussianBlur(inner, (0, 0), max(feather / 2, 0.5)), 0.0, 1.0)


def lips_mask(shape, offset, *landmark_sets, margin):
    """1 on the outer lips of each set and `margin` pixels around them, fading to 0 over the next `margin`."""
    outlines = [np.asarray(points, np.float64)[list(OUTER_LIPS)] for points in landmark_sets]
    # Worked out in a box around the lips that holds the two dilations and the blur's reach: the same values, far faster.
    x0, y0, x1, y1 = region_box(
        shape, np.concatenate(outlines) - offset, 2 * np.ceil(1.5 * margin) + 8 * max(margin / 3, 0.5) + 2
    )
    mask = np.zeros(shape, np.float32)
    if x1 <= x0 or y1 <= y0:
        return mask
    box, corner = (y1 - y0, x1 - x0), offset + [x0, y0]
    hard = np.zeros(box, np.float32)
    for outline in outlines:
        hard = np.maximum(hard, fill_polygon(box, outline, corner))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(np.ceil(1.5 * margin)) + 1,) * 2)
    grown = morph_coverage(cv2.dilate, hard, disc)
    fade = cv2.GaussianBlur(morph_coverage(cv2.dilate, grown, disc), (0, 0), max(margin / 3, 0.5))
    mask[y0:y1, x0:x1] = np.maximum(grown, fade * (grown < 1))
    return mask


def cavity_mask(shape, offset, landmarks, feather):
    """Soft mask between the inner lips of `landmarks`."""
    polygon = np.asarray(landmarks, np.float64)[list(UPPER_INNER_LIP) + list(LOWER_INNER_LIP[::-1])]
    return cv2.GaussianBlur(fill_polygon(shape, polygon, offset), (0, 0), max(feather, 0.5))


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
    local = (cv2.GaussianBlur(difference, (0, 0), sigma) + mean * 1e-3) / (
        cv2.GaussianBlur(weight, (0, 0), sigma)[..., None] + 1e-3
    )
    # Light differs little between frames of one shot; a larger offset comes from a band that crosses
    # the background in one of the two, and would paint the face with it.
    local = np.clip(local, -MAX_COLOUR_SHIFT, MAX_COLOUR_SHIFT)
    return image + cv2.resize(local, (width, height), interpolation=cv2.INTER_LINEAR)


def agreeing_cheeks(warped, region, landmarks, offset, feather, ignore, usable):
    """1, but on the cheeks beside the mouth (past its corners) 0 where the warped source differs from
    the frame by far more than light does: there speech hardly moves the skin, so such a difference is
    something the source shows that the frame does not (the background beside a head turned otherwise).
    Pixels where `ignore` is set count as agreeing. Agreement is scaled by `usable`, where the warp samples the
    source's own face (0 to 1): beside the mouth nothing else of the source is taken, however alike."""
    centre, along, _ = mouth_axes(landmarks)
    width = np.linalg.norm(landmarks[MOUTH_CORNERS[1]] - landmarks[MOUTH_CORNERS[0]])
    rows, cols = np.mgrid[0 : region.shape[0], 0 : region.shape[1]]
    across = np.abs((np.stack([cols, rows], -1) - (centre - offset)) @ along)
    beside = np.clip((across - width / 2) / max(feather, 1.0), 0.0, 1.0)
    difference = np.where(ignore, 0.0, np.abs(warped - region.astype(np.float32)).max(axis=2)).astype(np.float32)
    difference = cv2.GaussianBlur(difference, (0, 0), max(feather / 2, 0.5))
    agree = np.clip(1.0 - (difference - CHEEK_TOLERANCE) / CHEEK_TOLERANCE, 0.0, 1.0) * usable
    return (1.0 - beside * (1.0 - agree)).astype(np.float32)


def tongue_mask(shape, offset, upper_edge, lower_edge, blur):
    """Soft mask of the tongue in the opening between `upper_edge` and `lower_edge` ((k, 2) each, corner to
    corner): up from the lower edge by TONGUE_SHARE of the opening in the middle, down to none at the corners."""
    dome = np.sin(np.pi * np.arange(1, len(lower_edge) + 1) / (len(lower_edge) + 1))
    top = lower_edge + (TONGUE_SHARE * dome)[:, None] * (upper_edge - lower_edge)
    return cv2.GaussianBlur(fill_polygon(shape, np.concatenate([top, lower_edge[::-1]]), offset), (0, 0), max(blur, 0.5))


def teeth_mask(
    shape, offset, from_edge, to_edge, height, blur, share=TEETH_SHARE, depth=TEETH_DEPTH, width=TOOTH_WIDTH, turn=TEETH_TURN
):
    """Soft mask of teeth that show from `from_edge` towards `to_edge` ((k, 2) each, corner to corner; the upper
    teeth from the upper edge of an opening, the lower ones from its lower edge), for a face `height` pixels
    tall: `share` of the opening but at most `depth` face heights deep in the middle, none at the corners; each
    column's value falls towards the corners too (sin ** `turn`), as the teeth turn away into the mouth's shade, and
    dips between teeth `width` of the mouth's width apart."""
    dome = np.sin(np.pi * np.arange(1, len(from_edge) + 1) / (len(from_edge) + 1))
    opening = np.linalg.norm(to_edge - from_edge, axis=1)
    reach = np.minimum(share * opening, depth * height) * np.sqrt(dome)
    direction = (to_edge - from_edge) / np.maximum(opening, 1e-6)[:, None]
    tips = from_edge + reach[:, None] * direction
    band = fill_polygon(shape, np.concatenate([from_edge, tips[::-1]]), offset)
    columns = np.arange(shape[1], dtype=np.float32) + offset[0]
    span = float(from_edge[-1, 0] - from_edge[0, 0])
    across = np.clip((columns - from_edge[0, 0]) / (span if abs(span) > 1e-6 else 1e-6), 0.0, 1.0)
    light = np.sin(np.pi * across) ** turn
    tooth = width * abs(span)
    from_line = ((across - 0.5) * abs(span) / max(tooth, 1e-6) + 0.5) % 1.0 - 0.5  # in teeth, a line at the midline
    light *= 1.0 - TOOTH_LINE_SHADE * np.exp(-0.5 * (from_line * tooth / max(0.6, 0.1 * tooth)) ** 2)
    return cv2.GaussianBlur(band, (0, 0), max(blur, 0.5)) * light[None, :]


def lip_ring(shape, landmarks):
    """(H, W) bool: the lips, between the outer and the inner lip lines of `landmarks`."""
    origin = np.zeros(2)
    inner = np.asarray(landmarks, np.float64)[list(UPPER_INNER_LIP) + list(LOWER_INNER_LIP[::-1])]
    return (fill_polygon(shape, np.asarray(landmarks, np.float64)[list(OUTER_LIPS)], origin) > 0.5) & (
        fill_polygon(shape, inner, origin) < 0.5
    )


def lip_colour(image, landmarks):
    """The median colour of the lips (`lip_ring`) of `landmarks` on `image`, or None where they cover too few
    pixels to tell."""
    ring = lip_ring(image.shape[:2], landmarks)
    return tuple(float(value) for value in np.median(image[ring], axis=0)) if ring.sum() >= 8 else None


def teeth_in_light(face_colour):
    """The colour of teeth in the light of a face of `face_colour` (RGB): TEETH_SATURATION as saturated, as bright as
    its brightest channel."""
    face_colour = np.asarray(face_colour, np.float64)
    grey = face_colour.mean()
    teeth = grey + TEETH_SATURATION * (face_colour - grey)
    return tuple(float(value) for value in teeth * face_colour.max() / max(float(teeth.max()), 1e-6))


def cavity_image(shape, offset, landmarks, colour):
    """The inside of a mouth: `colour`, darker towards its middle, as in a real mouth's shadow."""
    top, bottom = landmarks[INNER_TOP] - offset, landmarks[INNER_BOTTOM] - offset
    rows = np.arange(shape[0], dtype=np.float32)[:, None]
    middle, half = (top[1] + bottom[1]) / 2, max(abs(bottom[1] - top[1]) / 2, 1.0)
    shade = 1.0 - 0.45 * np.clip(1.0 - np.abs(rows - middle) / half, 0.0, 1.0)
    return np.broadcast_to(shade[..., None] * np.asarray(colour, np.float32), (*shape, 3))
