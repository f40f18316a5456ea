"""A synthetic speaker's face painted once into a sprite in face coordinates.

Textured skin, freckles, stubble or beard, eyes, brows, hair with strands, glasses, neck and
clothes. Textures are precomputed, so a frame (animation.py) costs a few array operations, not fresh
noise.
"""

import copy
import dataclasses
import functools

import cv2
import numpy as np

from keras_s2v.lab.synth.hair import hair_strands, paint_back_hair, paint_beard, paint_brows_hair_glasses
from keras_s2v.lab.synth.look import EYE_AXES, EYES, MOUTH_Y, Look, smooth_noise, smoothstep

# --------------------------------------------------------------------------- the sprite
# The sprite spans these face coordinates (units of the radius; x right, y down, 0 at the face centre).
_SPRITE_X = (-2.2, 2.2)
_SPRITE_Y = (-2.0, 2.8)


class _Canvas:
    """Paints premultiplied RGBA in face coordinates; masks are drawn anti-aliased at 1/16 pixel."""

    def __init__(self, radius):
        self.r = float(radius)
        self.origin = (-_SPRITE_X[0] * self.r, -_SPRITE_Y[0] * self.r)
        width = int(np.ceil((_SPRITE_X[1] - _SPRITE_X[0]) * self.r)) + 1
        height = int(np.ceil((_SPRITE_Y[1] - _SPRITE_Y[0]) * self.r)) + 1
        self.shape = (height, width)
        columns, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self.x = (columns - self.origin[0]) / self.r
        self.y = (rows - self.origin[1]) / self.r
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.alpha = np.zeros((height, width), np.float32)

    def copy(self):
        other = copy.copy(self)  # shares the coordinate grids, not the paint
        other.rgb, other.alpha = self.rgb.copy(), self.alpha.copy()
        return other

    def row(self, y):
        return int(round(self.origin[1] + y * self.r))

    def column(self, x):
        return int(round(self.origin[0] + x * self.r))

    def _fixed(self, x, y):
        return int(round((self.origin[0] + x * self.r) * 16)), int(round((self.origin[1] + y * self.r) * 16))

    def ellipse(self, center, axes, angle=0.0, start=0, end=360, thickness=-1):
        mask = np.zeros(self.shape, np.uint8)
        size = (max(1, int(round(axes[0] * self.r * 16))), max(1, int(round(axes[1] * self.r * 16))))
        cv2.ellipse(mask, self._fixed(*center), size, angle, start, end, 255, thickness, cv2.LINE_AA, 4)
        return mask.astype(np.float32) / 255

    def polyline(self, points, thickness):
        mask = np.zeros(self.shape, np.uint8)
        fixed = np.array([self._fixed(x, y) for x, y in points], np.int32)
        cv2.polylines(mask, [fixed], False, 255, max(1, int(round(thickness))), cv2.LINE_AA, 4)
        return mask.astype(np.float32) / 255

    def blob(self, center, sigma_x, sigma_y=None):
        """A soft Gaussian spot, 1 at its centre."""
        sigma_y = sigma_x if sigma_y is None else sigma_y
        return np.exp(-0.5 * (((self.x - center[0]) / sigma_x) ** 2 + ((self.y - center[1]) / sigma_y) ** 2))

    def paint(self, mask, colour):
        """`colour` (RGB or an RGB image) over the canvas, with coverage `mask`."""
        cover = mask[..., None]
        self.rgb = self.rgb * (1 - cover) + np.asarray(colour, np.float32) * cover
        self.alpha = self.alpha * (1 - mask) + mask

    def shade(self, mask, factor):
        """Multiply what is painted by `factor` (a number or RGB) where `mask` is 1."""
        self.rgb *= 1 - mask[..., None] * (1 - np.asarray(factor, np.float32))

    def rgba(self):
        return np.dstack([self.rgb, self.alpha]).astype(np.float32)

    def over(self, other):
        """This canvas composited over `other` (same geometry)."""
        out = other.copy()
        out.rgb = self.rgb + other.rgb * (1 - self.alpha[..., None])
        out.alpha = self.alpha + other.alpha * (1 - self.alpha)
        return out


@dataclasses.dataclass
class _Layers:
    """One look, painted: what every frame of the speaker reuses."""

    radius: float
    origin: tuple
    open_eyes: np.ndarray  # (h, w, 4) premultiplied RGBA
    shut_eyes: np.ndarray  # the same with the eyelids closed
    lid: np.ndarray  # (h, w): 0 at the top of an eye, 1 at its bottom, 2 outside the eyes
    eye_rows: slice  # the rows a blink changes
    normals: np.ndarray  # (h, w, 3) unit surface normals (x right, y down, z to the camera)
    jaw_rows: int  # the first sprite row the jaw moves
    jaw_map_x: np.ndarray
    jaw_map_y: np.ndarray
    jaw_weight: np.ndarray  # how far each pixel from jaw_rows down follows the jaw (0..1)
    lip_grain: np.ndarray  # (h, w) lip texture, a factor around 1
    mouth_rows: slice
    mouth_columns: slice
    lips: np.ndarray
    teeth: np.ndarray


def _skin(canvas, look, rng):
    """Skin colour with mottling at two scales, pores and blotchy redness (all scaled by look.texture)."""
    r, shape, strength = canvas.r, canvas.shape, look.texture
    if strength == 0:
        return np.broadcast_to(np.asarray(look.skin, np.float32), (*shape, 3))
    mottle = smooth_noise(rng, shape, 0.22 * r)
    grain = smooth_noise(rng, shape, 1.6)
    fine = smooth_noise(rng, shape, 0.6)
    pores = np.clip(smooth_noise(rng, shape, 0.6) - 2.0, 0, None)
    value = 1 + strength * (0.06 * mottle + 0.045 * grain + 0.035 * fine - 0.12 * pores)
    redness = strength * 0.05 * np.clip(smooth_noise(rng, shape, 0.1 * r), 0, None)  # blotches redden, never turn green
    tint = np.stack([1 + redness, 1 - 0.4 * redness, 1 - 0.6 * redness], axis=-1)
    return np.asarray(look.skin, np.float32) * value[..., None] * tint


def _paint_body(canvas, look, rng, skin):
    """Clothes and neck, behind the face."""
    x, y, r = canvas.x, canvas.y, canvas.r
    shoulder_top = 1.72 + 0.25 * np.clip((np.abs(x) - 0.4) / 1.3, 0, None) ** 1.5
    torso = smoothstep(-0.5 / r, 0.5 / r, y - shoulder_top)
    weave = 0.04 * np.sin(canvas.x * r * 1.7) * np.sin(canvas.y * r * 1.7)
    fabric = 1 + look.texture * (
        0.07 * smooth_noise(rng, canvas.shape, 0.3 * r) + 0.03 * smooth_noise(rng, canvas.shape, 1.0) + weave
    )
    folds = 1 - 0.12 * np.clip(np.abs(x) - 0.8, 0, 1)
    canvas.paint(torso, np.asarray(look.clothes, np.float32) * (fabric * folds)[..., None])
    neck = np.clip(0.5 - (np.abs(x) - (0.4 + 0.06 * np.clip(y - 1.2, 0, None))) * r, 0, 1) * (y > 0.5)
    neck *= np.clip(0.5 - (y - (1.95 - 0.25 * (1 - (x / 0.42) ** 2))) * r, 0, 1)
    under_chin = 0.62 + 0.3 * smoothstep(1.2, 1.9, y)
    canvas.paint(neck, skin * under_chin[..., None])


def _paint_face(canvas, look, rng, skin):
    """Ears, the face with its textured skin, freckles, cheeks, eye sockets and nose."""
    r = canvas.r
    for side in (-1, 1):
        ear = canvas.ellipse((side * 0.97, -0.05), (0.13, 0.24))
        canvas.paint(ear, skin * 0.9)
        canvas.shade(canvas.ellipse((side * 0.99, -0.04), (0.06, 0.14)), 0.75)
    face = canvas.ellipse((0, 0), (1.0, 1.3))
    rho = np.hypot(canvas.x, canvas.y / 1.3)
    form = 1 - 0.22 * np.clip(rho, 0, 1) ** 6  # the face turns away at its outline
    canvas.paint(face, skin * form[..., None])
    if look.freckles > 0:
        _paint_freckles(canvas, look, rng, face)
    for side in (-1, 1):
        canvas.shade(canvas.blob((side * 0.5, 0.22), 0.2, 0.15) * face, (1.05, 0.96, 0.96))  # cheeks
        canvas.shade(canvas.blob((side * 0.4, -0.27), 0.24, 0.13) * face, 0.84)  # eye sockets
        canvas.shade(canvas.blob((side * 0.11, 0.05), 0.05, 0.22) * face, 0.92)  # the nose's sides
        nostril = canvas.ellipse((side * 0.055, 0.355), (0.035, 0.018), angle=side * 20)
        canvas.shade(nostril, 0.35)
        canvas.shade(
            canvas.ellipse(
                (side * 0.1, 0.33),
                (0.05, 0.045),
                start=-90 + side * 90 - 60,
                end=-90 + side * 90 + 60,
                thickness=max(1, int(r / 40)),
            ),
            0.85,
        )
    canvas.shade(canvas.blob((0, 0.0), 0.03, 0.2) * face, 1.07)  # the ridge catches light
    canvas.shade(canvas.blob((0, 0.26), 0.07, 0.05) * face, (1.07, 1.02, 1.02))  # the tip
    canvas.shade(canvas.blob((0, 0.42), 0.12, 0.03) * face, 0.9)  # under the nose
    canvas.shade(canvas.blob((0, 0.82), 0.15, 0.05) * face, 0.9)  # under the lower lip
    return face


def _paint_freckles(canvas, look, rng, face):
    r = canvas.r
    count = int(look.freckles * 110 * (r / 50) ** 2)
    mask = np.zeros(canvas.shape, np.uint8)
    for _ in range(count):
        x, y = rng.normal(0, 0.42), rng.normal(0.02, 0.16)
        if abs(y - 0.05) > 0.35 or abs(x) > 0.85:
            continue
        centre = canvas._fixed(x, y)
        cv2.circle(mask, centre, int(16 * rng.uniform(0.5, 1.1)), int(rng.uniform(90, 220)), -1, cv2.LINE_AA, 4)
    spots = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 0.5) * face
    canvas.shade(spots, (0.72, 0.62, 0.56))


def _paint_eyes(canvas, look, rng):
    """Open eyes: sclera, iris with texture, pupil, catchlight and lash line."""
    r = canvas.r
    iris_texture = 1 + 0.2 * smooth_noise(rng, canvas.shape, 0.5)
    for ex, ey in EYES:
        sclera = canvas.ellipse((ex, ey), EYE_AXES)
        corners = 1 - 0.3 * ((canvas.x - ex) / EYE_AXES[0]) ** 2
        lid_shadow = 1 - 0.25 * smoothstep(ey, ey - EYE_AXES[1], canvas.y)
        canvas.paint(sclera, np.array([236, 231, 224], np.float32) * (corners * lid_shadow)[..., None])
        iris = canvas.ellipse((ex, ey + 0.005), (0.085, 0.085)) * sclera
        ring = 1 - 0.45 * smoothstep(0.05, 0.085, np.hypot(canvas.x - ex, canvas.y - ey))
        canvas.paint(iris, np.asarray(look.eyes, np.float32) * (iris_texture * ring * lid_shadow)[..., None])
        canvas.paint(canvas.ellipse((ex, ey + 0.005), (0.036, 0.036)) * sclera, (14, 10, 10))
        canvas.paint(canvas.ellipse((ex + 0.03, ey - 0.028), (0.017, 0.017)) * sclera, (245, 245, 245))
        lashes = canvas.ellipse(
            (ex, ey), (EYE_AXES[0] * 1.04, EYE_AXES[1] * 1.1), start=190, end=350, thickness=max(1, int(round(r / 28)))
        )
        canvas.paint(lashes, (25, 18, 16))
        canvas.shade(canvas.ellipse((ex, ey), (EYE_AXES[0], EYE_AXES[1] * 1.05), start=20, end=160, thickness=1), 0.8)


def _paint_shut_eyes(canvas):
    """Closed lids: skin already covers the eyes; the lashes meet along the lower arc."""
    r = canvas.r
    for ex, ey in EYES:
        line = canvas.ellipse(
            (ex, ey - 0.01), (EYE_AXES[0] * 1.02, EYE_AXES[1] * 0.9), start=15, end=165, thickness=max(1, int(round(r / 28)))
        )
        canvas.paint(line, (30, 22, 20))
        canvas.shade(canvas.ellipse((ex, ey - 0.02), EYE_AXES), 0.9)


def _lid_map(canvas):
    """For the blink: where a closing lid covers each eye (0 its top, 1 its bottom; 2 elsewhere)."""
    lid = np.full(canvas.shape, 2.0, np.float32)
    ax, ay = EYE_AXES
    for ex, ey in EYES:
        inside = np.hypot((canvas.x - ex) / (ax * 1.15), (canvas.y - ey) / (ay * 1.3)) < 1
        lid[inside] = np.clip((canvas.y[inside] - (ey - ay)) / (2 * ay), 0, 1)
    return lid


def _normals(canvas):
    """Surface normals of a head, nose, brow ridge, neck and torso (for the moving light)."""
    x, y, r = canvas.x, canvas.y, canvas.r
    face = 0.85 * np.sqrt(np.clip(1 - x**2 - (y / 1.3) ** 2, 0, None))
    head = 0.8 * np.sqrt(np.clip(1 - (x / 1.1) ** 2 - ((y + 0.15) / 1.45) ** 2, 0, None))
    neck = 0.4 * np.sqrt(np.clip(1 - (x / 0.45) ** 2, 0, None)) * (y > 0.6)
    torso = 0.5 * np.sqrt(np.clip(1 - (x / 2.2) ** 2, 0, None)) * (y > 1.7)
    nose = 0.1 * np.exp(-((x / 0.09) ** 2)) * smoothstep(-0.3, 0.0, y) * (1 - smoothstep(0.3, 0.38, y))
    nose += 0.06 * np.exp(-((x**2 + (y - 0.26) ** 2) / 0.08**2))
    brows = 0.05 * np.exp(-(((y + 0.42) / 0.08) ** 2)) * (np.abs(x) < 0.75)
    chin = 0.05 * np.exp(-((x**2 + (y - 1.0) ** 2) / 0.2**2))
    height = np.maximum.reduce([face + (nose + brows + chin) * (face > 0), head, neck, torso]) * r
    height = cv2.GaussianBlur(height.astype(np.float32), (0, 0), 1.2)
    gy, gx = np.gradient(height)
    normals = np.stack([-gx, -gy, np.ones_like(gx)], axis=-1)
    return (normals / np.linalg.norm(normals, axis=-1, keepdims=True)).astype(np.float32)


def _jaw_warp(canvas):
    """Which rows follow the jaw, and how much: the chin and everything below the mouth, fading out
    down the neck and to the sides, so a beard moves with the jaw and the cheeks stretch."""
    start = canvas.row(MOUTH_Y - 0.06)
    x, y = canvas.x[start:], canvas.y[start:]
    vertical = smoothstep(MOUTH_Y - 0.06, MOUTH_Y + 0.08, y) * (1 - smoothstep(1.5, 2.2, y))
    weight = vertical * (1 - smoothstep(0.9, 1.3, np.abs(x)))
    rows, columns = np.mgrid[start : canvas.shape[0], 0 : canvas.shape[1]].astype(np.float32)
    return start, columns, rows, weight.astype(np.float32)


_PARTS = ("skin", "hair", "clothes", "freckles", "beard", "eyes", "brows", "lips")


def _stream(look, part):
    """A random stream per part, so that a beard or freckles more or less leaves the rest as it was."""
    return np.random.default_rng([look.seed, 1 + _PARTS.index(part)])


@functools.lru_cache(maxsize=8)
def paint_sprite(look_key):
    """Paint one look (given as a hashable tuple of Look's fields) into _Layers."""
    look = Look(*look_key)
    canvas = _Canvas(look.radius)
    crown = (0.0, -1.8)  # above the hair, so that strands fall from out of sight
    strands = hair_strands(canvas, _stream(look, "hair"), crown) if look.texture > 0 else np.zeros(canvas.shape, np.float32)
    skin = _skin(canvas, look, _stream(look, "skin"))
    paint_back_hair(canvas, look, strands, crown)
    _paint_body(canvas, look, _stream(look, "clothes"), skin)
    face = _paint_face(canvas, look, _stream(look, "freckles"), skin)
    paint_beard(canvas, look, _stream(look, "beard"), face)
    shut = canvas.copy()
    _paint_eyes(canvas, look, _stream(look, "eyes"))
    _paint_shut_eyes(shut)
    overlay = _Canvas(look.radius)
    paint_brows_hair_glasses(overlay, look, _stream(look, "brows"), strands, crown)
    open_eyes, shut_eyes = overlay.over(canvas), overlay.over(shut)
    jaw_rows, jaw_map_x, jaw_map_y, jaw_weight = _jaw_warp(canvas)
    r = canvas.r
    mouth_rows = slice(canvas.row(MOUTH_Y - 0.3), canvas.row(MOUTH_Y + 0.5))
    mouth_columns = slice(canvas.column(-0.62), canvas.column(0.62) + 1)
    lip_grain = (
        1 + look.texture * 0.1 * smooth_noise(_stream(look, "lips"), canvas.shape, 0.5, 1.8)
        if look.texture > 0
        else np.ones(canvas.shape, np.float32)
    )
    return _Layers(
        radius=r,
        origin=canvas.origin,
        open_eyes=open_eyes.rgba(),
        shut_eyes=shut_eyes.rgba(),
        lid=_lid_map(canvas),
        eye_rows=slice(canvas.row(EYES[0][1] - 0.15), canvas.row(EYES[0][1] + 0.15)),
        normals=_normals(canvas),
        jaw_rows=jaw_rows,
        jaw_map_x=jaw_map_x,
        jaw_map_y=jaw_map_y,
        jaw_weight=jaw_weight,
        lip_grain=lip_grain.astype(np.float32),
        mouth_rows=mouth_rows,
        mouth_columns=mouth_columns,
        lips=np.asarray(look.lips, np.float32),
        teeth=np.asarray(look.teeth, np.float32),
    )
