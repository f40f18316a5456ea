"""Hair, beard, brows and glasses of a synthetic speaker, painted into its sprite (painting.py)."""

import cv2
import numpy as np

from keras_s2v.lab.synth.look import EYES, MOUTH_Y, smooth_noise, smoothstep


def hair_strands(canvas, rng, crown, width_bins=512):
    """Hair texture: noise in polar coordinates around `crown`, long along the radius, so strands fan out."""
    radius_bins = 160
    fine = smooth_noise(rng, (radius_bins, width_bins), 0.9, 7.0)
    clumps = smooth_noise(rng, (radius_bins, width_bins), 6.0, 12.0)
    field = fine + 0.6 * clumps
    dx, dy = canvas.x - crown[0], canvas.y - crown[1]
    angle_bin = (np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * width_bins
    radius_bin = np.hypot(dx, dy) / 5.0 * radius_bins
    return cv2.remap(
        field, angle_bin.astype(np.float32), radius_bin.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP
    )


def hair_colour(canvas, look, strands, crown):
    """Hair colour from strands, with a band of sheen across the head."""
    hair = np.asarray(look.hair, np.float32)
    distance = np.hypot(canvas.x - crown[0], canvas.y - crown[1])
    sheen = np.exp(-(((distance - 0.55) / 0.12) ** 2)) * (0.6 + 0.4 * np.clip(strands, -1, 2))
    value = 1 + look.texture * 0.3 * strands
    return hair * value[..., None] + look.texture * 28 * sheen[..., None]


def paint_back_hair(canvas, look, strands, crown):
    """Long hair falls behind the head and shoulders."""
    if look.hair_length < 0.2:
        return
    bottom = -0.3 + 1.7 * look.hair_length
    mask = canvas.ellipse((0, (bottom - 1.45) / 2), (1.22, (bottom + 1.45) / 2))
    canvas.paint(mask, hair_colour(canvas, look, strands, crown) * 0.8)  # in the shade of the head


def _beard_region(canvas, rng):
    """Where stubble and beards grow: jaw, chin, sideburns and upper lip, not the lips; the upper
    edge thins out raggedly over the cheeks."""
    x, y = canvas.x, canvas.y
    top = 0.3 - 0.5 * np.clip((np.abs(x) - 0.5) / 0.45, 0, 1) + 0.05 * smooth_noise(rng, canvas.shape, 0.06 * canvas.r)
    region = smoothstep(top - 0.1, top + 0.15, y)
    moustache = smoothstep(0.4, 0.46, y) * (1 - smoothstep(0.5, 0.56, y)) * (1 - smoothstep(0.3, 0.36, np.abs(x)))
    region = np.maximum(region, moustache)
    lips = np.clip((np.hypot(x / 0.36, (y - MOUTH_Y) / 0.12) - 1) * 4, 0, 1)
    region *= np.maximum(lips, moustache * (y < MOUTH_Y - 0.07))
    return region * smoothstep(0.0, 0.1, 1.32 - np.hypot(x, y / 1.3) * 1.3)


def paint_beard(canvas, look, rng, face):
    """Stubble as dark dots with a shadow; a beard as short downward strands over the same region."""
    if look.beard <= 0:
        return
    region = _beard_region(canvas, rng)
    hair = np.asarray(look.hair, np.float32)
    stubble = min(1.0, 2 * look.beard)
    canvas.shade(region * face, 1 - 0.16 * stubble)
    dots = np.clip(smooth_noise(rng, canvas.shape, 0.5) - 0.6, 0, 1.5) / 1.5
    canvas.paint(region * face * dots * 0.85 * stubble, hair * 0.8)
    fullness = np.clip((look.beard - 0.45) * 2.2, 0, 1)
    if fullness > 0:
        strands = smooth_noise(rng, canvas.shape, 0.6, 2.4)
        cover = region * np.clip(0.75 + 0.35 * strands, 0, 1) * fullness
        chin = canvas.ellipse((0, 0.15), (1.0, 1.3 + 0.12 * fullness)) * region
        canvas.paint(np.maximum(cover * face, cover * chin), hair * (0.85 + 0.3 * np.clip(strands, -1.5, 1.5))[..., None])


def paint_brows_hair_glasses(overlay, look, rng, strands, crown):
    """What lies over the eyes and forehead: brows, front hair, glasses."""
    r = overlay.r
    hair = np.asarray(look.hair, np.float32)
    brow_texture = 1 + look.texture * 0.35 * smooth_noise(rng, overlay.shape, 2.5, 0.5)
    for side in (-1, 1):
        points = [
            (side * (0.18 + 0.44 * t), -0.45 - 0.07 * np.sin(np.pi * (0.3 + 0.7 * t)) + 0.02 * t) for t in np.linspace(0, 1, 12)
        ]
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
    overlay.paint(mask, hair_colour(overlay, look, strands, crown) * edge[..., None])
    if look.glasses is not None:
        _paint_glasses(overlay, look)


def _paint_glasses(overlay, look):
    r = overlay.r
    thickness = max(1, int(round(r / 32)))
    frame = np.zeros(overlay.shape, np.float32)
    lenses = np.zeros(overlay.shape, np.float32)
    for ex, ey in EYES:
        lenses = np.maximum(lenses, overlay.ellipse((ex, ey + 0.01), (0.26, 0.17)))
        frame = np.maximum(frame, overlay.ellipse((ex, ey + 0.01), (0.26, 0.17), thickness=thickness))
        side = np.sign(ex)
        frame = np.maximum(frame, overlay.polyline([(side * 0.66, -0.27), (side * 0.99, -0.31)], thickness))
    frame = np.maximum(frame, overlay.polyline([(-0.15, -0.28), (0, -0.31), (0.15, -0.28)], thickness))
    glint = np.clip(1 - np.abs((overlay.x + overlay.y * 0.8) % 0.8 - 0.3) / 0.06, 0, 1) * lenses
    overlay.paint(lenses * 0.12, (200, 215, 225))  # a faint tint
    overlay.paint(glint * 0.18, (255, 255, 255))
    overlay.paint(frame, np.asarray(look.glasses, np.float32))
