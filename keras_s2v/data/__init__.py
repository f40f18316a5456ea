"""Preprocessing of videos into TFRecord shards, and the tf.data pipelines that read them.

Each name is imported from its module when first used, so that `keras_s2v.data.corpus` (the
corpus's splits and clip subsets, read by the recipes and the command line) loads without
TensorFlow.
"""

from keras_s2v.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "datasets": ("generator_dataset", "shard_files", "syncnet_dataset"),
        "manifest": ("read_manifest",),
        "preprocess": ("find_videos", "preprocess", "preprocess_video", "process_clip"),
        "records": ("encode_clip", "parse_clip"),
    },
)
