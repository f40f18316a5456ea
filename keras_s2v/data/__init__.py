"""Preprocessing of videos into TFRecord shards, and the tf.data pipelines that read them.

Each name is imported from its module when first used, so that `keras_s2v.data.corpus` (the
corpus's splits and clip subsets, read by the recipes and the command line) loads without
TensorFlow.
"""

import importlib

_HOMES = {
    "datasets": ("generator_dataset", "shard_files", "syncnet_dataset"),
    "manifest": ("read_manifest",),
    "preprocess": ("find_videos", "preprocess", "preprocess_video", "process_clip"),
    "records": ("encode_clip", "parse_clip"),
}
_MODULES = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULES)


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
