"""Real photographs that ship inside installed wheels, placed in larger frames and moved.

Material for the face tests and the face benchmark: real faces at known places and
sizes, with nothing downloaded (scikit-image's astronaut, matplotlib's Grace Hopper).
"""

import numpy as np

from keras_s2v.errors import S2VError

# Face boxes (x0, y0, x1, y1: hairline to chin) in the photos, read off the images by eye.
PHOTO_FACES = {"astronaut": (178, 68, 271, 175), "grace_hopper": (168, 127, 357, 333)}


def real_photos():
    """Real portraits that ship inside installed wheels (nothing is downloaded): name -> RGB image."""
    import cv2
    import matplotlib.cbook

    try:
        import skimage.data
    except ImportError:
        raise S2VError(
            "the built-in photographs come with scikit-image, which is not installed: "
            "`pip install scikit-image` (the `test` extra has it), or give your own photos"
        ) from None

    grace = cv2.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return {"astronaut": skimage.data.astronaut(), "grace_hopper": np.ascontiguousarray(grace[:, :, ::-1])}


def photo_frames(photo, face_box, face_px, path, size=(720, 1280), background=None):
    """Frames with `photo` scaled so its face is `face_px` tall, the face centre moving along `path`.

    `face_box` is (x0, y0, x1, y1) of the face in the photo; returns (frames, true face centres).
    The photo is pasted over a real background (skimage's coffee) and clipped at the frame edges.
    """
    import cv2
    import skimage.data

    if background is None:
        background = cv2.resize(skimage.data.coffee(), size[::-1], interpolation=cv2.INTER_AREA)
    face_box = np.asarray(face_box, np.float64)
    scale = face_px / (face_box[3] - face_box[1])
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    face_center = (face_box[:2] + face_box[2:]) / 2 * scale
    frames, centers = [], []
    for x, y in path:
        frame = background.copy()
        x0, y0 = int(round(x - face_center[0])), int(round(y - face_center[1]))
        xs, ys = max(0, x0), max(0, y0)
        xe, ye = min(size[1], x0 + small.shape[1]), min(size[0], y0 + small.shape[0])
        frame[ys:ye, xs:xe] = small[ys - y0 : ye - y0, xs - x0 : xe - x0]
        frames.append(frame)
        centers.append(face_center + [x0, y0])
    return np.stack(frames), np.array(centers)


def line_path(start, end, count):
    steps = np.linspace(0.0, 1.0, count)[:, None]
    return (1 - steps) * np.asarray(start, np.float64) + steps * np.asarray(end, np.float64)
