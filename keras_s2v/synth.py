"""The synthetic talking-face corpus: procedurally drawn faces with matching speech-like audio."""

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass
class Look:
    """What stays fixed for one speaker."""

    skin: tuple = (200, 160, 130)
    background: tuple = (60, 90, 120)
    hair: tuple = (40, 30, 20)
    lips: tuple = (150, 60, 70)
    radius: float = 60.0  # half the face width in pixels


def draw_face(size, center, look, mouth_open=0.0, mouth_width=0.5, blink=0.0, tilt=0.0):
    """One RGB frame. Returns (image, face_box) with face_box = (x, y, w, h).

    mouth_open, mouth_width and blink are in [0, 1]; tilt is in degrees.
    """
    height, width = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = look.background
    cx, cy = center
    r = look.radius

    def point(dx, dy):
        angle = np.deg2rad(tilt)
        x = cx + dx * np.cos(angle) - dy * np.sin(angle)
        y = cy + dx * np.sin(angle) + dy * np.cos(angle)
        return int(round(x)), int(round(y))

    def axes(ax, ay):
        return max(1, int(round(ax))), max(1, int(round(ay)))

    aa = cv2.LINE_AA
    cv2.ellipse(image, point(0, 0), axes(r, 1.3 * r), tilt, 0, 360, look.skin, -1, aa)
    cv2.ellipse(image, point(0, -0.9 * r), axes(1.05 * r, 0.55 * r), tilt, 180, 360, look.hair, -1, aa)
    thickness = max(1, int(r / 18))
    for side in (-1, 1):
        eye = point(side * 0.4 * r, -0.25 * r)
        openness = max(0.08, 1.0 - blink)
        cv2.ellipse(image, eye, axes(0.18 * r, 0.09 * r * openness), tilt, 0, 360, (255, 255, 255), -1, aa)
        if blink < 0.7:
            cv2.circle(image, eye, max(1, int(0.08 * r * openness)), (30, 20, 20), -1, aa)
        cv2.line(image, point(side * 0.2 * r, -0.45 * r), point(side * 0.6 * r, -0.47 * r), (50, 35, 25), thickness, aa)
    cv2.line(image, point(0, -0.15 * r), point(-0.08 * r, 0.3 * r), tuple(int(0.75 * c) for c in look.skin), thickness, aa)
    mouth = point(0, 0.6 * r)
    half_width = (0.2 + 0.25 * mouth_width) * r
    half_height = (0.04 + 0.3 * mouth_open) * r
    cv2.ellipse(image, mouth, axes(half_width + 0.04 * r, half_height + 0.04 * r), tilt, 0, 360, look.lips, -1, aa)
    cv2.ellipse(image, mouth, axes(half_width, half_height), tilt, 0, 360, (110, 35, 45), -1, aa)
    if mouth_open > 0.3:  # teeth show once the mouth is open
        teeth = point(0, 0.6 * r - 0.7 * half_height)
        cv2.ellipse(image, teeth, axes(0.8 * half_width, 0.25 * half_height), tilt, 0, 360, (235, 235, 225), -1, aa)
    box = (cx - r, cy - 1.1 * r, 2 * r, 2 * r * 1.15)
    return image, box
