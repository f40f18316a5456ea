"""`LiveDubber`: a face that speaks as the speech arrives.

    dubber = LiveDubber("face.jpg", "mouth.keras")      # or a generator: .keras, SavedModel, .tflite
    for chunk in microphone():                          # any size, 10 ms to 1 s
        for frame in dubber.push(chunk, 48000):
            show(frame.image, at=frame.time)
    dubber.flush()                                      # the last frames

Frames come out in order, one per 1/25 s of speech, each with its index and its time in the speech
(index / 25 s), drawn as `s2v dub` draws them from the same face and speech (keras_s2v.live.generator,
keras_s2v.live.own_pixels). A frame can be made once the speech has reached what its window reads:
that is the lookahead (`LiveDubber.lookahead`). A frame's latency is measured from the arrival of
the speech at the frame's middle (the push that brought it) to the push that returns the frame.

Keeping up: the time each frame costs is measured, as a part per window and a part per frame. At
window step k a window serves k frames; the smallest step whose cost fits FRAME_BUDGET of a frame's
1/25 s is chosen after every batch. A slower model or a busier machine thus moves the dub to a
larger step, a cheaper path with the mouth moving in coarser steps, rather than letting frames fall
ever further behind the speech; it comes back to step 1 when the cost allows. Frames whose speech
arrived over CATCH_UP_SECONDS ago (after a stall) are made at the largest step; those over
HOLD_SECONDS late even so are not made at all but show the frame before them again. `stats` counts
the frames made at each step.
"""

import collections
import dataclasses
import os
import time

import numpy as np

from keras_s2v.geometry import DEFAULT_WINDOW_STEP, SAMPLE_RATE, SAMPLES_PER_FRAME, VIDEO_FPS, WINDOW_FRAMES
from keras_s2v.live.pcm import PcmBuffer

FRAME_BUDGET = 0.85  # of a frame's 1/25 s that its making may cost: the rest is left for the caller (encode, send)
COME_BACK = 0.7  # a smaller step is taken again only when its cost fits this share of the budget: no flapping
# Costs are the medians of the last COST_MEMORY batches: on shared cores one batch now and then takes
# seconds (another process ran), and a mean would hold the dub on the cheaper path long after.
COST_MEMORY = 9
# A frame whose speech came longer ago than this is late whatever the costs say (such a stall passed):
# the frames are made at the largest step until the dub has caught up.
CATCH_UP_SECONDS = 0.6
# Frames whose speech came longer ago than this, even on the cheapest path, are not made: they show the
# frame before them again (step HELD in the statistics), so a dub on cores it cannot keep up on stays on time.
HOLD_SECONDS = 1.0
HELD = 0


@dataclasses.dataclass
class LiveFrame:
    index: int  # frames since the start of the speech
    time: float  # when it is shown, in seconds of the speech: index / 25
    image: np.ndarray  # (height, width, 3) uint8 RGB, at the face's own size
    latency: float  # seconds from the arrival of the speech at the frame's middle to the frame's return
    step: int  # the window step it was made at (1: each frame from its own window; HELD (0): the frame before, again)
    has_face: bool  # False: the face video's frame passed through unchanged


class StepChooser:
    """The smallest window step whose measured cost fits the budget (see the module's docstring)."""

    def __init__(self, steps, step=DEFAULT_WINDOW_STEP, adaptive=True, budget=FRAME_BUDGET / VIDEO_FPS):
        if step not in steps:
            raise ValueError(f"`window_step` must be one of {tuple(steps)}; received {step!r}")
        self.steps, self.step, self.adaptive, self.budget = tuple(steps), step, adaptive, budget
        self._windows, self._frames = collections.deque(maxlen=COST_MEMORY), collections.deque(maxlen=COST_MEMORY)

    @property
    def window_cost(self):
        return float(np.median(self._windows)) if self._windows else None

    @property
    def frame_cost(self):
        return float(np.median(self._frames)) if self._frames else None

    def cost(self, step):
        return self.frame_cost + self.window_cost / step

    def update(self, window_seconds, windows, frame_seconds, frames):
        self._windows.append(window_seconds / max(windows, 1))
        self._frames.append(frame_seconds / max(frames, 1))
        if not self.adaptive:
            return self.step
        fitting = [step for step in self.steps if self.cost(step) <= self.budget]
        best = fitting[0] if fitting else self.steps[-1]
        if best > self.step or self.cost(best) <= COME_BACK * self.budget:
            self.step = best
        return self.step


@dataclasses.dataclass
class LiveStats:
    frames: int = 0
    faces: int = 0
    latencies: list = dataclasses.field(default_factory=list)
    steps: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # frames made at each step
    window_cost: float = 0.0  # the estimates the step is chosen by, in seconds
    frame_cost: float = 0.0
    catch_ups: int = 0  # batches made at the largest step because their speech was over CATCH_UP_SECONDS old

    def latency(self, percentile):
        return float(np.percentile(self.latencies, percentile)) if self.latencies else float("nan")

    @property
    def fallback_frames(self):
        """Frames made at a step above 1 or held, where the dub fell back to a cheaper path."""
        return sum(count for step, count in self.steps.items() if step != 1)

    def line(self):
        steps = ", ".join(
            f"step {step}: {count}" if step != HELD else f"held: {count}" for step, count in sorted(self.steps.items())
        )
        return (
            f"{self.frames} frames, latency p50 {1000 * self.latency(50):.0f} ms, p95 {1000 * self.latency(95):.0f} ms, "
            f"max {1000 * self.latency(100):.0f} ms; {self.fallback_frames} frames on the cheaper path ({steps or 'none'})"
        )


def _is_motion_model(model):
    from keras_s2v.dubbing.own_pixels import is_motion_model

    if isinstance(model, (str, os.PathLike)):
        return is_motion_model(os.fspath(model))
    return len(getattr(model, "inputs", None) or ()) == 1  # a loaded mouth-motion model takes the MFCC alone


class LiveDubber:
    """Dub `face` (a photo, or a video played forward and back without end) with `model` as speech arrives.

    `model`: a mouth-motion model (the person's own mouth, moved) or a generator (.keras, SavedModel
    folder or base path, .tflite, or a backend already loaded), as `s2v dub --model` takes.
    `window_step` is where it starts (1: each frame from the window centred on it); with
    `adaptive` it moves to a larger step when it falls behind and back when it can. `batch_size`:
    a generator's windows per call when several are ready at once. `cue_scale` (mouth-motion
    models): the scale of the speech's `opening_cue` to the network's openings, when known; by default the ratio
    of their means so far (keras_s2v.live.own_pixels).
    Raises NoFaceError when a photo has no face, MediaError / ModelError for a bad file.
    """

    def __init__(
        self,
        face,
        model,
        detector="cnn",
        window_step=DEFAULT_WINDOW_STEP,
        adaptive=True,
        batch_size=4,
        keep_above_lips=True,
        cue_scale=None,
    ):
        face = os.fspath(face)
        if _is_motion_model(model):
            from keras_s2v.live.own_pixels import OwnPixelsPath

            self.path = OwnPixelsPath(face, model, detector, cue_scale)
        else:
            from keras_s2v.live.generator import GeneratorPath

            self.path = GeneratorPath(face, model, detector, batch_size, keep_above_lips)
        self.batch_size = batch_size
        self.chooser = StepChooser(self.path.steps, window_step, adaptive)
        self.pcm = PcmBuffer()
        self.stats = LiveStats()
        self._next = 0  # the next frame to make
        self._total = None  # frames in all, once the stream has ended
        self._last = None  # the last frame returned, shown again for frames too late to make

    @property
    def size(self):
        """(width, height) of the frames."""
        return self.path.size

    @property
    def backend(self):
        return self.path.name_of_backend

    def lookahead(self, step=None):
        """Seconds of speech after a frame's middle that the frame waits for, at `step` (default: the current)."""
        step = step or self.chooser.step
        far = 10**6  # a frame far from the start, where no window shifts inward
        return (self.path.needed_samples(far, step) - (SAMPLES_PER_FRAME * far + SAMPLES_PER_FRAME // 2)) / SAMPLE_RATE

    def push(self, pcm, sample_rate=SAMPLE_RATE, arrival=None):
        """Add a chunk of speech ((samples,) or (samples, channels), float in [-1, 1] or int16) and
        return the LiveFrames it made ready, in order. `arrival` (time.perf_counter()'s clock) is when
        the chunk arrived, if earlier than now (a caller draining a queue); latencies count from it."""
        if self._total is not None:
            raise ValueError("the stream has ended: flush() was called")
        self.pcm.append(pcm, sample_rate, time.perf_counter() if arrival is None else arrival)
        return self._advance()

    def flush(self):
        """End the stream: the last frames, their windows padded with silence as `dub` pads them."""
        if self._total is None:
            self.pcm.finish(time.perf_counter())
            self._total = max(1, int(round(self.pcm.length / SAMPLE_RATE * VIDEO_FPS))) if self.pcm.length else 0
        return self._advance()

    def _age(self, index):
        """Seconds since the speech at the middle of frame `index` arrived."""
        return time.perf_counter() - self.pcm.arrival(SAMPLES_PER_FRAME * index + SAMPLES_PER_FRAME // 2)

    def _advance(self):
        out = []
        while True:
            step = self.chooser.step
            groups = self.path.plan(self._next, step, self.pcm.length, self._total)[: self.batch_size]
            if not groups:
                return out
            behind = self.chooser.adaptive  # at the end too: the last frames of a stream that fell behind are late as well
            late = self._age(self._next)
            if behind and late > HOLD_SECONDS and self._last is not None:
                # Even the cheapest path fell this far behind: the frames already that late are not made but show
                # the last frame again, so the stream is back on time at once instead of drifting.
                stop = self._next + 1
                while stop < groups[-1][1] and self._age(stop) > HOLD_SECONDS:
                    stop += 1
                self.path.skip(self._next, stop)
                held = [(index, self._last.image, self._last.has_face) for index in range(self._next, stop)]
                rendered, step = held, HELD
                groups = [(self._next, stop, self._next)]
            else:
                if behind and late > CATCH_UP_SECONDS and step < self.path.steps[-1]:
                    cheaper = self.path.plan(self._next, self.path.steps[-1], self.pcm.length, self._total)[: self.batch_size]
                    if not cheaper:  # a larger step's window ends later: wait for its speech, queued behind this push
                        return out
                    groups, step = cheaper, self.path.steps[-1]
                    self.stats.catch_ups += 1
                rendered, (window_seconds, frame_seconds) = self.path.render(groups, self.pcm, self._total)
                self.chooser.update(window_seconds, len(groups), frame_seconds, len(rendered))
                self.stats.window_cost, self.stats.frame_cost = self.chooser.window_cost, self.chooser.frame_cost
            now = time.perf_counter()
            for index, image, has_face in rendered:
                latency = now - self.pcm.arrival(SAMPLES_PER_FRAME * index + SAMPLES_PER_FRAME // 2)
                out.append(LiveFrame(index, index / VIDEO_FPS, image, latency, step, has_face))
                self.stats.frames += 1
                self.stats.faces += has_face
                self.stats.latencies.append(latency)
                self.stats.steps[step] += 1
            self._last = out[-1]
            self._next = groups[-1][1]
            # No later window reads speech from more than WINDOW_FRAMES - 1 frames before the next frame (a
            # generator's last windows shift inward; the own-pixels openings start 4 frames early): keep twice that.
            self.pcm.forget_before(SAMPLES_PER_FRAME * (self._next - 2 * WINDOW_FRAMES))

    def close(self):
        self.path.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
