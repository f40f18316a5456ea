"""One harness per reader: bytes in, the reader called on them as a file, success or a keras_s2v error out.

An input's first byte picks how its other bytes reach the reader (which file extension, or a folder
where a file belongs); `frame(kind, content)` builds such an input. Anything but success or an
S2VError escapes the harness, and atheris records it as a finding, as it does a crash or a hang.
"""

import os
import shutil
import tempfile

from keras_s2v.errors import S2VError

MEDIA_KINDS = (".mp4", ".mkv", ".avi", ".webm", ".y4m", ".png", ".jpg", ".bmp", ".gif", "folder")
AUDIO_KINDS = (".wav", ".mp3", ".flac", ".ogg", ".mp4", ".webm", "folder")
MANIFEST_KINDS = ("manifest.json", "folder")
SHARD_KINDS = ("clip.tfrecord", "folder")
MODEL_KINDS = (".keras", ".tflite", "saved_model.pb", "folder")
MAX_FRAMES = 50  # frames decoded per video input: enough to pass the first frames' headers, short enough to stay fast


def frame(kinds, kind, content):
    """The fuzz input that hands `content` to a harness as `kind` (one of `kinds`)."""
    return bytes([kinds.index(kind)]) + content


class Workspace:
    """A private folder into which each input is written, emptied between inputs."""

    def __init__(self, root=None):
        # libFuzzer ends the process without Python's clean-up: give a folder inside the run's own work folder.
        self.root = root or tempfile.mkdtemp(prefix="s2v-fuzz-")

    def place(self, kinds, data, name="input", under=""):
        """Write `data` (a framed input) as a file, or make a folder in its place; returns (path, kind).

        A kind that is an extension names the file `name` + kind; any other kind is the file's name."""
        shutil.rmtree(self.root, ignore_errors=True)
        kind = kinds[data[0] % len(kinds)] if data else kinds[0]
        file_kind = kinds[0] if kind == "folder" else kind
        path = os.path.join(self.root, under, name + file_kind if file_kind.startswith(".") else file_kind)
        os.makedirs(os.path.dirname(path))
        if kind == "folder":
            os.makedirs(path)  # a folder where a file belongs
        else:
            with open(path, "wb") as handle:
                handle.write(data[1:])
        return path, kind


def _expected(call):
    try:
        call()
    except S2VError:
        pass


def media(workspace):
    """The video and image reader: probe, then the first frames at 25 fps."""
    from keras_s2v.media import video

    def target(data):
        path, _ = workspace.place(MEDIA_KINDS, data)

        def read():
            video.probe(path)
            for index, _frame in video.FrameSource(path).frames():
                if index >= MAX_FRAMES:
                    break

        _expected(read)

    return target


def audio(workspace):
    """The audio loader, with its checks of the samples."""
    import librosa
    import numpy as np

    from keras_s2v.media import audio as audio_lib

    # librosa and its resampler load on first use, in seconds: do it here, so an input's time is its own.
    librosa.resample(np.zeros(4410, np.float32), orig_sr=44100, target_sr=16000)

    def target(data):
        path, _ = workspace.place(AUDIO_KINDS, data)
        _expected(lambda: audio_lib.load_audio(path))

    return target


def manifest(workspace):
    """manifest.json of a preprocessed folder, as every dataset reader checks it."""
    from keras_s2v.data.manifest import check_shards, read_manifest

    def target(data):
        workspace.place(MANIFEST_KINDS, data)
        _expected(lambda: read_manifest(workspace.root))
        _expected(lambda: check_shards(workspace.root))

    return target


def shard(workspace):
    """A TFRecord shard of clips, read and checked as `evaluate` reads it."""
    from keras_s2v.data.datasets import shard_files
    from keras_s2v.data.records import read_clips

    def target(data):
        workspace.place(SHARD_KINDS, data, under=os.path.join("shards", "test"))

        def read():
            for _clip in read_clips(shard_files(workspace.root, "test")):
                pass

        _expected(read)

    return target


def model(workspace):
    """The generator and SyncNet loaders' refusal paths: .keras files, .tflite files, folders."""
    import keras

    from keras_s2v.dubbing.backends import load_backend
    from keras_s2v.saving import load_model

    def target(data):
        path, kind = workspace.place(MODEL_KINDS, data, name="model", under="model")
        if kind == "saved_model.pb":
            _expected(lambda: load_backend(os.path.dirname(path)))  # a SavedModel folder
        else:
            if kind != ".tflite":
                _expected(lambda: load_model(path, "SyncNet"))
            _expected(lambda: load_backend(path))
        keras.backend.clear_session()  # models that did load must not pile up over thousands of inputs

    return target


HARNESSES = {"media": media, "audio": audio, "manifest": manifest, "shard": shard, "model": model}
KINDS = {"media": MEDIA_KINDS, "audio": AUDIO_KINDS, "manifest": MANIFEST_KINDS, "shard": SHARD_KINDS, "model": MODEL_KINDS}
