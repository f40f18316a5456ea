"""The window tensors of docs/design.md (the contract), shared by tf.data, training, export and dubbing.

frames/identity: IDENTITY_SHAPE, the WINDOW_FRAMES RGB frames on channels in time order.
mouths: rows MOUTH_ROW.. of the frames. reference: frames of the same video at least
MIN_REFERENCE_GAP frames away, whose lower half shows the person's own lips and skin.
The numbers live in keras_s2v.geometry.
"""

import numpy as np
import tensorflow as tf

from keras_s2v.geometry import FRAME_CHANNELS, MIN_REFERENCE_GAP, MOUTH_ROW, REFERENCE_GAP, WINDOW_CHANNELS, WINDOW_FRAMES


def stack_frames(frames):
    """(..., WINDOW_FRAMES, H, W, 3) -> (..., H, W, WINDOW_CHANNELS): channels 3t..3t+2 are frame t."""
    rank = len(frames.shape)
    perm = list(range(rank - 4)) + [rank - 3, rank - 2, rank - 4, rank - 1]
    stacked = tf.transpose(frames, perm)
    return tf.reshape(stacked, tf.concat([tf.shape(stacked)[:-2], [WINDOW_CHANNELS]], axis=0))


def unstack_frames(window):
    """(..., H, W, WINDOW_CHANNELS) -> (..., WINDOW_FRAMES, H, W, 3)."""
    rank = len(window.shape)
    split = tf.reshape(window, tf.concat([tf.shape(window)[:-1], [WINDOW_FRAMES, FRAME_CHANNELS]], axis=0))
    perm = list(range(rank - 3)) + [rank - 1, rank - 3, rank - 2, rank]
    return tf.transpose(split, perm)


def reversed_in_time(mfcc, windows):
    """(mfcc, windows) played backwards: the MFCC columns (axis 2 of (B, NUM_MFCC, WINDOW_STEPS, 1))
    and the frames on the channels of (..., WINDOW_CHANNELS) windows, each in reverse order."""
    return tf.reverse(mfcc, axis=[2]), stack_frames(tf.reverse(unstack_frames(windows), axis=[-4]))


def take(tensor, start, stop, axis):
    """`tensor[..., start:stop, ...]` along `axis` (counted from the end: < 0), whose gradient is a pad. The losses
    take their parts of the generated frames this way: TensorFlow's own gradient of a slice (StridedSliceGrad) was
    14% of the CPU time of a generator's training step, and a pad is a copy. The same values and gradients; a
    gradient's terms may be added up in another order, which float32 rounds otherwise (docs/experiments.md)."""

    @tf.custom_gradient
    def sliced(whole):
        index = [slice(None)] * -axis
        index[0] = slice(start, stop)
        part = whole[(Ellipsis, *index)]

        def gradient(upstream):
            size, taken = tf.shape(whole)[axis], tf.shape(part)[axis]
            before = 0 if start is None else start if start >= 0 else size + start
            rank = len(whole.shape)
            return tf.pad(upstream, [[0, 0]] * (rank + axis) + [[before, size - before - taken]] + [[0, 0]] * (-axis - 1))

        return part, gradient

    return sliced(tensor)


def frame_changes(windows):
    """(..., WINDOW_CHANNELS) windows -> (..., WINDOW_CHANNELS - 3): frame t+1 minus frame t, for t = 0..WINDOW_FRAMES - 2."""
    return take(windows, FRAME_CHANNELS, None, -1) - take(windows, None, -FRAME_CHANNELS, -1)


def image_gradients(windows):
    """(down, across) of (..., H, W, C) windows: each pixel minus the one above it, and minus the one
    to its left. Per channel, so never across frames; (..., H - 1, W, C) and (..., H, W - 1, C)."""
    return take(windows, 1, None, -3) - take(windows, None, -1, -3), take(windows, 1, None, -2) - take(windows, None, -1, -2)


def mouths(frames):
    """The lower half (rows MOUTH_ROW..) of (..., FACE_SIZE, FACE_SIZE, WINDOW_CHANNELS) windows: SyncNet's visual input."""
    return take(frames, MOUTH_ROW, None, -3)


# Frames played on either side of a frame among which its reference is picked. Enough for a
# video played forward (REFERENCE_GAP away) and for one looped forward and back (dubbing):
# near a turn, a frame REFERENCE_GAP away in the source was played at most this far away.
REFERENCE_REACH = REFERENCE_GAP + WINDOW_FRAMES


def pick_reference(sources, position, gap=REFERENCE_GAP):
    """Which frame of a stretch of video serves as the reference of frame `position`.

    `sources[i]` is the source-video frame index of frame i of the stretch (a looped video
    plays frames again, so this is not i), or None where that frame has no face. The pick is
    the frame whose source index is nearest to `gap` away and never closer than
    MIN_REFERENCE_GAP; when there is none (a still image, a video of a few frames), the
    frame is its own reference, as a still image is.
    """
    target = sources[position]
    candidates = [
        i
        for i, source in enumerate(sources)
        if source is not None and target is not None and abs(source - target) >= MIN_REFERENCE_GAP
    ]
    if not candidates:
        return position
    return min(candidates, key=lambda i: (abs(abs(sources[i] - target) - gap), abs(i - position)))


def reference_indices(count):
    """The reference frame (pick_reference) of every frame of a `count`-frame video played once, forward."""
    picks = []
    for index in range(count):
        low = max(0, index - REFERENCE_REACH)
        picks.append(low + pick_reference(list(range(low, min(count, index + REFERENCE_REACH + 1))), index - low))
    return picks


def window_plan(num_frames, step=WINDOW_FRAMES):
    """(starts, outputs): the generator windows that make `num_frames` frames, in order.

    A window every `step` frames (1 to WINDOW_FRAMES) gives its `step` middle frames: starts
    (W,) is the first frame of each window, outputs (W, 2) the frames [first, stop) it gives.
    Together the outputs cover frames 0..num_frames - 1 once each, in order. Near the ends of the
    clip the windows shift inward; a clip shorter than one window has one window, which the
    caller fills up by repeating the last frame.

    Step WINDOW_FRAMES (5) takes every frame of a window: the least work. Step 1 draws every
    frame from the window centred on it, 5 times the work: each mouth is drawn from the audio
    around its own frame, not from wherever the frame falls in a fixed 0.2 s block, so the
    mouth moves on time from frame to frame (docs/experiments.md).
    """
    if not isinstance(step, (int, np.integer)) or not 1 <= step <= WINDOW_FRAMES:
        raise ValueError(f"`step` must be an integer from 1 to {WINDOW_FRAMES}; received {step!r}")
    if num_frames < 1:
        raise ValueError(f"`num_frames` must be at least 1; received {num_frames}")
    firsts = np.arange(0, num_frames, step)
    starts = np.clip(firsts - (WINDOW_FRAMES - step) // 2, 0, max(num_frames - WINDOW_FRAMES, 0))
    return starts, np.stack([firsts, np.minimum(firsts + step, num_frames)], axis=1)
