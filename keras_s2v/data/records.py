"""The TFRecord schema: one tf.train.Example per clip (JPEG face crops, MFCC map, metadata)."""

import cv2
import numpy as np
import tensorflow as tf

from keras_s2v.errors import MediaError
from keras_s2v.geometry import FACE_SIZE, FRAME_CHANNELS, NUM_MFCC, STEPS_PER_FRAME, WINDOW_FRAMES, WINDOW_STEPS
from keras_s2v.media.audio import num_windows

FEATURES = {
    "clip_id": tf.io.FixedLenFeature([], tf.string),
    "split": tf.io.FixedLenFeature([], tf.string),
    "num_frames": tf.io.FixedLenFeature([], tf.int64),
    "mfcc_steps": tf.io.FixedLenFeature([], tf.int64),
    "frames": tf.io.VarLenFeature(tf.string),  # JPEG, one per frame at 25 fps
    "has_face": tf.io.VarLenFeature(tf.int64),
    "windows": tf.io.VarLenFeature(tf.int64),  # start frames of the usable windows
    "mfcc": tf.io.VarLenFeature(tf.float32),  # (NUM_MFCC, T) row-major
}


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def window_starts(has_face, mfcc_steps):
    """Start frames of the windows that fit the audio and have a face in all WINDOW_FRAMES frames."""
    has_face = np.asarray(has_face, bool)
    count = num_windows(mfcc_steps, len(has_face))
    return np.array([f for f in range(count) if has_face[f : f + WINDOW_FRAMES].all()], np.int64)


def encode_clip(
    clip_id: str, split: str, crops: np.ndarray, has_face: np.ndarray, mfcc_map: np.ndarray, jpeg_quality: int = 92
) -> bytes:
    """Serialize one clip: crops (N, FACE_SIZE, FACE_SIZE, 3) uint8 RGB, has_face (N,), mfcc_map (NUM_MFCC, T)."""
    jpegs = [cv2.imencode(".jpg", crop[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])[1].tobytes() for crop in crops]
    feature = {
        "clip_id": _bytes([clip_id.encode()]),
        "split": _bytes([split.encode()]),
        "num_frames": _ints([len(crops)]),
        "mfcc_steps": _ints([mfcc_map.shape[1]]),
        "frames": _bytes(jpegs),
        "has_face": _ints(np.asarray(has_face, np.int64).tolist()),
        "windows": _ints(window_starts(has_face, mfcc_map.shape[1]).tolist()),
        "mfcc": tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(mfcc_map, np.float32).ravel())),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_clip(serialized: tf.Tensor, decode_frames: bool = True) -> dict:
    """A dict of tensors: frames (N, FACE_SIZE, FACE_SIZE, 3) uint8, has_face (N,) bool, mfcc (NUM_MFCC, T) float32."""
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    clip = {
        "clip_id": parsed["clip_id"],
        "num_frames": tf.cast(parsed["num_frames"], tf.int32),
        "has_face": tf.sparse.to_dense(parsed["has_face"]) > 0,
        "windows": tf.cast(tf.sparse.to_dense(parsed["windows"]), tf.int32),
        "mfcc": tf.reshape(tf.sparse.to_dense(parsed["mfcc"]), [NUM_MFCC, -1]),
    }
    if decode_frames:
        jpegs = tf.sparse.to_dense(parsed["frames"])
        clip["frames"] = tf.map_fn(
            lambda jpeg: tf.io.decode_jpeg(jpeg, channels=FRAME_CHANNELS),
            jpegs,
            fn_output_signature=tf.TensorSpec([FACE_SIZE, FACE_SIZE, FRAME_CHANNELS], tf.uint8),
        )
    return clip


def read_clips(files, decode_frames=True):
    """Yield each clip of the shard files as a dict of numpy arrays (`parse_clip`'s keys), checked.

    A damaged or hand-made shard is a one-line MediaError naming its file, not TensorFlow's error in
    mid-evaluation: a record that does not parse, a JPEG that does not decode, counts that disagree,
    windows past the frames or the audio, or an MFCC map that is not finite.
    """
    for path in files:
        try:
            for record in tf.data.TFRecordDataset(path):
                clip = {key: value.numpy() for key, value in parse_clip(record, decode_frames).items()}
                check_clip(clip, path)
                yield clip
        except tf.errors.OpError as error:
            reason = error.message.splitlines()[0] if error.message else type(error).__name__
            raise MediaError(path, f"not a readable shard of clips ({reason})") from None


def check_clip(clip, path):
    """MediaError unless a parsed clip's parts agree with each other and with the window contract."""
    frames, mfcc_map, windows = clip["num_frames"], clip["mfcc"], clip["windows"]
    name = clip["clip_id"].decode(errors="replace") if isinstance(clip["clip_id"], bytes) else clip["clip_id"]
    if len(clip["has_face"]) != frames or ("frames" in clip and len(clip["frames"]) != frames):
        raise MediaError(path, f"clip {name!r} says {frames} frames but holds {len(clip['has_face'])}")
    if not np.isfinite(mfcc_map).all():
        raise MediaError(path, f"clip {name!r} has an MFCC map that is not finite")
    last = min(frames - WINDOW_FRAMES, (mfcc_map.shape[1] - WINDOW_STEPS) // STEPS_PER_FRAME)
    if len(windows) and (windows.min() < 0 or windows.max() > last):
        raise MediaError(path, f"clip {name!r} has windows past its frames or its audio")
