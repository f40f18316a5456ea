"""What a synthetic speaker looks like (`Look`), and the smooth noise its textures are made of."""

import dataclasses

import cv2
import numpy as np

BACKDROPS = ("wall", "shelf", "bokeh", "tiles", "curtain")
# Where the features sit, in face coordinates (the face is about 2 wide; y grows downwards).
MOUTH_Y = 0.6  # the lips meet here at rest
EYES = ((-0.4, -0.25), (0.4, -0.25))
EYE_AXES = (0.18, 0.09)


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


def smooth_noise(rng, shape, sigma_x, sigma_y=None):
    """Gaussian noise low-passed at (sigma_x, sigma_y) pixels, back at unit standard deviation."""
    field = rng.standard_normal(shape, dtype=np.float32)
    if sigma_x > 0:
        field = cv2.GaussianBlur(field, (0, 0), sigmaX=sigma_x, sigmaY=sigma_y or sigma_x)
    return field / (field.std() + 1e-6)


def smoothstep(edge0, edge1, value):
    t = np.clip((value - edge0) / (edge1 - edge0), 0, 1)
    return t * t * (3 - 2 * t)
