"""manifest.json: what `s2v preprocess` wrote (clips per split, windows, skipped files)."""

import json
import os

import tensorflow as tf

from keras_s2v.errors import MediaError

MANIFEST_NAME = "manifest.json"


def read_manifest(shards):
    """The manifest of a preprocessed folder (local or any tf.io.gfile path, e.g. gs://); MediaError if it is not one."""
    try:
        with tf.io.gfile.GFile(os.path.join(shards, MANIFEST_NAME)) as handle:
            return json.load(handle)
    except (OSError, ValueError, tf.errors.OpError):
        raise MediaError(shards, f"no readable {MANIFEST_NAME} (expected the --out folder of `s2v preprocess`)") from None
