"""Measures of a dubbed talking-face video against its source, for a check on your own clips.

Frames are sequences of (H, W, 3) uint8 RGB at 25 fps (`video.read_frames(path)` reads a clip).
Everything is measured on the raw face mesh of each frame (`mesh_track`: no tracker smoothing),
so the numbers are what the pixels show:

- lip motion: the inner-lip gap over the face height (`photo_check.lip_gap`) of every frame.
  `gap_r`, its Pearson correlation with the source's, says whether the dubbed mouth opens when
  the source's did (near 1 when the dub is driven by the source's own audio; with other speech
  about 0 is expected). `gap_std_ratio` says how much it opens: a generator that draws one
  average, half-open mouth gives a ratio well below 1.
- mouth sharpness (`sharpness_ratio`): generators blur lips and teeth; below 1 the dubbed
  mouth has less fine detail than the source's.
- identity (`psnr_outside_mouth`): a dub must change only the lower face, so the rest of the
  face box (eyes, brows, forehead) should match the source up to the codec's noise.
- lips that show (`lips_hidden`): the share of frames whose lips hardly differ in colour from the
  face around them, as when they are rolled in. A real speaker does that for a moment; a dub that
  draws its mouths from such a frame shows a mouth without lips for as long as it is used.
"""

import os

import cv2
import numpy as np

from keras_s2v import faces
from keras_s2v.evaluation.metrics import masked_psnr
from keras_s2v.evaluation.photo_check import face_crop, labelled_tile, outside_mouth_mask, pearson
from keras_s2v.faces.landmarks import MOUTH_CORNERS, OUTER_LIPS, lip_gap
from keras_s2v.faces.mouth_bank import LIPS_SHOWN
from keras_s2v.faces.mouth_warp import MouthSource
from keras_s2v.media import video

LIP_BOX_GROW = 0.10  # of the mouth width, each side of the outer lips' box
LABEL_HEIGHT = 24  # pixels of each contact-sheet row's label strip


def mesh_points(frames, detector=None):
    """Yields (frame, (468, 2) face-mesh landmarks or None where there is no face) for each of `frames`.

    `detector` (default a new `faces.CNNDetector`) runs its mesh in the region of the previous
    frame's landmarks (`track`), and detects afresh on the first frame and wherever that loses
    the face. No One Euro smoothing: the measures see the raw mesh, jitter and all.
    """
    detector = faces.CNNDetector() if detector is None else detector
    previous = None
    for frame in frames:
        frame = np.ascontiguousarray(frame, np.uint8)
        face = detector.track(frame, previous) if previous is not None else None
        previous = face if face is not None else detector.detect(frame)
        yield frame, None if previous is None else np.asarray(previous.landmarks, np.float64)[:, :2]


def mesh_track(frames, detector=None):
    """The landmarks of `mesh_points`, one per frame."""
    return [points for _, points in mesh_points(frames, detector)]


def lip_gaps(landmarks_list):
    """(N,) float: `photo_check.lip_gap` of each frame's landmarks, NaN where there is no face."""
    return np.array([np.nan if points is None else lip_gap(points) for points in landmarks_list], np.float64)


def _lip_box(landmarks, shape):
    """(x0, y0, x1, y1) ints: the outer lips' bounding box grown by LIP_BOX_GROW of the mouth
    width each side, clipped to the frame; None when nothing of it is inside."""
    points = np.asarray(landmarks, np.float64)[:, :2]
    lips = points[list(OUTER_LIPS)]
    grow = LIP_BOX_GROW * np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]])
    x0, y0 = np.maximum(np.floor(lips.min(axis=0) - grow).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(lips.max(axis=0) + grow).astype(int), [shape[1], shape[0]])
    return (x0, y0, x1, y1) if x1 - x0 >= 3 and y1 - y0 >= 3 else None


def mouth_sharpness(frame, landmarks):
    """Variance of the Laplacian of the grey frame (float64) in the lip box, NaN when the box is off the frame.

    The lip box is the outer lips' bounding box grown by 10% of the mouth width each side, so
    the lips' edges count. The Laplacian responds to fine detail (lip lines, teeth edges), which
    is what a blurry generator loses; its variance is the usual focus measure.
    """
    frame = np.asarray(frame)
    box = _lip_box(landmarks, frame.shape)
    if box is None:
        return float("nan")
    x0, y0, x1, y1 = box
    grey = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1], np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def sharpness_ratio(source_frames, dubbed_frames, source_landmarks, dubbed_landmarks=None):
    """Median over frames of mouth_sharpness(dubbed) / mouth_sharpness(source).

    With `dubbed_landmarks` (what `compare` reports) each frame is measured in its own video's
    lip box: the dubbed mouth where the mesh sees it, so a wider-open mouth is not cut off.
    Without, both are measured in the SOURCE's lip box: the same pixels compared, whatever the
    dubbed mesh says. Frames without a face in a video it needs, or with a flat source mouth
    (sharpness 0), are left out; NaN when none is left.
    """
    dubbed_landmarks = source_landmarks if dubbed_landmarks is None else dubbed_landmarks
    ratios = []
    for source, dubbed, source_points, dubbed_points in zip(source_frames, dubbed_frames, source_landmarks, dubbed_landmarks):
        if source_points is None or dubbed_points is None:
            continue
        reference = mouth_sharpness(source, source_points)
        if reference > 0:
            ratios.append(mouth_sharpness(dubbed, dubbed_points) / reference)
    ratios = np.array(ratios)
    ratios = ratios[np.isfinite(ratios)]
    return float(np.median(ratios)) if len(ratios) else float("nan")


def psnr_outside_mouth(source_frames, dubbed_frames, source_landmarks):
    """Median over frames of the PSNR (dB) of the dubbed frame against the source on
    `outside_mouth_mask` of the source's landmarks; `evaluation.masked_psnr` caps identical
    pixels at its PSNR_CAP_DB (100). Frames without a source face are left out; NaN when none is left.
    """
    values = []
    for source, dubbed, points in zip(source_frames, dubbed_frames, source_landmarks):
        source, dubbed = np.asarray(source), np.asarray(dubbed)
        if source.shape != dubbed.shape:
            raise ValueError(f"source and dubbed frames must be the same size; received {source.shape} and {dubbed.shape}")
        if points is None:
            continue
        mask = outside_mouth_mask(source.shape, points)
        if mask.any():
            values.append(masked_psnr(dubbed, source, mask))
    return float(np.median(values)) if values else float("nan")


def lip_contrasts(frames, landmarks_list):
    """(N,) float: `MouthSource.lip_contrast` of each frame, how far its lips' colour is from its face's;
    NaN where there is no face or too little of it to tell."""
    contrasts = [
        None if points is None else MouthSource.from_frame(np.asarray(frame), points).lip_contrast
        for frame, points in zip(frames, landmarks_list)
    ]
    return np.array([np.nan if contrast is None else contrast for contrast in contrasts], np.float64)


def lips_hidden(contrasts, source_contrasts):
    """Share of the frames with a `contrasts` value under LIPS_SHOWN of the source's median: lips that do not
    show (the mouth bank's own bar for a source); NaN when neither has any."""
    contrasts, source_contrasts = np.asarray(contrasts), np.asarray(source_contrasts)
    known = contrasts[np.isfinite(contrasts)]
    if not len(known) or not np.isfinite(source_contrasts).any():
        return float("nan")
    return float(np.mean(known < LIPS_SHOWN * np.nanmedian(source_contrasts)))


def _frames(frames):
    return video.read_frames(frames) if isinstance(frames, (str, os.PathLike)) else frames


def compare(source_frames, dubbed_frames, source_landmarks=None, dubbed_landmarks=None, source_lip_contrasts=None):
    """All the measures of a dubbed clip against its source (frames, or paths that `video.read_frames` reads).

    Landmarks not given are found with `mesh_track`. Both videos are cut to the shorter one.
    Returns a dict: gap_r (Pearson of the dubbed against the source lip gap), gap_std_ratio
    (dubbed_gap_std / source_gap_std, NaN when the source's is 0), dubbed_gap_std,
    source_gap_std (all over the frames where both have a face), sharpness_ratio (each video
    in its own lip box), sharpness_ratio_source_box (both in the source's), psnr_outside_db,
    lips_hidden and source_lips_hidden (`lips_hidden` of the dub and of the source, both against
    the source's median) and frames (the number of frames where both have a face).
    `source_lip_contrasts` (`lip_contrasts` of the source, found if not given) spares a caller that
    compares several dubs with one source working them out for each.
    """
    source_frames, dubbed_frames = _frames(source_frames), _frames(dubbed_frames)
    count = min(len(source_frames), len(dubbed_frames))
    source_frames, dubbed_frames = source_frames[:count], dubbed_frames[:count]
    if source_landmarks is None or dubbed_landmarks is None:
        detector = faces.CNNDetector()
        source_landmarks = mesh_track(source_frames, detector) if source_landmarks is None else source_landmarks
        dubbed_landmarks = mesh_track(dubbed_frames, detector) if dubbed_landmarks is None else dubbed_landmarks
    source_landmarks, dubbed_landmarks = list(source_landmarks)[:count], list(dubbed_landmarks)[:count]
    if len(source_landmarks) < count or len(dubbed_landmarks) < count:
        raise ValueError(
            f"landmarks must be given for all {count} frames; received {len(source_landmarks)} and {len(dubbed_landmarks)}"
        )
    source_gaps, dubbed_gaps = lip_gaps(source_landmarks), lip_gaps(dubbed_landmarks)
    both = ~np.isnan(source_gaps) & ~np.isnan(dubbed_gaps)
    source_std = float(np.std(source_gaps[both])) if both.any() else float("nan")
    dubbed_std = float(np.std(dubbed_gaps[both])) if both.any() else float("nan")
    source_contrasts = (
        lip_contrasts(source_frames, source_landmarks) if source_lip_contrasts is None else source_lip_contrasts[:count]
    )
    return {
        "gap_r": pearson(dubbed_gaps[both], source_gaps[both]),
        "gap_std_ratio": dubbed_std / source_std if source_std > 0 else float("nan"),
        "dubbed_gap_std": dubbed_std,
        "source_gap_std": source_std,
        "sharpness_ratio": sharpness_ratio(source_frames, dubbed_frames, source_landmarks, dubbed_landmarks),
        "sharpness_ratio_source_box": sharpness_ratio(source_frames, dubbed_frames, source_landmarks),
        "psnr_outside_db": psnr_outside_mouth(source_frames, dubbed_frames, source_landmarks),
        "lips_hidden": lips_hidden(lip_contrasts(dubbed_frames, dubbed_landmarks), source_contrasts),
        "source_lips_hidden": lips_hidden(source_contrasts, source_contrasts),
        "frames": int(both.sum()),
    }


def _lower_face_box(landmarks):
    """A box whose `face_crop` (1.5 x its larger side, around its centre) is the square of side
    1.1 x the larger side of the face box's lower two thirds, around their centre."""
    points = np.asarray(landmarks, np.float64)[:, :2]
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    y0 += (y1 - y0) / 3
    center, half = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), 1.1 * max(x1 - x0, y1 - y0) / 3
    return (*(center - half), *(center + half))


def contact_sheet(rows, path, columns=8, tile=192):
    """Write a PNG of the same `columns` evenly spaced frames of each row; returns `path`.

    `rows`: (label, frames, landmarks or None) each. Every tile is the square around the lower
    two thirds of the face box of the first row's landmarks at that frame (the next row's with a
    face there when it has none; the middle of the frame when no row has), so all rows show the
    same region. Each row has a strip with its label above it.
    """
    if not rows or columns < 1:
        raise ValueError(f"`rows` must hold at least one row and `columns` be >= 1; received {len(rows)} rows, columns={columns}")
    count = min(len(frames) for _, frames, _ in rows)
    if count < 1:
        raise ValueError("every row must hold at least one frame")
    indices = np.unique(np.round(np.linspace(0, count - 1, columns)).astype(int))
    boxes = []
    for index in indices:
        marks = [points[index] for _, _, points in rows if points is not None and points[index] is not None]
        middle, half = np.array(np.asarray(rows[0][1][index]).shape[1::-1]) / 2, min(np.asarray(rows[0][1][index]).shape[:2]) / 3
        boxes.append(_lower_face_box(marks[0]) if marks else (*(middle - half), *(middle + half)))
    sheet = []
    for number, (label, frames, _) in enumerate(rows):
        tiles = [face_crop(np.ascontiguousarray(frames[index], np.uint8), box, tile) for index, box in zip(indices, boxes)]
        if number == 0:
            tiles = [labelled_tile(image, f"#{index}") for index, image in zip(indices, tiles)]
        sheet += [
            labelled_tile(np.zeros((LABEL_HEIGHT, tile * len(tiles), 3), np.uint8), str(label)),
            np.concatenate(tiles, axis=1),
        ]
    if not cv2.imwrite(str(path), np.ascontiguousarray(np.concatenate(sheet)[:, :, ::-1])):
        raise OSError(f"could not write the contact sheet to {path}")
    return path
