"""The seed corpus: valid files of each kind the readers take, and broken ones made from them by code.

Broken means: truncated, zero bytes, the wrong magic number, huge declared dimensions, a zero frame
rate, a variable frame rate, bad samples, damaged records, and (through the input's first byte) a
folder where a file belongs. `write_seeds(harness, folder)` writes one harness's seeds as framed inputs.
"""

import fractions
import io
import json
import os
import struct
import tempfile
import zipfile
import zlib

import numpy as np

from fuzz import targets


def _through_file(suffix, write):
    """Bytes of a file that `write(path)` makes."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "seed" + suffix)
        write(path)
        with open(path, "rb") as handle:
            return handle.read()


def _video(suffix, codec="libx264", times=None, size=(32, 48), frames=8, audio=False):
    import av

    def write(path):
        with av.open(path, "w") as container:
            stream = container.add_stream(codec, rate=25)
            stream.height, stream.width = size
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = fractions.Fraction(1, 1000)
            sound = container.add_stream("aac", rate=16000) if audio else None
            if sound is not None:
                sound.layout = "mono"
            for index in range(frames):
                frame = av.VideoFrame.from_ndarray(np.full((*size, 3), 20 * index, np.uint8), format="rgb24")
                frame.pts = int(1000 * (times[index] if times else index / 25))
                frame.time_base = fractions.Fraction(1, 1000)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
            if sound is not None:
                pcm = (0.3 * np.sin(np.arange(8000) / 5.0)).astype(np.float32)
                for offset in range(0, len(pcm), 1024):
                    chunk = av.AudioFrame.from_ndarray(pcm[None, offset : offset + 1024], format="fltp", layout="mono")
                    chunk.sample_rate, chunk.pts = 16000, offset
                    container.mux(sound.encode(chunk))
                container.mux(sound.encode(None))

    return _through_file(suffix, write)


def _image(suffix, size=(24, 32)):
    import cv2

    ok, encoded = cv2.imencode(suffix, np.random.default_rng(0).integers(0, 255, (*size, 3), np.uint8))
    return encoded.tobytes()


def _png_header(width, height):
    """A PNG that declares `width` x `height` (valid CRCs) over a scrap of pixel data."""

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _bmp_header(width, height):
    return (
        b"BM"
        + struct.pack("<IHHI", 54 + 12, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 12, 0, 0, 0, 0)
        + b"\0" * 12
    )


def _y4m(width, height, rate="25:1", frames=2):
    header = f"YUV4MPEG2 W{width} H{height} F{rate} Ip A1:1 C420jpeg\n".encode()
    frame_bytes = min(width * height * 3 // 2, 4096)
    return header + b"".join(b"FRAME\n" + bytes(frame_bytes) for _ in range(frames))


def _zero_timescale(mp4):
    """The mp4 with every media header's timescale set to 0: a zero frame rate in its timestamps."""
    data = bytearray(mp4)
    for box in (b"mdhd", b"mvhd"):
        at = data.find(box)
        while at >= 0:
            version = data[at + 4]
            offset = at + 4 + 4 + (16 if version == 1 else 8)  # version/flags, then creation and modification times
            data[offset : offset + 4] = b"\0\0\0\0"
            at = data.find(box, at + 4)
    return bytes(data)


def _broken(content):
    """Truncations and a wrong magic number of one valid file."""
    cuts = sorted({1, 8, 32, len(content) // 3, len(content) // 2, len(content) - 1} - {0})
    return [content[:cut] for cut in cuts if cut < len(content)] + [b"XXXX" + content[4:], b""]


def raw_wav(samples, rate=16000, channels=1):
    """The bytes of a WAV whose header says whatever `rate` and `channels` say, holding `samples` as they
    are: int16 as 16-bit PCM, float32 (NaN and infinity included) as IEEE float. soundfile refuses to
    write the absurd headers that a broken or hostile file can carry, so the header is packed by hand."""
    samples = np.asarray(samples)
    fmt, bits = (3, 32) if samples.dtype == np.float32 else (1, 16)
    data = samples.astype("<f4" if fmt == 3 else "<i2").tobytes()
    block = channels * bits // 8
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        fmt,
        channels,
        rate,
        rate * block,
        block,
        bits,
        b"data",
        len(data),
    )
    return header + data


def _sound(suffix):
    import soundfile

    pcm = (0.3 * np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    return _through_file(suffix, lambda path: soundfile.write(path, pcm, 16000))


def media_seeds():
    mp4 = _video(".mp4")
    seeds = [
        (".mp4", mp4),
        (".mp4", _video(".mp4", times=[0, 0.01, 0.02, 0.5, 0.51, 1.3, 1.31, 2.0])),
        (".mp4", _zero_timescale(mp4)),
    ]
    seeds += [(".mkv", _video(".mkv")), (".avi", _video(".avi", codec="mpeg4")), (".mp4", _video(".mp4", audio=True))]
    seeds += [(".png", _image(".png")), (".jpg", _image(".jpg")), (".bmp", _image(".bmp"))]
    seeds += [(".png", _png_header(1_000_000, 1_000_000)), (".png", _png_header(0, 5)), (".bmp", _bmp_header(100_000, -100_000))]
    seeds += [
        (".y4m", _y4m(32, 32)),
        (".y4m", _y4m(100_000, 100_000)),
        (".y4m", _y4m(32, 32, "0:1")),
        (".y4m", _y4m(32, 32, "25:0")),
    ]
    seeds += [(".gif", b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0" * 20)]
    seeds += [
        (kind, content)
        for kind, valid in ((".mp4", mp4), (".png", _image(".png")), (".jpg", _image(".jpg")))
        for content in _broken(valid)
    ]
    return [targets.frame(targets.MEDIA_KINDS, kind, content) for kind, content in seeds] + [
        targets.frame(targets.MEDIA_KINDS, "folder", b"")
    ]


def audio_seeds():
    pcm = (np.sin(np.arange(8000) / 5.0) * 8000).astype(np.int16)
    nan = (np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    nan[100:110] = np.nan
    wav = raw_wav(pcm)
    seeds = [(".wav", wav), (".wav", raw_wav(np.repeat(pcm, 2), 44100, 2)), (".wav", raw_wav(nan)), (".wav", raw_wav(pcm[:1]))]
    seeds += [(".wav", raw_wav(pcm, rate)) for rate in (0, 1, 100, 10_000_000, 2**28)]
    seeds += [(".wav", raw_wav(pcm[: 8000 - 8000 % max(channels, 1)], 16000, channels)) for channels in (0, 9, 64, 1000, 30000)]
    seeds += [(".flac", _sound(".flac")), (".ogg", _sound(".ogg")), (".mp4", _video(".mp4", audio=True))]
    seeds += [(".wav", content) for content in _broken(wav)] + [(".flac", content) for content in _broken(_sound(".flac"))]
    return [targets.frame(targets.AUDIO_KINDS, kind, content) for kind, content in seeds] + [
        targets.frame(targets.AUDIO_KINDS, "folder", b"")
    ]


def manifest_seeds():
    from keras_s2v.geometry import GEOMETRY

    valid = {"clips": [], "skipped": [], "windows": {}, "geometry": GEOMETRY}
    texts = [
        json.dumps(valid),
        json.dumps({**valid, "geometry": {**GEOMETRY, "face_size": 96}}),
        json.dumps({**valid, "geometry": [1]}),
    ]
    texts += [json.dumps({"geometry": {"face_size": {"a": [1]}}}), "[]", "null", '"text"', "{", "[" * 100_000, "\xff\xfe{}", ""]
    seeds = [targets.frame(targets.MANIFEST_KINDS, "manifest.json", text.encode("utf-8", "surrogateescape")) for text in texts]
    return seeds + [targets.frame(targets.MANIFEST_KINDS, "folder", b"")]


def _records(*examples):
    """TFRecord framing (length, CRCs) around serialized examples, written by TensorFlow."""
    import tensorflow as tf

    def write(path):
        with tf.io.TFRecordWriter(path) as writer:
            for example in examples:
                writer.write(example)

    return _through_file(".tfrecord", write)


def shard_seeds():
    import tensorflow as tf

    from keras_s2v.data.records import encode_clip

    frames = np.random.default_rng(0).integers(0, 255, (6, 112, 112, 3), np.uint8)
    mfcc = np.random.default_rng(1).standard_normal((12, 24)).astype(np.float32)
    valid = encode_clip("clip", "test", frames, np.ones(6, bool), mfcc)

    def edited(**features):
        example = tf.train.Example.FromString(valid)
        for name, feature in features.items():
            example.features.feature[name].CopyFrom(feature)
        return example.SerializeToString()

    ints = lambda values: tf.train.Feature(int64_list=tf.train.Int64List(value=values))  # noqa: E731
    floats = lambda values: tf.train.Feature(float_list=tf.train.FloatList(value=values))  # noqa: E731
    contents = [
        _records(valid),
        _records(edited(num_frames=ints([600]))),
        _records(edited(num_frames=ints([-1]))),
        _records(edited(mfcc=floats([0.5] * 13))),
        _records(edited(mfcc=floats([float("nan")] * 12 * 24))),
        _records(edited(windows=ints([0, 999]))),
        _records(edited(frames=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"not a jpeg"] * 6)))),
        _records(tf.train.Example().SerializeToString()),
        _records(b"not an example"),
    ]
    record = _records(valid)
    contents += _broken(record) + [record[:8] + b"\0\0\0\0" + record[12:]]  # a bad length CRC
    seeds = [targets.frame(targets.SHARD_KINDS, "clip.tfrecord", content) for content in contents]
    return seeds + [targets.frame(targets.SHARD_KINDS, "folder", b"")]


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def model_seeds():
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    keras_file = _through_file(".keras", model.save)
    with zipfile.ZipFile(io.BytesIO(keras_file)) as archive:
        config = archive.read("config.json")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    tflite = converter.convert()
    bad_layer = json.dumps({"class_name": "keras_s2v>MFCC", "config": {"normalize": "yes"}}).encode()
    seeds = [(".keras", keras_file), (".keras", _zip({"config.json": config})), (".keras", _zip({"config.json": b"{"}))]
    seeds += [(".keras", _zip({"config.json": bad_layer, "metadata.json": b"{}"})), (".keras", _zip({}))]
    seeds += [(".tflite", tflite), ("saved_model.pb", b"\x08\x01"), ("saved_model.pb", b"")]
    seeds += [(".keras", content) for content in _broken(keras_file)] + [(".tflite", content) for content in _broken(tflite)]
    return [targets.frame(targets.MODEL_KINDS, kind, content) for kind, content in seeds] + [
        targets.frame(targets.MODEL_KINDS, "folder", b"")
    ]


SEEDS = {"media": media_seeds, "audio": audio_seeds, "manifest": manifest_seeds, "shard": shard_seeds, "model": model_seeds}


def write_seeds(harness, folder):
    """Write `harness`'s seeds into `folder` (one file each); returns how many."""
    os.makedirs(folder, exist_ok=True)
    seeds = SEEDS[harness]()
    for index, seed in enumerate(seeds):
        with open(os.path.join(folder, f"seed-{index:03d}"), "wb") as handle:
            handle.write(seed)
    return len(seeds)
