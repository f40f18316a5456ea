"""The window tensors of architecture.md §1, shared by tf.data, training, export and dubbing.

frames/identity: IDENTITY_SHAPE, the WINDOW_FRAMES RGB frames on channels in time order.
mouths: rows MOUTH_ROW.. of the frames. identity: the frames with those rows zeroed.
The numbers live in keras_s2v.geometry.
"""

import tensorflow as tf

from keras_s2v.geometry import FRAME_CHANNELS, MOUTH_ROW, WINDOW_CHANNELS, WINDOW_FRAMES


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


def frame_changes(windows):
    """(..., WINDOW_CHANNELS) windows -> (..., WINDOW_CHANNELS - 3): frame t+1 minus frame t, for t = 0..WINDOW_FRAMES - 2."""
    return windows[..., FRAME_CHANNELS:] - windows[..., :-FRAME_CHANNELS]


def mouths(frames):
    """The lower half (rows MOUTH_ROW..) of (..., FACE_SIZE, FACE_SIZE, WINDOW_CHANNELS) windows: SyncNet's visual input."""
    return frames[..., MOUTH_ROW:, :, :]


def mask_lower_half(frames):
    """The generator's identity input: the window with its lower half zeroed."""
    keep = tf.cast(tf.range(tf.shape(frames)[-3]) < MOUTH_ROW, frames.dtype)
    return frames * keep[:, None, None]
