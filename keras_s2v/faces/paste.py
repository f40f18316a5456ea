"""`paste_face` puts a generated crop back through a soft mouth-and-jaw mask, colour-matched, so no pixel
outside the mask changes and no crop edge shows.
"""

import cv2
import numpy as np

from keras_s2v.faces.alignment import warp_image
from keras_s2v.faces.landmarks import JAW, MOUTH, NOSE_TIP, UPPER_LIP
from keras_s2v.faces.masks import ellipse_map

# The paste-back: the lips in the aligned crop (centre row, half height, half width; masks.ellipse_map),
# the scale, in crop pixels, below which the source's detail is kept around them, and the change
# (grey levels, after a blur) from which a generated pixel counts as drawn anew. Chosen on
# photos and clips that no reported figure uses (docs/experiments.md, "The paste keeps more of the source").
LIPS_ELLIPSE = (0.70, 0.12, 0.22)
DETAIL_SIGMA = 4.0
CHANGE_TOLERANCE = 30.0
# With landmarks the source is kept above the upper lip's top edge, fading in over this share of the mouth width.
UPPER_LIP_RAMP = 0.15
# With landmarks the jaw line below the mouth moves this many feathers towards it (paste_mask).
JAW_INSET = 1.0


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
    hardly moves with the lips (docs/experiments.md).
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
    above = np.concatenate(
        [[left - far * along, left - far * along + far * up], [right + far * along + far * up, right + far * along], points[::-1]]
    )
    region = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(region, [np.round(above * 4).astype(np.int32)], 1, shift=2)
    # Pixel centres lie half a pixel off the edge on either side of it.
    signed = np.where(
        region > 0, 0.5 - cv2.distanceTransform(region, cv2.DIST_L2, 5), cv2.distanceTransform(1 - region, cv2.DIST_L2, 5) - 0.5
    )
    return np.clip(1.0 + signed / max(1.0, ramp * width), 0.0, 1.0).astype(np.float32)


def paste_face(
    frame,
    generated_crop,
    alignment,
    face,
    feather=0.05,
    detail_tolerance=CHANGE_TOLERANCE,
    detail_sigma=DETAIL_SIGMA,
    keep_above_lips=True,
):
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
    source_crop = warp_image(frame, alignment.matrix, alignment.size).astype(np.float32)
    generated_crop = np.asarray(generated_crop, np.float32)
    keep = _unchanged(generated_crop, source_crop, detail_tolerance)
    to_region = alignment.matrix.copy()
    to_region[:, 2] += alignment.matrix[:, :2] @ [x0, y0]  # region pixel -> crop pixel

    def back(image):
        return cv2.warpAffine(
            image, to_region, (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
        )

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
    local = (cv2.GaussianBlur(difference, (0, 0), sigma) + mean * 1e-3) / (
        cv2.GaussianBlur(weight, (0, 0), sigma)[..., None] + 1e-3
    )
    return generated + cv2.resize(local, (width, height), interpolation=cv2.INTER_LINEAR)
