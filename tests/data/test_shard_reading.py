"""Damaged shards and manifests are one-line MediaErrors naming the file, as the fuzzer's findings demand."""

import numpy as np
import pytest
import tensorflow as tf

from keras_s2v.data.manifest import read_manifest
from keras_s2v.data.records import encode_clip, read_clips
from keras_s2v.errors import MediaError

FRAMES = np.random.default_rng(0).integers(0, 255, (6, 112, 112, 3), np.uint8)
MFCC = np.random.default_rng(1).standard_normal((12, 24)).astype(np.float32)


def _write(path, *examples):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for example in examples:
            writer.write(example)
    return str(path)


def _edited(**features):
    example = tf.train.Example.FromString(encode_clip("clip", "test", FRAMES, np.ones(6, bool), MFCC))
    for name, feature in features.items():
        example.features.feature[name].CopyFrom(feature)
    return example.SerializeToString()


def test_a_valid_shard_reads_back_its_clip(tmp_path):
    path = _write(tmp_path / "ok.tfrecord", encode_clip("clip", "test", FRAMES, np.ones(6, bool), MFCC))
    (clip,) = read_clips([path])
    assert clip["frames"].shape == (6, 112, 112, 3) and np.allclose(clip["mfcc"], MFCC) and list(clip["windows"]) == [0, 1]


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


DAMAGED = {
    "truncated": (lambda: None, "not a readable shard of clips"),
    "nan-mfcc": (
        lambda: _edited(mfcc=tf.train.Feature(float_list=tf.train.FloatList(value=[np.nan] * 12 * 24))),
        "MFCC map that is not finite",
    ),
    "mfcc-not-12-rows": (
        lambda: _edited(mfcc=tf.train.Feature(float_list=tf.train.FloatList(value=[0.5] * 13))),
        "not a readable shard",
    ),
    "frame-count": (lambda: _edited(num_frames=_ints([600])), "says 600 frames but holds 6"),
    "windows-past-the-end": (lambda: _edited(windows=_ints([0, 999])), "windows past its frames or its audio"),
    "not-a-jpeg": (
        lambda: _edited(frames=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"] * 6))),
        "not a readable shard",
    ),
    "not-an-example": (lambda: b"not an example", "not a readable shard"),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_shard_is_one_line_naming_its_file(tmp_path, case):
    make, message = DAMAGED[case]
    path = tmp_path / "bad.tfrecord"
    if case == "truncated":
        _write(path, encode_clip("clip", "test", FRAMES, np.ones(6, bool), MFCC))
        path.write_bytes(path.read_bytes()[:-100])
    else:
        _write(path, make())
    with pytest.raises(MediaError) as raised:
        list(read_clips([str(path)]))
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value), raised.value
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("text", ["[]", "null", "[" * 100_000])
def test_a_manifest_that_is_not_a_json_object_is_one_line(tmp_path, text):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(MediaError, match=f"^{tmp_path}: "):
        read_manifest(str(tmp_path))
