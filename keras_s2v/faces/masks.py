"""Soft ellipses on the face crop, shared by the generator's blend and the paste-back."""

import functools

import numpy as np


@functools.lru_cache(maxsize=16)
def ellipse_map(size, ellipse, soft=0.25):
    """(size, size) float32, read-only: 1 inside `ellipse` = (centre_row, half_height, half_width),
    fractions of the crop centred in width, 0.5 on its edge, fading to 0 over `soft` of the radii beyond it."""
    centre, half_height, half_width = ellipse
    rows, cols = (np.mgrid[0:size, 0:size] + 0.5) / size
    distance = np.sqrt(((cols - 0.5) / half_width) ** 2 + ((rows - centre) / half_height) ** 2)
    weights = np.clip((1.0 + soft - distance) / (2 * soft), 0.0, 1.0).astype("float32")
    weights.flags.writeable = False  # cached: every caller shares it
    return weights
