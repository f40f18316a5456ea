"""Live frames from a mouth-motion model: `dub_own_pixels`' openings and renderer, frame by frame.

`dub_own_pixels` turns the whole speech into openings at once (`models.mouth_motion.speech_openings`);
here the same steps run as the speech arrives:

- the network's opening of frame g is the mean over the WINDOW_FRAMES windows that show it, the
  last of which ends WINDOW_SAMPLES after frame g starts, as in `predict_openings`;
- the `opening_cue` of each frame's own audio, scaled to the
  network's mean: the means so far, where `dub` takes the whole clip's (the one figure a stream
  cannot know in advance, so the first second or two may differ);
- the Gaussian smoothing over SMOOTHING_FRAMES, cut SMOOTHING_AHEAD frames after the frame (the
  whole clip's is symmetric) and renormalised;
- the openings taken LEAD_FRAMES early, since lips move before the sound they make.

So frame f waits for the speech up to WINDOW_SAMPLES after the start of frame f + LEAD_FRAMES +
SMOOTHING_AHEAD. Each frame is drawn by the same `MouthBank.render` as `dub`'s, in the same order.
At window step k the mouth is drawn on every k-th frame and held for k frames: a k-th of the work.
"""

import itertools
import sys
import time

import numpy as np

from keras_s2v.dubbing.own_pixels import BACKEND, LEAD_FRAMES, load_motion_model, prepare_face, target_gaps
from keras_s2v.geometry import FRAME_LENGTH, SAMPLES_PER_FRAME, WINDOW_FRAMES, WINDOW_SAMPLES
from keras_s2v.live.feed import AheadFeed
from keras_s2v.media import audio as audio_lib
from keras_s2v.media import video
from keras_s2v.models.mouth_motion import CUE_SHARE, SMOOTHING_FRAMES, opening_cue

SMOOTHING_AHEAD = 1  # frames after a frame that its smoothing waits for: 40 ms more latency against a lag
SMOOTHING_BEHIND = int(4.0 * SMOOTHING_FRAMES + 0.5)  # scipy's gaussian_filter1d reaches as far (truncate=4)
LEAD_WINDOWS = WINDOW_FRAMES - 1  # `predict_openings` starts its windows this many frames before frame 0


def batch_bucket(count):
    """The batch size `count` windows are padded to: 4, 8, 16, ..."""
    return max(4, 1 << (count - 1).bit_length())


class LiveOpenings:
    """The openings of frames as the speech allows them, and the lip gap each frame is drawn to."""

    def __init__(self, model, gap_range, scale=None):
        """`scale`: the cue's scale to the network's openings, when known (from an earlier stream of the same
        voice, or a test); by default the ratio of their means so far."""
        self.model = model
        self.scale = scale
        self.gap_range = gap_range
        self.predicted = {}  # window k (its first frame is k - LEAD_WINDOWS) -> (WINDOW_FRAMES,) openings
        self.mixed = []  # per frame: the network's and the cue's mix, before smoothing
        self._sums = np.zeros(2)  # of the network's openings and of the cue so far
        offsets = np.arange(-SMOOTHING_BEHIND, SMOOTHING_AHEAD + 1)
        self._weights = np.exp(-0.5 * (offsets / SMOOTHING_FRAMES) ** 2)
        self._offsets = offsets

    @staticmethod
    def needed_samples(frame):
        """Samples the gap of `frame` waits for."""
        return SAMPLES_PER_FRAME * (frame + LEAD_FRAMES + SMOOTHING_AHEAD) + WINDOW_SAMPLES

    def _mix_until(self, count, pcm):
        """Compute `mixed` for frames up to `count` - 1 (their windows must be in `pcm` or past its end)."""
        first = len(self.mixed)
        if count <= first:
            return
        windows = [k for k in range(first, count + LEAD_WINDOWS) if k not in self.predicted]
        if windows:
            # Batches of a few sizes only (padded with silence): TensorFlow's kernels are set up per shape, and a
            # new shape in the middle of a stream cost hundreds of ms.
            size = batch_bucket(len(windows))
            starts = [SAMPLES_PER_FRAME * (k - LEAD_WINDOWS) for k in windows]
            pcm_windows = np.zeros((size, WINDOW_SAMPLES), np.float32)
            pcm_windows[: len(starts)] = [pcm.read(start, start + WINDOW_SAMPLES) for start in starts]
            predicted = np.asarray(self.model(audio_lib.mfcc(pcm_windows)[..., None], training=False))
            self.predicted.update(zip(windows, predicted[: len(windows)]))
        for frame in range(first, count):
            network = np.mean([self.predicted[k][frame - k + LEAD_WINDOWS] for k in range(frame, frame + WINDOW_FRAMES)])
            start = SAMPLES_PER_FRAME * frame
            cue = opening_cue(pcm.read(start, start + SAMPLES_PER_FRAME + FRAME_LENGTH), 1)[0]
            self._sums += (network, cue)
            scale = self.scale if self.scale is not None else self._sums[0] / max(self._sums[1], 1e-12)
            self.mixed.append((1.0 - CUE_SHARE) * network + CUE_SHARE * cue * scale)
            self.predicted.pop(frame, None)  # window `frame` shows no later frame

    def skip(self, stop):
        """Frames before `stop` are not drawn (held): their mix is not worked out but holds the last value,
        which later frames' smoothing reads; the speech of those frames may be let go."""
        last = self.mixed[-1] if self.mixed else 0.0
        self.mixed.extend([last] * max(0, stop - len(self.mixed)))
        self.predicted = {k: value for k, value in self.predicted.items() if k >= len(self.mixed)}

    def gaps(self, frames, pcm, total):
        """Lip gaps for `frames` (ascending); `total` frames once the stream has ended, else None."""
        last = frames[-1] + LEAD_FRAMES + SMOOTHING_AHEAD
        # dub_own_pixels reads openings for total + LEAD_FRAMES frames; the smoothing holds the edge values past them.
        end = None if total is None else total + LEAD_FRAMES
        self._mix_until(last + 1 if end is None else min(last + 1, end), pcm)
        out = []
        for frame in frames:
            centre = frame + LEAD_FRAMES
            limit = len(self.mixed) - 1 if end is None else end - 1
            values = np.array([self.mixed[index] for index in np.clip(centre + self._offsets, 0, limit)])
            out.append(float(values @ self._weights / self._weights.sum()))
        return target_gaps(np.asarray(out), *self.gap_range)


class OwnPixelsPath:
    """`plan` says which frames the speech received allows; `render` draws them."""

    name = "own pixels"
    name_of_backend = BACKEND
    steps = (1, 2, 3, 4, 5)

    def __init__(self, face, model, detector="cnn", cue_scale=None, ahead=25):
        self.model = load_motion_model(model) if isinstance(model, str) else model
        info, self.landmarks, self.bank, gap_range = prepare_face(face, detector)
        self.size = (info.width, info.height)
        self.openings = LiveOpenings(self.model, gap_range, cue_scale)
        # The first calls trace TensorFlow functions (hundreds of ms): made now, they would count as falling behind.
        for count in (4, 8, 16):
            self.model(audio_lib.mfcc(np.zeros((count, WINDOW_SAMPLES), np.float32))[..., None], training=False)
        if info.is_image:
            image = video.read_image(face)
            frames = itertools.repeat((0, image))
        else:
            frames = video.FrameSource(face).play(sys.maxsize)
        self.feed = AheadFeed(frames, ahead)

    def needed_samples(self, first, step):
        return LiveOpenings.needed_samples(first)

    def plan(self, first, step, samples, total):
        groups = []
        while total is None or first < total:
            if total is None and samples < self.needed_samples(first, step):
                break
            stop = first + step if total is None else min(first + step, total)
            groups.append((first, stop, first))
            first = stop
        return groups

    def render(self, groups, pcm, total):
        clock = time.perf_counter()
        gaps = self.openings.gaps([first for first, _, _ in groups], pcm, total)
        frames = self.feed.take(groups[-1][1] - groups[0][0])
        drawn, out = 0.0, []
        for (first, stop, _), gap in zip(groups, gaps):
            index, frame = frames[first - groups[0][0]]
            points = self.landmarks[index]
            tick = time.perf_counter()
            image = frame if points is None else self.bank.render(frame, points, float(gap), index)
            drawn += time.perf_counter() - tick
            out.extend((number, image, points is not None) for number in range(first, stop))
        return out, (drawn, time.perf_counter() - clock - drawn)

    def skip(self, first, stop):
        """Frames [first, stop) are not drawn (the dubber shows an earlier one): their face frames go unused."""
        self.feed.take(stop - first)
        self.openings.skip(stop)

    def close(self):
        self.feed.close()
