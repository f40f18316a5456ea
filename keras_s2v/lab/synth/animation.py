"""One frame of a synthetic speaker: the painted sprite with the jaw dropped, the mouth drawn (lips, teeth,
tongue), blinks, light from a drifting direction, warped into place.
"""

import dataclasses

import cv2
import numpy as np

from keras_s2v.faces.alignment import BOX_MARGIN, BOX_SHIFT, EYE_Y, FACE_SCALE
from keras_s2v.lab.synth.backdrops import paint_backdrop
from keras_s2v.lab.synth.look import EYE_AXES, EYES, MOUTH_Y
from keras_s2v.lab.synth.painting import paint_sprite


# --------------------------------------------------------------------------- one frame
def _blink(layers, blink):
    """The sprite with the lids `blink` of the way down (0 open, 1 shut)."""
    sprite = layers.open_eyes.copy()
    if blink > 0:
        rows = layers.eye_rows
        cover = np.clip((blink - layers.lid[rows]) * (2 * EYE_AXES[1] * layers.radius) + 0.5, 0, 1)[..., None]
        sprite[rows] += (layers.shut_eyes[rows] - sprite[rows]) * cover
    return sprite


def _open_jaw(sprite, layers, drop):
    """Move the chin (and what grows on it) `drop` pixels down; the cheeks stretch."""
    start = layers.jaw_rows
    map_y = layers.jaw_map_y - drop * layers.jaw_weight
    sprite[start:] = cv2.remap(sprite, layers.jaw_map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _draw_mouth(sprite, layers, mouth_open, mouth_width):
    """Lips, and between them when open: a dark cavity, a tongue, upper teeth and (wide open) lower teeth."""
    r = layers.radius
    rows, columns = layers.mouth_rows, layers.mouth_columns
    y = (np.arange(rows.start, rows.stop, dtype=np.float32) - layers.origin[1])[:, None] - MOUTH_Y * r
    x = (np.arange(columns.start, columns.stop, dtype=np.float32) - layers.origin[0])[None, :]
    half_width = (0.2 + 0.25 * mouth_width) * r
    gap = 0.42 * mouth_open * r
    across = np.sqrt(np.clip(1 - (x / half_width) ** 2, 0, 1))  # 1 at the middle, 0 at the corners
    within = np.clip(half_width - np.abs(x) + 0.5, 0, 1)

    def between(top, bottom):
        return np.clip(y - top + 0.5, 0, 1) * np.clip(bottom - y + 0.5, 0, 1) * within

    upper_inner, lower_inner = -0.35 * gap * across, 0.65 * gap * across
    bow = 1 - 0.3 * np.exp(-((x / (0.12 * half_width)) ** 2))  # the dip of Cupid's bow
    upper_outer = upper_inner - 0.075 * r * across**0.7 * bow
    lower_outer = lower_inner + 0.1 * r * across**0.7
    roi = sprite[rows, columns, :3]
    drop = int(round(0.65 * gap))
    lower_rows = slice(rows.start - drop, rows.stop - drop)  # the lower lip's texture moves with it
    grain = np.where(y < 0, layers.lip_grain[rows, columns], layers.lip_grain[lower_rows, columns])[..., None]
    lower_light = 1 + 0.2 * np.exp(-(((y - lower_inner - 0.035 * r) / (0.025 * r)) ** 2))
    lip_colour = layers.lips * grain * np.where(y < upper_inner, 0.8, lower_light)[..., None]
    lips = between(upper_outer, lower_outer)[..., None]
    roi = roi * (1 - lips) + lip_colour * lips
    cavity = between(upper_inner, lower_inner)
    if gap > 0.5:
        depth = np.clip(y / max(gap, 1.0), -0.5, 1)
        roi = _over(roi, cavity, np.array([42, 12, 18], np.float32) * (0.8 + 0.3 * depth)[..., None])
        tongue_y = lower_inner - 0.25 * gap
        tongue = cavity * np.clip((1 - np.hypot(x / (0.62 * half_width), (y - tongue_y) / (0.42 * gap + 1))) * 4, 0, 1)
        roi = _over(
            roi,
            tongue,
            np.array([178, 72, 84], np.float32) * (0.8 + 0.3 * np.clip(1 - (y - tongue_y) / (0.4 * gap + 1), 0, 1))[..., None],
        )
        roi = _teeth(roi, layers, cavity, x, y, upper_inner, lower_inner, half_width, mouth_open)
    shut = max(0.0, 1 - gap / 2)  # the line where the lips meet
    line = np.clip(1 - np.abs(y - 0.1 * gap) / 0.9, 0, 1) * within * np.maximum(shut, 1 - across)
    roi = _over(roi, line, layers.lips * 0.4)
    corners = np.exp(-(((np.abs(x) - half_width) ** 2 + y**2) / (0.035 * r) ** 2))
    sprite[rows, columns, :3] = roi * (1 - 0.3 * corners)[..., None]


def _over(image, cover, colour):
    cover = cover[..., None]
    return image * (1 - cover) + colour * cover


def _teeth(roi, layers, cavity, x, y, upper_inner, lower_inner, half_width, mouth_open):
    r = layers.radius
    edges = np.array([0, 0.1, 0.185, 0.26, 0.33, 0.4], np.float32) * r
    gaps = np.exp(-(((np.abs(x)[..., None] - edges) / 0.6) ** 2)).max(axis=-1)  # dark lines between teeth
    shade = (1 - 0.35 * (x / (0.8 * half_width)) ** 2) * (1 - 0.3 * gaps)  # the arch turns away at the sides
    sides = np.clip((0.8 * half_width - np.abs(x)) * 0.5, 0, 1)
    height = np.minimum(0.11 * r, 0.55 * (lower_inner - upper_inner))
    upper = cavity * sides * np.clip(upper_inner + height - y + 0.5, 0, 1)
    under_lip = 0.8 + 0.2 * np.clip((y - upper_inner) / (0.04 * r), 0, 1)
    roi = _over(roi, upper, layers.teeth * (shade * under_lip)[..., None])
    if mouth_open > 0.45:
        lower_height = 0.07 * r * np.clip((mouth_open - 0.45) / 0.3, 0, 1)
        lower = (
            cavity * np.clip((0.62 * half_width - np.abs(x)) * 0.5, 0, 1) * np.clip(y - (lower_inner - lower_height) + 0.5, 0, 1)
        )
        roi = _over(roi, lower, layers.teeth * 0.85 * shade[..., None])
    return roi


def _light(sprite, layers, light):
    """Lambert shading from a light `light = (azimuth, off_axis)` radians, plus ambient light."""
    azimuth, off_axis = light
    direction = np.array([np.sin(off_axis) * np.cos(azimuth), np.sin(off_axis) * np.sin(azimuth), np.cos(off_axis)], np.float32)
    lambert = np.clip(layers.normals @ direction, 0, 1)
    sprite[..., :3] *= (0.5 + 0.55 * lambert)[..., None]


def render_frame(layers, background, center, mouth_open, mouth_width, blink, tilt, light):
    """One float32 RGB frame of `background`'s size."""
    sprite = _blink(layers, blink)
    mouth_open = float(np.clip(mouth_open, 0, 1))
    if mouth_open > 0:
        _open_jaw(sprite, layers, 0.65 * 0.42 * mouth_open * layers.radius)
    _draw_mouth(sprite, layers, mouth_open, float(np.clip(mouth_width, 0, 1)))
    if light is not None:
        _light(sprite, layers, light)
    angle = np.deg2rad(tilt)
    cos, sin = np.cos(angle), np.sin(angle)
    ox, oy = layers.origin
    warp = np.array([[cos, -sin, center[0] - cos * ox + sin * oy], [sin, cos, center[1] - sin * ox - cos * oy]], np.float64)
    height, width = background.shape[:2]
    # Replicating the border extends the torso down and sideways; the sprite's top is transparent.
    placed = cv2.warpAffine(sprite, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return background * (1 - placed[..., 3:]) + placed[..., :3]


def look_key(look):
    """Look's fields as a hashable tuple (the caches' key)."""
    values = (getattr(look, field.name) for field in dataclasses.fields(look))
    return tuple(tuple(np.asarray(value).tolist()) if isinstance(value, (list, tuple, np.ndarray)) else value for value in values)


def draw_face(size, center, look, mouth_open=0.0, mouth_width=0.5, blink=0.0, tilt=0.0, light=None):
    """One RGB frame. Returns (image, face_box) with face_box = (x, y, w, h).

    mouth_open, mouth_width and blink are in [0, 1]; tilt is in degrees; light, if given, is
    (azimuth, off-axis angle) in radians of a light that shades the face.
    """
    key = look_key(look)
    frame = render_frame(paint_sprite(key), paint_backdrop(key, tuple(size)), center, mouth_open, mouth_width, blink, tilt, light)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), face_box(center, look.radius)


def face_box(center, radius):
    """The sidecar's face box (x, y, w, h) of a face drawn at `center` with `radius`.

    Placed so that its box-aligned crop puts the eyes and the mouth where the landmark-aligned
    crop of a real face has them (EYE_Y, FACE_SCALE): a generator trained on the
    corpus sees its mouths where `dub` (cnn detector) shows it the mouths of real faces. The
    earlier box put the mouth 0.04 of the crop higher, and on real photos the generator then
    painted a still smear over the lips instead of moving them (docs/experiments.md).
    """
    eye_y, eye_to_mouth = EYES[0][1] * radius, (MOUTH_Y - EYES[0][1]) * radius
    side = eye_to_mouth / FACE_SCALE  # the crop's side (eye-to-mouth spans more than eye-to-eye here)
    height = side / (1 + BOX_MARGIN)
    crop_center = center[1] + eye_y + (0.5 - EYE_Y) * side
    top = crop_center - BOX_SHIFT * height - height / 2
    return (center[0] - radius, top, 2 * radius, height)
