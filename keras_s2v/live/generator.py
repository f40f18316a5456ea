"""Live frames from a generator: `dub`'s window plan, backend and paste, a few windows at a time.

At window step k a window gives its k middle frames (keras_s2v.windows.window_plan): the
window of the frames [first, first + k) starts (WINDOW_FRAMES - k) // 2 frames before `first`.
It can run once the speech reaches its end, WINDOW_SAMPLES after its start. Before the stream
ends no such window reaches past the audio, so each is the very window `dub` runs for the same
frames; at the end the windows shift inward as `dub`'s do. The face side (frames, faces, crops,
references) is `dub`'s own code, run ahead by a thread (keras_s2v.live.feed).
"""

import itertools
import sys
import time

import numpy as np

from keras_s2v import faces
from keras_s2v.dubbing.backends import load_backend
from keras_s2v.dubbing.engine import find_face, stack_window, to_uint8, with_references
from keras_s2v.errors import NoFaceError
from keras_s2v.geometry import FACE_SIZE, FRAME_CHANNELS, SAMPLES_PER_FRAME, WINDOW_FRAMES, WINDOW_SAMPLES
from keras_s2v.live.feed import AheadFeed
from keras_s2v.media import audio as audio_lib
from keras_s2v.media import video


def window_start(first, step, total=None):
    """The first frame of the window that gives frames [first, first + step), as `window_plan` places it."""
    start = max(first - (WINDOW_FRAMES - step) // 2, 0)
    return start if total is None else min(start, max(total - WINDOW_FRAMES, 0))


class GeneratorPath:
    """`plan` says which frames the speech received allows; `render` makes them."""

    name = "generator"
    steps = tuple(range(1, WINDOW_FRAMES + 1))

    def __init__(self, face, model, detector="cnn", batch_size=4, keep_above_lips=True, ahead=25):
        self.backend = load_backend(model)
        self.batch_size = batch_size
        self.keep_above_lips = keep_above_lips
        info = video.probe(face)
        self.size = (info.width, info.height)
        tracker = faces.FaceTracker(faces.make_detector(detector) if isinstance(detector, str) else detector)
        if info.is_image:  # detected and cropped once, its own reference, as `dub` does
            still = find_face((0, video.read_image(face)), tracker)
            if still[1] is None:
                raise NoFaceError(face, "no face found in any frame")
            items = itertools.repeat((still, still[2]))
        else:
            items = with_references(find_face(frame, tracker) for frame in video.FrameSource(face).play(sys.maxsize))
        self.feed = AheadFeed(items, ahead)
        # The first calls trace TensorFlow functions (hundreds of ms): made now, they would count as falling behind.
        # Every batch size: oneDNN builds its kernels per shape, and a batch of 3 came first in the middle of a stream.
        for count in range(1, batch_size + 1):
            self.backend(
                audio_lib.mfcc(np.zeros((count, WINDOW_SAMPLES), np.float32))[..., None],
                *[np.zeros((count, FACE_SIZE, FACE_SIZE, WINDOW_FRAMES * FRAME_CHANNELS), np.float32)] * 2,
            )
        self._held = {}  # frame index -> (item, reference crop), from the oldest a window may still read
        self._taken = 0

    @property
    def name_of_backend(self):
        return self.backend.name

    def needed_samples(self, first, step):
        """Samples the frames from `first` wait for at `step`: their window's end."""
        return SAMPLES_PER_FRAME * window_start(first, step) + WINDOW_SAMPLES

    def plan(self, first, step, samples, total):
        """Groups (first, stop, start) that can be made from frame `first` on: each a window at `step`.
        `samples` received so far; `total` frames once the stream has ended (None before)."""
        groups = []
        while total is None or first < total:
            if total is None and samples < self.needed_samples(first, step):
                break
            stop = first + step if total is None else min(first + step, total)
            groups.append((first, stop, window_start(first, step, total)))
            first = stop
        return groups

    def _items(self, stop):
        if stop > self._taken:
            self._held.update(zip(itertools.count(self._taken), self.feed.take(stop - self._taken)))
            self._taken = stop

    def render(self, groups, pcm, total):
        """[(frame index, image, has a face)] for the groups, and (seconds in windows, seconds in frames)."""
        clock = time.perf_counter()
        last = max(start + WINDOW_FRAMES for _, _, start in groups) if total is None else total
        self._items(max(last, groups[-1][1]))
        mfcc, identity, reference = [], [], []
        for _, _, start in groups:
            window = pcm.read(SAMPLES_PER_FRAME * start, SAMPLES_PER_FRAME * start + WINDOW_SAMPLES)
            mfcc.append(window)
            # Past the end of a stream shorter than a window, the last frame repeats, as in `dub`.
            frames = [self._held[index] for index in range(start, min(start + WINDOW_FRAMES, last))]
            identity.append(stack_window([item[2] for item, _ in frames]))
            reference.append(stack_window([crop for _, crop in frames]))
        mfcc = audio_lib.mfcc(np.stack(mfcc))[..., None]  # one window's MFCC is its own samples' alone
        generated = np.concatenate(
            [
                self.backend(
                    mfcc[i : i + self.batch_size],
                    np.stack(identity[i : i + self.batch_size]),
                    np.stack(reference[i : i + self.batch_size]),
                )
                for i in range(0, len(groups), self.batch_size)
            ]
        )
        # (B, H, W, WINDOW_CHANNELS) -> (B, WINDOW_FRAMES, H, W, 3): windows.unstack_frames, in NumPy.
        generated = generated.reshape(len(groups), FACE_SIZE, FACE_SIZE, WINDOW_FRAMES, FRAME_CHANNELS).transpose(0, 3, 1, 2, 4)
        windows_seconds = time.perf_counter() - clock
        clock = time.perf_counter()
        out = []
        for number, (first, stop, start) in enumerate(groups):
            for index in range(first, stop):
                frame, face, _, alignment, _ = self._held[index][0]
                if face is not None:
                    crop = to_uint8(generated[number, index - start])
                    frame = faces.paste_face(frame, crop, alignment, face, keep_above_lips=self.keep_above_lips)
                out.append((index, frame, face is not None))
        # A later window starts at most WINDOW_FRAMES - 1 frames before the next frame (at the end, shifted inward).
        oldest = groups[-1][1] - WINDOW_FRAMES
        self._held = {index: item for index, item in self._held.items() if index >= oldest}
        return out, (windows_seconds, time.perf_counter() - clock)

    def skip(self, first, stop):
        """Frames [first, stop) are not made (the dubber shows an earlier one): their face items go unused."""
        self._items(stop)
        self._held = {index: item for index, item in self._held.items() if index >= stop - WINDOW_FRAMES}

    def close(self):
        self.feed.close()
