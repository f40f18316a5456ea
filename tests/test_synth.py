import hashlib
import json

import numpy as np

from keras_s2v import synth
from keras_s2v.video import probe, read_frames


def test_same_seed_gives_the_same_files(tmp_path):
    first = synth.write_corpus(tmp_path / "a", speakers=3, seconds=1.0, clips_per_speaker=1, seed=5, progress=False)
    second = synth.write_corpus(tmp_path / "b", speakers=3, seconds=1.0, clips_per_speaker=1, seed=5, progress=False)
    other = synth.write_corpus(tmp_path / "c", speakers=3, seconds=1.0, clips_per_speaker=1, seed=6, progress=False)

    def digest(path):
        return hashlib.sha256(open(path, "rb").read()).hexdigest()

    assert [digest(p) for p in first] == [digest(p) for p in second]
    assert digest(first[0]) != digest(other[0])


def test_speakers_are_split_by_identity(tmp_path):
    paths = synth.write_corpus(tmp_path, speakers=7, seconds=0.6, clips_per_speaker=2, seed=0, progress=False)
    split_of = {}
    for path in paths:
        sidecar = json.load(open(synth.sidecar_path(path)))
        assert f"/{sidecar['split']}/" in path
        assert split_of.setdefault(sidecar["speaker"], sidecar["split"]) == sidecar["split"]
    assert sorted(set(split_of.values())) == ["test", "train", "val"]


def test_clip_is_h264_aac_at_25fps_with_a_sidecar_per_frame(tmp_path):
    (path,) = synth.write_corpus(tmp_path, speakers=1, seconds=2.0, clips_per_speaker=1, progress=False)
    info = probe(path)
    assert info.has_audio and round(info.source_fps) == 25 and info.num_frames == 50
    sidecar = json.load(open(synth.sidecar_path(path)))
    assert len(sidecar["boxes"]) == len(sidecar["mouth"]) == len(read_frames(path)) == 50


def test_mouth_shape_depends_on_the_phone_not_only_loudness():
    rng = np.random.default_rng(0)
    voice = synth.Voice()
    shapes = {}
    for vowel in ("a", "i", "u"):
        _, track = synth.synthesize_speech([("pause", 0.3), (vowel, 0.4), ("pause", 0.3)], voice, rng)
        shapes[vowel] = track[45]  # the middle of the vowel
    assert shapes["a"][0] > shapes["u"][0] > shapes["i"][0]  # openness
    assert shapes["i"][1] > shapes["a"][1] > shapes["u"][1]  # width: spread, neutral, rounded
    _, closed = synth.synthesize_speech([("pause", 0.5), ("m", 0.2), ("pause", 0.3)], voice, rng)
    assert closed[60:65, 0].max() < 0.05  # a nasal is voiced but the lips stay shut


def test_pauses_are_silent_with_a_closed_mouth():
    waveform, track = synth.synthesize_speech([("pause", 0.5), ("a", 0.3), ("pause", 0.5)], synth.Voice(), np.random.default_rng(0))
    assert np.abs(waveform[:7000]).max() == 0 and track[:35, 0].max() < 0.05
    assert np.abs(waveform[8500:12000]).max() > 0.1 and track[55:75, 0].min() > 0.6
