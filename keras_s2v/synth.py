"""The synthetic talking-face corpus: procedurally drawn faces with matching speech-like audio.

A speaker's face is painted once into a sprite in face coordinates (textured skin, freckles,
stubble or beard, eyes, brows, hair with strands, glasses, neck and clothes) over a structured
backdrop. Each frame then drops the jaw, draws the mouth (lips, teeth, tongue), lights the sprite
from a drifting direction and warps it into place; a clip adds camera effects (a brightness
drift, blur, sensor noise and H.264 at a quality drawn per clip). Textures are precomputed, so
a frame costs a few array operations, not fresh noise.
"""

import copy
import dataclasses
import functools

import cv2
import numpy as np

from keras_s2v import faces
from keras_s2v.corpus import sidecar_path
from keras_s2v.speech_synth import Voice, mouth_per_frame, random_script, random_voice, synthesize_speech  # noqa: F401 (the corpus's voice)

BACKDROPS = ("wall", "shelf", "bokeh", "tiles", "curtain")


@dataclasses.dataclass
class Look:
    """What stays fixed for one speaker. The defaults draw a plain face: flat skin on a flat background."""

    skin: tuple = (200, 160, 130)
    background: tuple = (60, 90, 120)
    hair: tuple = (40, 30, 20)
    lips: tuple = (150, 60, 70)
    radius: float = 60.0  # half the face width in pixels
    texture: float = 0.0  # skin mottling and pores, hair strands: 0 (flat) to 1
    freckles: float = 0.0  # 0 (none) to 1 (many)
    beard: float = 0.0  # 0 none, up to ~0.5 stubble, 1 a full beard
    glasses: tuple | None = None  # frame colour, or None for no glasses
    hair_length: float = 0.0  # 0 a cap on the crown, 1 down to the jaw
    eyes: tuple = (80, 55, 35)  # iris colour
    clothes: tuple = (70, 75, 90)
    teeth: tuple = (232, 226, 208)
    backdrop: str = "flat"  # "flat" (the background colour) or one of BACKDROPS
    seed: int = 0  # draws the textures and the backdrop

    def __post_init__(self):
        if not self.radius > 0:
            raise ValueError(f"`radius` must be positive; received {self.radius}")
        for name in ("texture", "freckles", "beard", "hair_length"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"`{name}` must be in [0, 1]; received {getattr(self, name)}")
        if self.backdrop not in ("flat", *BACKDROPS):
            raise ValueError(f"`backdrop` must be 'flat' or one of {BACKDROPS}; received {self.backdrop!r}")


# --------------------------------------------------------------------------- the sprite
# The sprite spans these face coordinates (units of the radius; x right, y down, 0 at the face centre).
_SPRITE_X = (-2.2, 2.2)
_SPRITE_Y = (-2.0, 2.8)
_MOUTH_Y = 0.6  # the lips meet here at rest
_EYES = ((-0.4, -0.25), (0.4, -0.25))
_EYE_AXES = (0.18, 0.09)


def _noise(rng, shape, sigma_x, sigma_y=None):
    """Gaussian noise low-passed at (sigma_x, sigma_y) pixels, back at unit standard deviation."""
    field = rng.standard_normal(shape, dtype=np.float32)
    if sigma_x > 0:
        field = cv2.GaussianBlur(field, (0, 0), sigmaX=sigma_x, sigmaY=sigma_y or sigma_x)
    return field / (field.std() + 1e-6)


def _smoothstep(edge0, edge1, value):
    t = np.clip((value - edge0) / (edge1 - edge0), 0, 1)
    return t * t * (3 - 2 * t)


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
    mottle = _noise(rng, shape, 0.22 * r)
    grain = _noise(rng, shape, 1.6)
    fine = _noise(rng, shape, 0.6)
    pores = np.clip(_noise(rng, shape, 0.6) - 2.0, 0, None)
    value = 1 + strength * (0.06 * mottle + 0.045 * grain + 0.035 * fine - 0.12 * pores)
    redness = strength * 0.05 * np.clip(_noise(rng, shape, 0.1 * r), 0, None)  # blotches redden, never turn green
    tint = np.stack([1 + redness, 1 - 0.4 * redness, 1 - 0.6 * redness], axis=-1)
    return np.asarray(look.skin, np.float32) * value[..., None] * tint


def _strands(canvas, rng, crown, width_bins=512):
    """Hair texture: noise in polar coordinates around `crown`, long along the radius, so strands fan out."""
    radius_bins = 160
    fine = _noise(rng, (radius_bins, width_bins), 0.9, 7.0)
    clumps = _noise(rng, (radius_bins, width_bins), 6.0, 12.0)
    field = fine + 0.6 * clumps
    dx, dy = canvas.x - crown[0], canvas.y - crown[1]
    angle_bin = (np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * width_bins
    radius_bin = np.hypot(dx, dy) / 5.0 * radius_bins
    return cv2.remap(field, angle_bin.astype(np.float32), radius_bin.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def _hair_colour(canvas, look, strands, crown):
    """Hair colour from strands, with a band of sheen across the head."""
    hair = np.asarray(look.hair, np.float32)
    distance = np.hypot(canvas.x - crown[0], canvas.y - crown[1])
    sheen = np.exp(-(((distance - 0.55) / 0.12) ** 2)) * (0.6 + 0.4 * np.clip(strands, -1, 2))
    value = 1 + look.texture * 0.3 * strands
    return hair * value[..., None] + look.texture * 28 * sheen[..., None]


def _paint_body(canvas, look, rng, skin):
    """Clothes and neck, behind the face."""
    x, y, r = canvas.x, canvas.y, canvas.r
    shoulder_top = 1.72 + 0.25 * np.clip((np.abs(x) - 0.4) / 1.3, 0, None) ** 1.5
    torso = _smoothstep(-0.5 / r, 0.5 / r, y - shoulder_top)
    weave = 0.04 * np.sin(canvas.x * r * 1.7) * np.sin(canvas.y * r * 1.7)
    fabric = 1 + look.texture * (0.07 * _noise(rng, canvas.shape, 0.3 * r) + 0.03 * _noise(rng, canvas.shape, 1.0) + weave)
    folds = 1 - 0.12 * np.clip(np.abs(x) - 0.8, 0, 1)
    canvas.paint(torso, np.asarray(look.clothes, np.float32) * (fabric * folds)[..., None])
    neck = np.clip(0.5 - (np.abs(x) - (0.4 + 0.06 * np.clip(y - 1.2, 0, None))) * r, 0, 1) * (y > 0.5)
    neck *= np.clip(0.5 - (y - (1.95 - 0.25 * (1 - (x / 0.42) ** 2))) * r, 0, 1)
    under_chin = 0.62 + 0.3 * _smoothstep(1.2, 1.9, y)
    canvas.paint(neck, skin * under_chin[..., None])


def _paint_back_hair(canvas, look, strands, crown):
    """Long hair falls behind the head and shoulders."""
    if look.hair_length < 0.2:
        return
    bottom = -0.3 + 1.7 * look.hair_length
    mask = canvas.ellipse((0, (bottom - 1.45) / 2), (1.22, (bottom + 1.45) / 2))
    canvas.paint(mask, _hair_colour(canvas, look, strands, crown) * 0.8)  # in the shade of the head


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
        canvas.shade(canvas.ellipse((side * 0.1, 0.33), (0.05, 0.045), start=-90 + side * 90 - 60, end=-90 + side * 90 + 60, thickness=max(1, int(r / 40))), 0.85)
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


def _beard_region(canvas, rng):
    """Where stubble and beards grow: jaw, chin, sideburns and upper lip, not the lips; the upper
    edge thins out raggedly over the cheeks."""
    x, y = canvas.x, canvas.y
    top = 0.3 - 0.5 * np.clip((np.abs(x) - 0.5) / 0.45, 0, 1) + 0.05 * _noise(rng, canvas.shape, 0.06 * canvas.r)
    region = _smoothstep(top - 0.1, top + 0.15, y)
    moustache = _smoothstep(0.4, 0.46, y) * (1 - _smoothstep(0.5, 0.56, y)) * (1 - _smoothstep(0.3, 0.36, np.abs(x)))
    region = np.maximum(region, moustache)
    lips = np.clip((np.hypot(x / 0.36, (y - _MOUTH_Y) / 0.12) - 1) * 4, 0, 1)
    region *= np.maximum(lips, moustache * (y < _MOUTH_Y - 0.07))
    return region * _smoothstep(0.0, 0.1, 1.32 - np.hypot(x, y / 1.3) * 1.3)


def _paint_beard(canvas, look, rng, face):
    """Stubble as dark dots with a shadow; a beard as short downward strands over the same region."""
    if look.beard <= 0:
        return
    region = _beard_region(canvas, rng)
    hair = np.asarray(look.hair, np.float32)
    stubble = min(1.0, 2 * look.beard)
    canvas.shade(region * face, 1 - 0.16 * stubble)
    dots = np.clip(_noise(rng, canvas.shape, 0.5) - 0.6, 0, 1.5) / 1.5
    canvas.paint(region * face * dots * 0.85 * stubble, hair * 0.8)
    fullness = np.clip((look.beard - 0.45) * 2.2, 0, 1)
    if fullness > 0:
        strands = _noise(rng, canvas.shape, 0.6, 2.4)
        cover = region * np.clip(0.75 + 0.35 * strands, 0, 1) * fullness
        chin = canvas.ellipse((0, 0.15), (1.0, 1.3 + 0.12 * fullness)) * region
        canvas.paint(np.maximum(cover * face, cover * chin), hair * (0.85 + 0.3 * np.clip(strands, -1.5, 1.5))[..., None])


def _paint_eyes(canvas, look, rng):
    """Open eyes: sclera, iris with texture, pupil, catchlight and lash line."""
    r = canvas.r
    iris_texture = 1 + 0.2 * _noise(rng, canvas.shape, 0.5)
    for ex, ey in _EYES:
        sclera = canvas.ellipse((ex, ey), _EYE_AXES)
        corners = 1 - 0.3 * ((canvas.x - ex) / _EYE_AXES[0]) ** 2
        lid_shadow = 1 - 0.25 * _smoothstep(ey, ey - _EYE_AXES[1], canvas.y)
        canvas.paint(sclera, np.array([236, 231, 224], np.float32) * (corners * lid_shadow)[..., None])
        iris = canvas.ellipse((ex, ey + 0.005), (0.085, 0.085)) * sclera
        ring = 1 - 0.45 * _smoothstep(0.05, 0.085, np.hypot(canvas.x - ex, canvas.y - ey))
        canvas.paint(iris, np.asarray(look.eyes, np.float32) * (iris_texture * ring * lid_shadow)[..., None])
        canvas.paint(canvas.ellipse((ex, ey + 0.005), (0.036, 0.036)) * sclera, (14, 10, 10))
        canvas.paint(canvas.ellipse((ex + 0.03, ey - 0.028), (0.017, 0.017)) * sclera, (245, 245, 245))
        lashes = canvas.ellipse((ex, ey), (_EYE_AXES[0] * 1.04, _EYE_AXES[1] * 1.1), start=190, end=350, thickness=max(1, int(round(r / 28))))
        canvas.paint(lashes, (25, 18, 16))
        canvas.shade(canvas.ellipse((ex, ey), (_EYE_AXES[0], _EYE_AXES[1] * 1.05), start=20, end=160, thickness=1), 0.8)


def _paint_shut_eyes(canvas):
    """Closed lids: skin already covers the eyes; the lashes meet along the lower arc."""
    r = canvas.r
    for ex, ey in _EYES:
        line = canvas.ellipse((ex, ey - 0.01), (_EYE_AXES[0] * 1.02, _EYE_AXES[1] * 0.9), start=15, end=165, thickness=max(1, int(round(r / 28))))
        canvas.paint(line, (30, 22, 20))
        canvas.shade(canvas.ellipse((ex, ey - 0.02), _EYE_AXES) , 0.9)


def _lid_map(canvas):
    """For the blink: where a closing lid covers each eye (0 its top, 1 its bottom; 2 elsewhere)."""
    lid = np.full(canvas.shape, 2.0, np.float32)
    ax, ay = _EYE_AXES
    for ex, ey in _EYES:
        inside = np.hypot((canvas.x - ex) / (ax * 1.15), (canvas.y - ey) / (ay * 1.3)) < 1
        lid[inside] = np.clip((canvas.y[inside] - (ey - ay)) / (2 * ay), 0, 1)
    return lid


def _paint_brows_hair_glasses(overlay, look, rng, strands, crown):
    """What lies over the eyes and forehead: brows, front hair, glasses."""
    r = overlay.r
    hair = np.asarray(look.hair, np.float32)
    brow_texture = 1 + look.texture * 0.35 * _noise(rng, overlay.shape, 2.5, 0.5)
    for side in (-1, 1):
        points = [(side * (0.18 + 0.44 * t), -0.45 - 0.07 * np.sin(np.pi * (0.3 + 0.7 * t)) + 0.02 * t) for t in np.linspace(0, 1, 12)]
        brow = overlay.polyline(points, max(1.0, 0.075 * r))
        overlay.paint(brow * 0.9, hair * brow_texture[..., None])
    x, y = overlay.x, overlay.y
    hairline = -0.86 + 0.4 * x**2 - 0.08 * np.exp(-((x / 0.25) ** 2))  # a little fringe at the middle
    mask = overlay.ellipse((0, -0.72), (1.08 + 0.06 * look.hair_length, 0.78)) * np.clip(0.5 - (y - hairline) * r, 0, 1)
    if look.hair_length > 0.2:  # locks down the sides of the face, over the ears
        bottom = -0.4 + 1.4 * look.hair_length
        for side in (-1, 1):
            mask = np.maximum(mask, overlay.ellipse((side * 1.0, (bottom - 0.9) / 2), (0.24, (bottom + 0.9) / 2)))
    edge = 1 - 0.3 * np.clip(1 - (hairline - y) * 8, 0, 1) * (np.abs(x) < 0.8)  # thinner, darker hair at the hairline
    overlay.paint(mask, _hair_colour(overlay, look, strands, crown) * edge[..., None])
    if look.glasses is not None:
        _paint_glasses(overlay, look)


def _paint_glasses(overlay, look):
    r = overlay.r
    thickness = max(1, int(round(r / 32)))
    frame = np.zeros(overlay.shape, np.float32)
    lenses = np.zeros(overlay.shape, np.float32)
    for ex, ey in _EYES:
        lenses = np.maximum(lenses, overlay.ellipse((ex, ey + 0.01), (0.26, 0.17)))
        frame = np.maximum(frame, overlay.ellipse((ex, ey + 0.01), (0.26, 0.17), thickness=thickness))
        side = np.sign(ex)
        frame = np.maximum(frame, overlay.polyline([(side * 0.66, -0.27), (side * 0.99, -0.31)], thickness))
    frame = np.maximum(frame, overlay.polyline([(-0.15, -0.28), (0, -0.31), (0.15, -0.28)], thickness))
    glint = np.clip(1 - np.abs((overlay.x + overlay.y * 0.8) % 0.8 - 0.3) / 0.06, 0, 1) * lenses
    overlay.paint(lenses * 0.12, (200, 215, 225))  # a faint tint
    overlay.paint(glint * 0.18, (255, 255, 255))
    overlay.paint(frame, np.asarray(look.glasses, np.float32))


def _normals(canvas):
    """Surface normals of a head, nose, brow ridge, neck and torso (for the moving light)."""
    x, y, r = canvas.x, canvas.y, canvas.r
    face = 0.85 * np.sqrt(np.clip(1 - x**2 - (y / 1.3) ** 2, 0, None))
    head = 0.8 * np.sqrt(np.clip(1 - (x / 1.1) ** 2 - ((y + 0.15) / 1.45) ** 2, 0, None))
    neck = 0.4 * np.sqrt(np.clip(1 - (x / 0.45) ** 2, 0, None)) * (y > 0.6)
    torso = 0.5 * np.sqrt(np.clip(1 - (x / 2.2) ** 2, 0, None)) * (y > 1.7)
    nose = 0.1 * np.exp(-((x / 0.09) ** 2)) * _smoothstep(-0.3, 0.0, y) * (1 - _smoothstep(0.3, 0.38, y))
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
    start = canvas.row(_MOUTH_Y - 0.06)
    x, y = canvas.x[start:], canvas.y[start:]
    vertical = _smoothstep(_MOUTH_Y - 0.06, _MOUTH_Y + 0.08, y) * (1 - _smoothstep(1.5, 2.2, y))
    weight = vertical * (1 - _smoothstep(0.9, 1.3, np.abs(x)))
    rows, columns = np.mgrid[start : canvas.shape[0], 0 : canvas.shape[1]].astype(np.float32)
    return start, columns, rows, weight.astype(np.float32)


_PARTS = ("skin", "hair", "clothes", "freckles", "beard", "eyes", "brows", "lips")


def _stream(look, part):
    """A random stream per part, so that a beard or freckles more or less leaves the rest as it was."""
    return np.random.default_rng([look.seed, 1 + _PARTS.index(part)])


@functools.lru_cache(maxsize=8)
def _paint(look_key):
    """Paint one look (given as a hashable tuple of Look's fields) into _Layers."""
    look = Look(*look_key)
    canvas = _Canvas(look.radius)
    crown = (0.0, -1.8)  # above the hair, so that strands fall from out of sight
    strands = _strands(canvas, _stream(look, "hair"), crown) if look.texture > 0 else np.zeros(canvas.shape, np.float32)
    skin = _skin(canvas, look, _stream(look, "skin"))
    _paint_back_hair(canvas, look, strands, crown)
    _paint_body(canvas, look, _stream(look, "clothes"), skin)
    face = _paint_face(canvas, look, _stream(look, "freckles"), skin)
    _paint_beard(canvas, look, _stream(look, "beard"), face)
    shut = canvas.copy()
    _paint_eyes(canvas, look, _stream(look, "eyes"))
    _paint_shut_eyes(shut)
    overlay = _Canvas(look.radius)
    _paint_brows_hair_glasses(overlay, look, _stream(look, "brows"), strands, crown)
    open_eyes, shut_eyes = overlay.over(canvas), overlay.over(shut)
    jaw_rows, jaw_map_x, jaw_map_y, jaw_weight = _jaw_warp(canvas)
    r = canvas.r
    mouth_rows = slice(canvas.row(_MOUTH_Y - 0.3), canvas.row(_MOUTH_Y + 0.5))
    mouth_columns = slice(canvas.column(-0.62), canvas.column(0.62) + 1)
    lip_grain = 1 + look.texture * 0.1 * _noise(_stream(look, "lips"), canvas.shape, 0.5, 1.8) if look.texture > 0 else np.ones(canvas.shape, np.float32)
    return _Layers(
        radius=r, origin=canvas.origin, open_eyes=open_eyes.rgba(), shut_eyes=shut_eyes.rgba(), lid=_lid_map(canvas),
        eye_rows=slice(canvas.row(_EYES[0][1] - 0.15), canvas.row(_EYES[0][1] + 0.15)),
        normals=_normals(canvas), jaw_rows=jaw_rows, jaw_map_x=jaw_map_x, jaw_map_y=jaw_map_y, jaw_weight=jaw_weight,
        lip_grain=lip_grain.astype(np.float32), mouth_rows=mouth_rows, mouth_columns=mouth_columns,
        lips=np.asarray(look.lips, np.float32), teeth=np.asarray(look.teeth, np.float32),
    )


# --------------------------------------------------------------------------- backdrops
def _luminance(image):
    return image @ np.array([0.299, 0.587, 0.114], np.float32)


def _gradient(rng, size, base):
    """Two tints of the base colour blended along a random direction."""
    height, width = size
    other = base * rng.uniform(0.5, 1.4) + rng.normal(0, 20, 3)
    angle = rng.uniform(0, 2 * np.pi)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (np.cos(angle) * columns / width + np.sin(angle) * rows / height + 1) / 2
    return (base * (1 - t)[..., None] + other * t[..., None]).astype(np.float32)


def _wall(rng, size, base):
    """Plaster under a pool of light, with a door or picture frame."""
    height, width = size
    image = _gradient(rng, size, base)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    light = np.exp(-(((columns - rng.uniform(0, width)) / (0.5 * width)) ** 2 + ((rows - rng.uniform(0, height)) / (0.6 * height)) ** 2))
    image *= (0.75 + 0.5 * light)[..., None]
    x0, y0 = rng.uniform(-0.2, 0.8) * width, rng.uniform(-0.2, 0.5) * height
    x1, y1 = x0 + rng.uniform(0.2, 0.5) * width, y0 + rng.uniform(0.3, 0.8) * height
    tone = rng.uniform(0.6, 1.3)
    cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)), tuple(float(c) for c in base * tone * rng.uniform(0.7, 1.3, 3)), -1)
    cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)), tuple(float(c) for c in base * 0.5), max(2, width // 60))
    plaster = 1 + 0.06 * _noise(rng, size, 2.0) + 0.08 * _noise(rng, size, 12.0)
    return image * plaster[..., None]


def _shelf(rng, size, base):
    """Book spines of many colours on shelves."""
    height, width = size
    image = _gradient(rng, size, base) * 0.6
    top = int(rng.uniform(-30, 10))
    while top < height:
        shelf = int(rng.uniform(36, 64))
        x = int(rng.uniform(-10, 0))
        while x < width:
            spine = int(rng.uniform(4, 15))
            book_top = top + int(shelf * rng.uniform(0.05, 0.35))
            colour = rng.uniform(40, 180) + rng.uniform(-40, 40, 3) + 0.3 * base
            cv2.rectangle(image, (x, book_top), (x + spine - 2, top + shelf), tuple(float(c) for c in colour), -1)
            cv2.line(image, (x + spine // 3, book_top + 3), (x + spine // 3, top + shelf - 3), tuple(float(c) for c in colour * 1.25), 1)
            x += spine + int(rng.uniform(0, 2.5))
        cv2.rectangle(image, (0, top + shelf), (width, top + shelf + 6), tuple(float(c) for c in base * 0.45), -1)
        top += shelf + 6
    return image * (1 + 0.05 * _noise(rng, size, 1.0))[..., None]


def _bokeh(rng, size, base):
    """Out-of-focus lights over a dim room."""
    height, width = size
    image = _gradient(rng, size, base) * 0.7
    lights = np.zeros((height, width, 3), np.float32)
    for _ in range(int(rng.uniform(10, 30))):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        colour = rng.uniform(0.3, 1.0) * (rng.uniform(120, 255, 3) * 0.7 + 0.3 * base)
        cv2.circle(lights, centre, int(rng.uniform(4, 16)), tuple(float(c) for c in colour), -1, cv2.LINE_AA)
    return image + 0.6 * cv2.GaussianBlur(lights, (0, 0), rng.uniform(1.5, 4.0))


def _tiles(rng, size, base):
    """Bricks or tiles with mortar lines and a rough surface."""
    height, width = size
    image = np.empty((height, width, 3), np.float32)
    image[:] = base * rng.uniform(0.5, 0.8)  # the mortar
    row_height = int(rng.uniform(10, 26))
    brick = int(row_height * rng.uniform(1.0, 2.6))
    for row, top in enumerate(range(-row_height, height, row_height)):
        offset = (row % 2) * brick // 2
        for left in range(-brick - offset, width, brick):
            colour = base * rng.uniform(0.8, 1.25) * rng.uniform(0.92, 1.08, 3)
            cv2.rectangle(image, (left + 1, top + 1), (left + brick - 2, top + row_height - 2), tuple(float(c) for c in colour), -1)
    return image * (1 + 0.08 * _noise(rng, size, 0.8) + 0.06 * _noise(rng, size, 4.0))[..., None]


def _curtain(rng, size, base):
    """Fabric hanging in vertical folds."""
    height, width = size
    columns = np.arange(width, dtype=np.float32)
    period = rng.uniform(14, 40)
    wobble = np.cumsum(rng.normal(0, 0.15, width)).astype(np.float32)
    folds = 0.72 + 0.28 * np.sin(2 * np.pi * columns / period + wobble)
    image = _gradient(rng, size, base) * folds[None, :, None]
    return image * (1 + 0.04 * _noise(rng, size, 0.7, 3.0))[..., None]


@functools.lru_cache(maxsize=8)
def _backdrop(look_key, size):
    """The look's background at `size`, out of focus and darker than the skin on average:
    cascade detectors key on that contrast, as in most footage."""
    look = Look(*look_key)
    base = np.asarray(look.background, np.float32)
    if look.backdrop == "flat":
        return np.broadcast_to(base, (*size, 3)).copy()
    rng = np.random.default_rng([look.seed, 0])
    base = base.mean() + 0.6 * (base - base.mean())  # rooms are seldom saturated
    painters = {"wall": _wall, "shelf": _shelf, "bokeh": _bokeh, "tiles": _tiles, "curtain": _curtain}
    image = cv2.GaussianBlur(painters[look.backdrop](rng, size, base), (0, 0), rng.uniform(0.5, 2.0))
    target = float(_luminance(np.asarray(look.skin, np.float32))) * rng.uniform(0.3, 0.7)
    image *= target / max(1.0, float(_luminance(image).mean()))
    return np.clip(image, 0, 255).astype(np.float32)


# --------------------------------------------------------------------------- one frame
def _blink(layers, blink):
    """The sprite with the lids `blink` of the way down (0 open, 1 shut)."""
    sprite = layers.open_eyes.copy()
    if blink > 0:
        rows = layers.eye_rows
        cover = np.clip((blink - layers.lid[rows]) * (2 * _EYE_AXES[1] * layers.radius) + 0.5, 0, 1)[..., None]
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
    y = (np.arange(rows.start, rows.stop, dtype=np.float32) - layers.origin[1])[:, None] - _MOUTH_Y * r
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
        roi = _over(roi, tongue, np.array([178, 72, 84], np.float32) * (0.8 + 0.3 * np.clip(1 - (y - tongue_y) / (0.4 * gap + 1), 0, 1))[..., None])
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
        lower = cavity * np.clip((0.62 * half_width - np.abs(x)) * 0.5, 0, 1) * np.clip(y - (lower_inner - lower_height) + 0.5, 0, 1)
        roi = _over(roi, lower, layers.teeth * 0.85 * shade[..., None])
    return roi


def _light(sprite, layers, light):
    """Lambert shading from a light `light = (azimuth, off_axis)` radians, plus ambient light."""
    azimuth, off_axis = light
    direction = np.array([np.sin(off_axis) * np.cos(azimuth), np.sin(off_axis) * np.sin(azimuth), np.cos(off_axis)], np.float32)
    lambert = np.clip(layers.normals @ direction, 0, 1)
    sprite[..., :3] *= (0.5 + 0.55 * lambert)[..., None]


def _render(layers, background, center, mouth_open, mouth_width, blink, tilt, light):
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


def _look_key(look):
    """Look's fields as a hashable tuple (the caches' key)."""
    values = (getattr(look, field.name) for field in dataclasses.fields(look))
    return tuple(tuple(np.asarray(value).tolist()) if isinstance(value, (list, tuple, np.ndarray)) else value for value in values)


def draw_face(size, center, look, mouth_open=0.0, mouth_width=0.5, blink=0.0, tilt=0.0, light=None):
    """One RGB frame. Returns (image, face_box) with face_box = (x, y, w, h).

    mouth_open, mouth_width and blink are in [0, 1]; tilt is in degrees; light, if given, is
    (azimuth, off-axis angle) in radians of a light that shades the face.
    """
    key = _look_key(look)
    frame = _render(_paint(key), _backdrop(key, tuple(size)), center, mouth_open, mouth_width, blink, tilt, light)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), face_box(center, look.radius)


def face_box(center, radius):
    """The sidecar's face box (x, y, w, h) of a face drawn at `center` with `radius`.

    Placed so that its box-aligned crop puts the eyes and the mouth where the landmark-aligned
    crop of a real face has them (faces.EYE_Y, faces.FACE_SCALE): a generator trained on the
    corpus sees its mouths where `dub` (cnn detector) shows it the mouths of real faces. The
    earlier box put the mouth 0.04 of the crop higher, and on real photos the generator then
    painted a still smear over the lips instead of moving them (TRAINING.md §5).
    """
    eye_y, eye_to_mouth = _EYES[0][1] * radius, (_MOUTH_Y - _EYES[0][1]) * radius
    side = eye_to_mouth / faces.FACE_SCALE  # the crop's side (eye-to-mouth spans more than eye-to-eye here)
    height = side / (1 + faces.BOX_MARGIN)
    crop_center = center[1] + eye_y + (0.5 - faces.EYE_Y) * side
    top = crop_center - faces.BOX_SHIFT * height - height / 2
    return (center[0] - radius, top, 2 * radius, height)


# --------------------------------------------------------------------------- identities and clips
FRAME_SIZE = (192, 256)  # (height, width) of synthetic videos


@dataclasses.dataclass
class Speaker:
    index: int
    split: str
    look: Look
    voice: Voice
    center: tuple
    sway: float  # pixels of slow head motion
    tilt: float  # degrees of slow head roll


def speaker_splits(count):
    """Split speakers by identity: the last ~15% test, the ~15% before them val, the rest train."""
    if count < 3:
        return ["train"] * count
    held_out = max(1, int(round(0.15 * count)))
    return ["train"] * (count - 2 * held_out) + ["val"] * held_out + ["test"] * held_out


_IRISES = ((80, 50, 30), (45, 30, 20), (110, 85, 45), (80, 110, 70), (70, 110, 150), (110, 120, 125))
_LIGHT_HAIR = ((150, 115, 70), (200, 170, 110), (140, 60, 30), (150, 150, 150), (95, 65, 40))


def _sample_features(rng, look):
    """What the textured corpus adds to a look: skin texture, freckles, beard, glasses, hair, clothes, backdrop."""
    kind = rng.uniform()
    beard = 0.0 if kind < 0.45 else float(rng.uniform(0.15, 0.45)) if kind < 0.75 else float(rng.uniform(0.65, 1.0))
    glasses = None
    if rng.uniform() < 0.3:
        glasses = tuple(int(c) for c in (rng.integers(15, 60, 3) if rng.uniform() < 0.6 else np.full(3, rng.integers(140, 200))))
    hair = tuple(int(c) for c in np.mean(look.hair) * np.array([1.1, 0.85, 0.65]))  # a natural dark brown to black
    if rng.uniform() < 0.3:  # blond, red, grey or light brown instead of dark
        hair = tuple(int(c) for c in np.asarray(_LIGHT_HAIR[rng.integers(len(_LIGHT_HAIR))]) * rng.uniform(0.8, 1.1))
    skin = np.asarray(look.skin, float)
    lips = 0.45 * np.asarray(look.lips, float) + 0.55 * skin * (0.82, 0.52, 0.55)  # lips follow the skin's tone
    return dict(
        hair=hair,
        lips=tuple(int(c) for c in lips),
        texture=float(rng.uniform(0.6, 1.0)),
        freckles=0.0 if rng.uniform() < 0.65 else float(rng.uniform(0.3, 1.0)),
        beard=beard,
        glasses=glasses,
        hair_length=float(rng.uniform(0, 0.2)) if rng.uniform() < 0.5 else float(rng.uniform(0.35, 1.0)),
        eyes=tuple(int(c) for c in np.asarray(_IRISES[rng.integers(len(_IRISES))]) * rng.uniform(0.85, 1.15)),
        clothes=tuple(int(c) for c in rng.integers(20, 200, 3)),
        teeth=tuple(int(c) for c in rng.uniform(215, 240) * np.array([1.0, rng.uniform(0.96, 0.99), rng.uniform(0.88, 0.95)])),
        backdrop=BACKDROPS[rng.integers(len(BACKDROPS))],
        seed=int(rng.integers(2**31)),
    )


def sample_speaker(index, split, seed):
    rng = np.random.default_rng([seed, index, 0])
    tone = rng.uniform()
    skin = np.array([235, 200, 170]) * (1 - tone) + np.array([120, 80, 55]) * tone
    look = Look(
        skin=tuple(int(c) for c in skin),
        background=tuple(int(c) for c in rng.integers(10, 110, 3)),
        hair=tuple(int(c) for c in rng.integers(10, 70, 3)),
        lips=tuple(int(c) for c in (rng.uniform(130, 190), rng.uniform(40, 80), rng.uniform(50, 90))),
        radius=float(rng.uniform(40, 56)),
    )
    # From a stream of its own, so that voices and placement stay those of the flat corpus.
    look = dataclasses.replace(look, **_sample_features(np.random.default_rng([seed, index, 1]), look))
    voice = random_voice(rng)
    height, width = FRAME_SIZE
    center = (width / 2 + rng.uniform(-30, 30), height / 2 + rng.uniform(-8, 8))
    return Speaker(index, split, look, voice, center, float(rng.uniform(2, 6)), float(rng.uniform(0, 4)))


@dataclasses.dataclass
class _Camera:
    """One clip's light and camera: a key light swinging slowly around the face, exposure drifting,
    optional defocus blur and sensor noise."""

    azimuth: float  # radians, where the light starts
    swing: float  # radians per second the light turns
    off_axis: float  # radians between the light and the camera's axis
    exposure: tuple  # (amplitude, Hz, phase) of the brightness drift
    blur: float  # Gaussian sigma in pixels, 0 for none
    noise: float  # standard deviation in grey levels

    def light(self, seconds):
        wobble = 0.12 * np.sin(2 * np.pi * 0.13 * seconds + self.azimuth)
        return self.azimuth + self.swing * seconds, float(np.clip(self.off_axis + wobble, 0.1, 1.3))

    def gain(self, seconds):
        amplitude, hertz, phase = self.exposure
        return 1 + amplitude * np.sin(2 * np.pi * hertz * seconds + phase)


def _sample_camera(rng):
    return _Camera(
        azimuth=float(rng.uniform(0, 2 * np.pi)),
        swing=float(rng.choice([-1, 1]) * rng.uniform(0.15, 0.35)),
        off_axis=float(rng.uniform(0.35, 0.9)),
        exposure=(float(rng.uniform(0.03, 0.1)), float(rng.uniform(0.05, 0.2)), float(rng.uniform(0, 2 * np.pi))),
        blur=float(rng.uniform(0.3, 1.0)) if rng.uniform() < 0.5 else 0.0,
        noise=float(rng.uniform(1.0, 5.0)),
    )


def clip_crf(seed):
    """The H.264 quality (x264 crf, 17 clean to 32 blocky) a clip is written at, drawn from its seed
    apart from the frames' stream."""
    return int(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]).integers(17, 33))


def render_clip(speaker, script, seed, sr=16000, fps=25):
    """Frames (N, H, W, 3) uint8, audio, face boxes (N, 4) and mouth shapes (N, 2) for a script."""
    rng = np.random.default_rng(seed)
    waveform, track = synthesize_speech(script, speaker.voice, rng, sr)
    num_frames = int(round(len(waveform) / sr * fps))
    mouth = mouth_per_frame(track, num_frames, fps)
    blink = np.zeros(num_frames)
    frame = int(rng.integers(10, 60))
    while frame < num_frames:
        blink[frame : frame + 4] = [0.5, 1.0, 1.0, 0.5][: len(blink[frame : frame + 4])]
        frame += int(rng.integers(50, 125))
    phase, camera = rng.uniform(0, 2 * np.pi, 3), _sample_camera(rng)
    key = _look_key(speaker.look)
    layers, background = _paint(key), _backdrop(key, FRAME_SIZE)
    frames, boxes = np.empty((num_frames, *FRAME_SIZE, 3), np.uint8), np.empty((num_frames, 4))
    r = speaker.look.radius
    for t in range(num_frames):
        seconds = t / fps
        center = (
            speaker.center[0] + speaker.sway * np.sin(2 * np.pi * 0.23 * seconds + phase[0]),
            speaker.center[1] + 0.5 * speaker.sway * np.sin(2 * np.pi * 0.31 * seconds + phase[1]),
        )
        tilt = speaker.tilt * np.sin(2 * np.pi * 0.17 * seconds + phase[2])
        image = _render(layers, background, center, mouth[t, 0], mouth[t, 1], blink[t], tilt, camera.light(seconds))
        image *= camera.gain(seconds)
        if camera.blur > 0:
            image = cv2.GaussianBlur(image, (0, 0), camera.blur)
        image += camera.noise * rng.standard_normal(image.shape, dtype=np.float32)
        frames[t] = np.clip(image + 0.5, 0, 255)
        boxes[t] = face_box(center, r)
    return frames, waveform, boxes, mouth


def write_clip(path, speaker, script, seed, sr=16000):
    """An H.264 + AAC mp4 (at the clip's own quality) and its JSON sidecar (face boxes, mouth shapes, script)."""
    import json

    from keras_s2v.video import write_video

    frames, waveform, boxes, mouth = render_clip(speaker, script, seed, sr)
    write_video(path, frames, audio=waveform, sample_rate=sr, crf=clip_crf(seed))
    sidecar = {
        "fps": 25,
        "sample_rate": sr,
        "speaker": f"spk{speaker.index:03d}",
        "split": speaker.split,
        "boxes": np.round(boxes, 2).tolist(),
        "mouth": np.round(mouth, 4).tolist(),
        "script": [[phone, round(duration, 4)] for phone, duration in script],
    }
    with open(sidecar_path(path), "w") as handle:
        json.dump(sidecar, handle)
    return path


def write_corpus(out, speakers=12, seconds=8.0, clips_per_speaker=2, seed=0, progress=True):
    """Write the corpus under out/{train,val,test}/; returns the list of clip paths."""
    import os

    from tqdm import tqdm

    if speakers < 1 or seconds < 0.5 or clips_per_speaker < 1:
        raise ValueError(
            f"need speakers >= 1, seconds >= 0.5, clips_per_speaker >= 1; received {speakers}, {seconds}, {clips_per_speaker}"
        )
    splits = speaker_splits(speakers)
    jobs = [(index, clip) for index in range(speakers) for clip in range(clips_per_speaker)]
    paths = []
    for index, clip in tqdm(jobs, desc="synth", unit="clip", disable=not progress):
        speaker = sample_speaker(index, splits[index], seed)
        folder = os.path.join(out, speaker.split)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"spk{index:03d}_clip{clip}.mp4")
        script = random_script(np.random.default_rng([seed, index, clip + 1]), seconds)
        paths.append(write_clip(path, speaker, script, seed=[seed, index, clip + 1, 7]))
    return paths
