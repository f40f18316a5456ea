"""Structured backdrops behind the synthetic speakers: wall, shelf, bokeh, tiles and curtain."""

import functools

import cv2
import numpy as np

from keras_s2v.lab.synth.look import Look, smooth_noise


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
    light = np.exp(
        -(((columns - rng.uniform(0, width)) / (0.5 * width)) ** 2 + ((rows - rng.uniform(0, height)) / (0.6 * height)) ** 2)
    )
    image *= (0.75 + 0.5 * light)[..., None]
    x0, y0 = rng.uniform(-0.2, 0.8) * width, rng.uniform(-0.2, 0.5) * height
    x1, y1 = x0 + rng.uniform(0.2, 0.5) * width, y0 + rng.uniform(0.3, 0.8) * height
    tone = rng.uniform(0.6, 1.3)
    cv2.rectangle(
        image, (int(x0), int(y0)), (int(x1), int(y1)), tuple(float(c) for c in base * tone * rng.uniform(0.7, 1.3, 3)), -1
    )
    cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)), tuple(float(c) for c in base * 0.5), max(2, width // 60))
    plaster = 1 + 0.06 * smooth_noise(rng, size, 2.0) + 0.08 * smooth_noise(rng, size, 12.0)
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
            cv2.line(
                image,
                (x + spine // 3, book_top + 3),
                (x + spine // 3, top + shelf - 3),
                tuple(float(c) for c in colour * 1.25),
                1,
            )
            x += spine + int(rng.uniform(0, 2.5))
        cv2.rectangle(image, (0, top + shelf), (width, top + shelf + 6), tuple(float(c) for c in base * 0.45), -1)
        top += shelf + 6
    return image * (1 + 0.05 * smooth_noise(rng, size, 1.0))[..., None]


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
            cv2.rectangle(
                image, (left + 1, top + 1), (left + brick - 2, top + row_height - 2), tuple(float(c) for c in colour), -1
            )
    return image * (1 + 0.08 * smooth_noise(rng, size, 0.8) + 0.06 * smooth_noise(rng, size, 4.0))[..., None]


def _curtain(rng, size, base):
    """Fabric hanging in vertical folds."""
    height, width = size
    columns = np.arange(width, dtype=np.float32)
    period = rng.uniform(14, 40)
    wobble = np.cumsum(rng.normal(0, 0.15, width)).astype(np.float32)
    folds = 0.72 + 0.28 * np.sin(2 * np.pi * columns / period + wobble)
    image = _gradient(rng, size, base) * folds[None, :, None]
    return image * (1 + 0.04 * smooth_noise(rng, size, 0.7, 3.0))[..., None]


@functools.lru_cache(maxsize=8)
def paint_backdrop(look_key, size):
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
