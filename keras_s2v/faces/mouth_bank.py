"""Which real frame of the person gives the mouth for each frame dubbed: `choose_bank` picks frames that
span the clip's lip openings and head poses, and `MouthBank` picks the nearest for each frame, never the
frame itself, with hysteresis against flicker.
"""

import hashlib

import numpy as np

from keras_s2v.faces.alignment import apply_matrix
from keras_s2v.faces.landmarks import POSE_POINTS, UPPER_INNER_LIP, face_height, lip_gap, mouth_width
from keras_s2v.faces.mouth_masks import (
    DEFAULT_CAVITY,
    DEFAULT_TEETH,
    DEFAULT_TONGUE,
    MAX_CAVITY_LEVEL,
    TONGUE_GREEN_BLUE,
    TONGUE_SHADE,
    cavity_mask,
    fill_polygon,
    lip_colour,
    teeth_in_light,
)
from keras_s2v.faces.mouth_warp import pose_transform, render_mouth

MIN_DISTANCE = 10  # frames between the frame dubbed and the source it is given: never its own mouth
GAP_SCALE, POSE_SCALE = 0.02, 0.005  # what one unit of the pick's cost is worth, in face heights
# The last pick is kept unless another costs this much less. Each change of source is a jump in the lips (3 times a
# frame's usual change, on a real clip's silent dub), and one frame's tracking noise moves two sources' cost
# difference by up to 1.6-2.6 (the 90th percentile on three real clips): at 0.5 a silent dub changed source every 4
# frames. At 2 the sources picked are turned from the frame by 0.001-0.002 face heights more, within that noise.
STAY = 2.0
# An opening wider than the source's is drawn (a dark cavity without teeth): a source too shut costs this much more.
DRAWN_EXTRA = 1.0
# A narrower one presses the source's lips together. Part-way, its teeth still show; pressed shut, they are
# squeezed into a jagged crack that the face mesh still reads as open. So pressing costs this much more, times
# the share of the source's opening pressed shut (docs/experiments.md, "Pressed shut").
PRESSED_EXTRA = 2.0
# A source whose lips differ from its face's colour by less than this share of the bank's median difference
# shows no lips (rolled in, pressed out of sight): a mouth drawn from it has none (docs/experiments.md).
LIPS_SHOWN = 0.6
# A mouth far wider than the person's usual is a grin, its cheeks raised and creased round it; given to a face whose
# eyes do not smile, it looks pasted on. Each WIDTH_SCALE (face heights) a source's mouth is wider or narrower than
# the bank's median costs one unit of a pick's cost (docs/experiments.md).
WIDTH_SCALE = 0.02
# A dub plays its video forward and back, so a frame comes round again with the same mesh: its pose residuals
# to every source (most of a pick's time) are kept, for at most this many meshes (about 0.5 KB each).
KEPT_RESIDUALS = 20_000


def pose_residual(source_landmarks, frame_landmarks):
    """RMS distance, in face heights, left between POSE_POINTS after aligning the stable points: how
    differently the head is turned in the two frames (a similarity cannot undo a turn)."""
    matrix = pose_transform(source_landmarks, frame_landmarks)
    placed = apply_matrix(matrix, np.asarray(source_landmarks, np.float64)[list(POSE_POINTS)])
    error = placed - np.asarray(frame_landmarks, np.float64)[list(POSE_POINTS)]
    return float(np.sqrt((error**2).sum(axis=1).mean()) / max(face_height(frame_landmarks), 1e-6))


def gap_cost(source_gap, wanted):
    """What giving a frame that wants lip gap `wanted` a source of `source_gap` costs, in units of GAP_SCALE."""
    drawn, pressed = max(wanted - source_gap, 0.0), max(source_gap - wanted, 0.0)
    shut = pressed / max(source_gap, 1e-6)
    return (abs(source_gap - wanted) + DRAWN_EXTRA * drawn + PRESSED_EXTRA * shut * pressed) / GAP_SCALE


def choose_bank(landmarks, closed_gap, size=16):
    """Indices of the frames to draw mouths from: `size` of them, half spanning the clip's lip openings
    (each the most typical head pose of its band of openings), half its head poses (each the farthest in
    pose from those chosen so far), so every frame finds a source turned as it is; and for each of those,
    the frame that a mouth shut to `closed_gap` (face heights) turned as it is would be given, so that a
    silent frame finds a shut source at its pose instead of an open one pressed shut (whose teeth show as
    a crack, and which the face mesh reads as open by more than a shut one: docs/experiments.md).
    `landmarks`: (468, 2) or None per frame."""
    found = [index for index, points in enumerate(landmarks) if points is not None]
    if not found:
        return []
    gaps = np.array([lip_gap(landmarks[index]) for index in found])
    typical = landmarks[found[int(np.argsort(gaps)[len(gaps) // 2])]]
    residual = np.array([pose_residual(landmarks[index], typical) for index in found])
    order = np.argsort(gaps)
    chosen = [found[int(band[np.argmin(residual[band])])] for band in np.array_split(order, min(max(1, size // 2), len(order)))]
    # Pose distances to a subsample are enough to spread the rest: a few hundred frames at most.
    step = max(1, len(found) // 300)
    candidates, candidate_gaps = found[::step], gaps[::step]
    # Each chosen frame's pose residual from every candidate.
    residuals = {other: np.array([pose_residual(landmarks[index], landmarks[other]) for index in candidates]) for other in chosen}
    distance = np.min(list(residuals.values()), axis=0)
    # A frame's residual to itself need not come out exactly 0 (1e-16 on some meshes): each pick is marked 0,
    # or a clip with fewer distinct frames than `size` would loop for ever.
    while len(set(chosen)) < size and distance.max() > 0:
        pick = int(np.argmax(distance))
        chosen.append(candidates[pick])
        residuals[candidates[pick]] = np.array(
            [pose_residual(landmarks[index], landmarks[candidates[pick]]) for index in candidates]
        )
        distance = np.minimum(distance, residuals[candidates[pick]])
        distance[pick] = 0.0
    shut_costs = np.array([gap_cost(gap, closed_gap) for gap in candidate_gaps])
    chosen += [candidates[int(np.argmin(shut_costs + pose / POSE_SCALE))] for pose in residuals.values()]
    return sorted(set(chosen))


def with_lips_shown(sources):
    """`sources` without those whose lips hardly show against their face (`MouthSource.lip_contrast` under
    LIPS_SHOWN of the median's); all of them if that would leave none."""
    contrasts = [source.lip_contrast for source in sources]
    known = [contrast for contrast in contrasts if contrast is not None]
    if not known:
        return list(sources)
    least = LIPS_SHOWN * float(np.median(known))
    return [source for source, contrast in zip(sources, contrasts) if contrast is None or contrast >= least] or list(sources)


def cavity_colour(sources, default=DEFAULT_CAVITY):
    """The colour of the darkest part of the most open mouth among `sources` (the person's own), or `default`."""
    widest = max(sources, key=lambda source: source.gap, default=None)
    if widest is None or widest.gap * face_height(widest.landmarks) < 4:
        return default
    inside = cavity_mask(widest.image.shape[:2], np.zeros(2), widest.landmarks, feather=0.5) > 0.5
    pixels = widest.image[inside].astype(np.float32)
    if len(pixels) < 8:
        return default
    dark = np.median(pixels[pixels.sum(axis=1) <= np.percentile(pixels.sum(axis=1), 30)], axis=0)
    # A mouth shown mostly by its teeth and lips (a smile) has no shadow to take: keep its hue, not its light.
    dark *= min(1.0, MAX_CAVITY_LEVEL / max(float(dark.max()), 1e-6))
    return tuple(float(value) for value in dark)


def tongue_colour(sources, default=DEFAULT_TONGUE):
    """The colour of a tongue in the shade of the mouth: the person's own lips' (of the most open source), darkened
    and no paler than a tongue."""
    widest = max(sources, key=lambda source: source.gap, default=None)
    lips = None if widest is None else lip_colour(widest.image, widest.landmarks)
    if lips is None:
        return default
    tongue = TONGUE_SHADE * np.asarray(lips, np.float64)
    tongue[1:] = np.minimum(tongue[1:], TONGUE_GREEN_BLUE * tongue[0])
    return tuple(float(value) for value in tongue)


def teeth_colour(sources, default=DEFAULT_TEETH):
    """The colour of the person's own upper teeth (the brighter half of them, in the most open source that shows
    some); where none shows any, teeth in the light of the most open one's face (`teeth_in_light`), or `default`
    where its colour cannot be told. Drawn teeth in a source that shows none take it."""
    showing = [source for source in sources if source.shows_teeth]
    if not showing:
        widest = max(sources, key=lambda source: source.gap, default=None)
        face = None if widest is None else widest.face_colour
        return default if face is None else teeth_in_light(face)
    widest = max(showing, key=lambda source: source.gap)
    upper = widest.landmarks[list(UPPER_INNER_LIP[1:-1])]
    teeth = fill_polygon(widest.image.shape[:2], np.concatenate([upper, widest.split_line[::-1]]), np.zeros(2)) > 0.5
    pixels = widest.image[teeth].astype(np.float32)
    if len(pixels) < 8:
        return default
    brighter = pixels[pixels.sum(axis=1) >= np.median(pixels.sum(axis=1))]
    return tuple(float(value) for value in np.median(brighter, axis=0))


class MouthBank:
    """Frames of one video to draw its mouths from (those that show their lips): `pick` gives, for a frame and a
    wanted lip gap, the source with the nearest opening and head pose, never one within MIN_DISTANCE frames."""

    def __init__(self, sources):
        if not sources:
            raise ValueError("a MouthBank needs at least one source frame")
        self.sources = with_lips_shown(sources)
        self.cavity = cavity_colour(self.sources)
        self.tongue = tongue_colour(self.sources)
        self.teeth = teeth_colour(self.sources)
        widths = np.array([mouth_width(source.landmarks) for source in self.sources])
        self._width_costs = dict(zip(self.sources, np.abs(widths - np.median(widths)) / WIDTH_SCALE))
        self._last = None
        self._residuals = {}  # digest of a frame's mesh -> its pose residual to each source

    def _pose_residuals(self, frame_landmarks):
        points = np.ascontiguousarray(frame_landmarks, np.float64)
        key = hashlib.blake2b(points.tobytes(), digest_size=16).digest()
        if key not in self._residuals:
            if len(self._residuals) >= KEPT_RESIDUALS:
                self._residuals.clear()
            self._residuals[key] = np.array([pose_residual(source.landmarks, points) for source in self.sources])
        return self._residuals[key]

    def pick(self, frame_landmarks, gap, index=-1):
        allowed = [
            source for source in self.sources if index < 0 or source.index < 0 or abs(source.index - index) >= MIN_DISTANCE
        ]
        if not allowed:  # a clip shorter than MIN_DISTANCE frames: the farthest frame
            allowed = [max(self.sources, key=lambda source: abs(source.index - index))]

        residuals = dict(zip(self.sources, self._pose_residuals(frame_landmarks)))
        costs = {
            source: gap_cost(source.gap, gap) + residuals[source] / POSE_SCALE + self._width_costs[source] for source in allowed
        }
        best = min(allowed, key=costs.get)
        if self._last in costs and costs[self._last] <= costs[best] + STAY:
            best = self._last
        self._last = best
        return best

    def render(self, frame, frame_landmarks, gap, index=-1):
        source = self.pick(frame_landmarks, gap, index)
        return render_mouth(frame, frame_landmarks, source, gap, self.cavity, self.tongue, self.teeth)
