"""manifest.json: what `s2v preprocess` wrote (clips per split, windows, skipped files, window geometry)."""

import json
import os

from keras_s2v.errors import MediaError
from keras_s2v.geometry import GEOMETRY

MANIFEST_NAME = "manifest.json"

# How a mismatch is told, per recorded number.
_GEOMETRY_WORDS = {
    "face_size": lambda size: f"{size}x{size} crops",
    "window_frames": lambda frames: f"{frames}-frame windows",
    "video_fps": lambda fps: f"{fps} fps video",
    "sample_rate": lambda rate: f"{rate} Hz audio",
    "num_mfcc": lambda count: f"{count} MFCC coefficients",
    "steps_per_frame": lambda steps: f"{steps} MFCC steps per frame",
}


def read_manifest(shards: str) -> dict:
    """The manifest of a preprocessed folder (local or any tf.io.gfile path, e.g. gs://).

    MediaError if it is not one, or if its shards were cut for other windows than this keras-s2v reads.
    """
    try:
        manifest = json.loads(_read_text(os.path.join(shards, MANIFEST_NAME)))
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
        raise MediaError(shards, f"no readable {MANIFEST_NAME} (expected the --out folder of `s2v preprocess`)") from None
    if not isinstance(manifest, dict):
        raise MediaError(
            shards, f"{MANIFEST_NAME} holds a JSON {type(manifest).__name__}, not the record `s2v preprocess` writes"
        )
    require_geometry(manifest, shards)
    return manifest


def is_remote(path):
    """Whether `path` is a URL that only tf.io.gfile reads (gs://...), not a local path."""
    return "://" in str(path)


def require_folder(shards):
    """MediaError unless a local `shards` is a folder, told without TensorFlow; a remote one (gs://...) is left
    to its reader. A folder without a manifest passes: hand-made shards and a preprocess still running are read."""
    if not is_remote(shards) and not os.path.isdir(shards):
        raise MediaError(shards, "no such folder")


def _read_text(path):
    """The text of a local file, or of any tf.io.gfile path (gs://...); OSError if it cannot be read.
    A local one is read without TensorFlow (seconds to import), so a mistyped --data fails at once."""
    if not is_remote(path):
        with open(path) as handle:
            return handle.read()
    import tensorflow as tf

    try:
        with tf.io.gfile.GFile(path) as handle:
            return handle.read()
    except tf.errors.OpError as error:
        raise OSError(str(error)) from None


def require_geometry(manifest, shards):
    """MediaError unless `manifest` records the window geometry of keras_s2v.geometry."""
    # Manifests written before the geometry was recorded were all made with today's numbers.
    recorded = manifest.get("geometry", GEOMETRY)
    if not isinstance(recorded, dict):
        raise MediaError(shards, f"the geometry in {MANIFEST_NAME} is not a record: {recorded!r}")
    recorded = {**GEOMETRY, **recorded}
    differing = [key for key in GEOMETRY if recorded[key] != GEOMETRY[key]]
    if differing:
        made = " and ".join(_GEOMETRY_WORDS[key](recorded[key]) for key in differing)
        reads = " and ".join(_GEOMETRY_WORDS[key](GEOMETRY[key]) for key in differing)
        raise MediaError(shards, f"shards made for {made}; this keras-s2v reads {reads}: run `s2v preprocess` again")


def check_shards(shards):
    """What every dataset reader calls: refuse shards cut for other windows than this keras-s2v reads.

    A folder without a manifest yet (a `s2v preprocess` run still going, or killed) is read as before.
    """
    import tensorflow as tf

    if tf.io.gfile.exists(os.path.join(shards, MANIFEST_NAME)):
        read_manifest(shards)
