"""The window tensors of architecture.md §1, shared by tf.data, training, export and dubbing.

frames/identity: (112, 112, 15), 5 RGB frames on channels in time order.
mouths: rows 56..111 of the frames. identity: the frames with rows 56..111 zeroed.
"""

import tensorflow as tf

FACE_SIZE = 112
MOUTH_ROW = FACE_SIZE // 2


def stack_frames(frames):
    """(..., 5, H, W, 3) -> (..., H, W, 15): channels 3t..3t+2 are frame t."""
    rank = len(frames.shape)
    perm = list(range(rank - 4)) + [rank - 3, rank - 2, rank - 4, rank - 1]
    stacked = tf.transpose(frames, perm)
    return tf.reshape(stacked, tf.concat([tf.shape(stacked)[:-2], [15]], axis=0))


def unstack_frames(window):
    """(..., H, W, 15) -> (..., 5, H, W, 3)."""
    rank = len(window.shape)
    split = tf.reshape(window, tf.concat([tf.shape(window)[:-1], [5, 3]], axis=0))
    perm = list(range(rank - 3)) + [rank - 1, rank - 3, rank - 2, rank]
    return tf.transpose(split, perm)


def frame_changes(windows):
    """(..., 15) windows -> (..., 12): frame t+1 minus frame t, for t = 0..3."""
    return windows[..., 3:] - windows[..., :-3]


def mouths(frames):
    """The lower half of (..., 112, 112, 15) windows: SyncNet's visual input."""
    return frames[..., MOUTH_ROW:, :, :]


def mask_lower_half(frames):
    """The generator's identity input: the window with its lower half zeroed."""
    keep = tf.cast(tf.range(tf.shape(frames)[-3]) < MOUTH_ROW, frames.dtype)
    return frames * keep[:, None, None]
