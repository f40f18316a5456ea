"""Preprocessing of videos into TFRecord shards, and the tf.data pipelines that read them."""

from keras_s2v.data.datasets import generator_dataset, shard_files, syncnet_dataset
from keras_s2v.data.manifest import read_manifest
from keras_s2v.data.preprocess import find_videos, preprocess, preprocess_video, process_clip
from keras_s2v.data.records import encode_clip, parse_clip

__all__ = [
    "encode_clip", "find_videos", "generator_dataset", "parse_clip", "preprocess", "preprocess_video", "process_clip",
    "read_manifest", "shard_files", "syncnet_dataset",
]
