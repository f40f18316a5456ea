"""manifest.json: what `s2v preprocess` wrote (clips per split, windows, skipped files)."""

import json
import os

from keras_s2v.errors import MediaError

MANIFEST_NAME = "manifest.json"


def read_manifest(shards):
    """The manifest of a preprocessed folder; MediaError if the folder is not one."""
    path = os.path.join(shards, MANIFEST_NAME)
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        raise MediaError(shards, f"no readable {MANIFEST_NAME} (expected the --out folder of `s2v preprocess`)") from None
