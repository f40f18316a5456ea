"""`s2v preprocess --runner`: the Beam pipeline on the DirectRunner against the local path."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_s2v import cli, geometry
from keras_s2v.data.beam import pipeline_options, preprocess_beam
from keras_s2v.data.datasets import generator_dataset
from keras_s2v.data.preprocess import preprocess
from keras_s2v.data.records import parse_clip
from keras_s2v.lab import synth
from keras_s2v.media import video
from tests.helpers import make_video


@pytest.fixture(autouse=True)
def stderr_left_to_capsys(monkeypatch):
    # cli.main() moves sys.stderr off capsys the first time it runs in a process (keras_s2v.quiet),
    # so whether these tests saw its errors depended on which tests xdist ran before them.
    monkeypatch.setattr(cli, "silence_native_logs", lambda: None)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """3 speakers (train/val/test) x 1 clip of 1 s, a corrupt file and a silent video; the local path's output."""
    root = tmp_path_factory.mktemp("beam")
    videos = root / "videos"
    synth.write_corpus(videos, speakers=3, seconds=1.0, clips_per_speaker=1, seed=2, progress=False)
    (videos / "train" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(3000))
    make_video(videos / "train" / "silent.mp4", num_frames=20)
    manifest = preprocess(str(videos), str(root / "local"), detector="sidecar", progress=False)
    return videos, root / "local", manifest


def _decoded(out, shard):
    return parse_clip(next(iter(tf.data.TFRecordDataset(os.path.join(out, shard)))))


def _assert_same_shards(manifest, out, reference):
    for clip in manifest["clips"]:
        mine, theirs = _decoded(out, clip["shard"]), _decoded(reference, clip["shard"])
        for key in ("clip_id", "num_frames", "has_face", "windows", "frames"):
            np.testing.assert_array_equal(mine[key], theirs[key], err_msg=f"{clip['clip_id']}: {key}")
        # Another process may run TF's MFCC on other threads: its sums come in another order.
        np.testing.assert_allclose(mine["mfcc"], theirs["mfcc"], atol=1e-4)


def test_direct_runner_writes_the_local_shards_and_manifest(corpus, tmp_path):
    videos, local, manifest = corpus
    beam = preprocess_beam(str(videos), str(tmp_path / "beam"), "direct", detector="sidecar")
    assert len(manifest["clips"]) == 3
    assert beam == manifest  # the same clips, splits, window counts and skips with their reasons
    assert beam["geometry"] == geometry.GEOMETRY
    assert {s["source"] for s in beam["skipped"]} == {"train/corrupt.mp4", "train/silent.mp4"}
    assert sorted(os.listdir(tmp_path / "beam" / "clips")) == sorted(os.listdir(local / "clips"))
    _assert_same_shards(beam, tmp_path / "beam", local)


def test_multi_process_direct_runner_gives_the_same_result_and_never_starts_prism(corpus, tmp_path, monkeypatch):
    from apache_beam.runners.portability import prism_runner

    started = []

    def start(server):  # Beam's DirectRunner starts Prism first, fetching its binary from GitHub, and falls back on failure
        started.append(server)
        raise RuntimeError("no Prism here")

    monkeypatch.setattr(prism_runner.PrismJobServer, "start", start)
    videos, local, manifest = corpus
    options = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    beam = preprocess_beam(str(videos), str(tmp_path / "beam"), "direct", options, detector="sidecar")
    assert beam == manifest and not started
    _assert_same_shards(beam, tmp_path / "beam", local)


def test_a_failing_file_is_a_dead_letter_and_a_rerun_does_only_what_is_left(corpus, tmp_path, monkeypatch):
    videos, local, manifest = corpus
    out = tmp_path / "beam"
    victim = next(c for c in manifest["clips"] if c["split"] == "val")
    read_frames = video.read_frames

    def flaky_read_frames(path, *args, **kwargs):
        if path.endswith(victim["source"]):
            raise RuntimeError("decoder crashed")
        return read_frames(path, *args, **kwargs)

    monkeypatch.setattr(video, "read_frames", flaky_read_frames)  # the in-process DirectRunner sees the patch
    first = preprocess_beam(str(videos), str(out), "direct", detector="sidecar")
    assert {"source": victim["source"], "reason": "unexpected error: RuntimeError: decoder crashed"} in first["skipped"]
    assert not (out / "clips" / f"{victim['clip_id']}.json").exists(), "an unexpected error is not marked done"

    monkeypatch.setattr(video, "read_frames", read_frames)
    stamps = {c["shard"]: os.path.getmtime(out / c["shard"]) for c in first["clips"]}
    again = preprocess_beam(str(videos), str(out), "direct", detector="sidecar")
    assert again == manifest
    assert all(os.path.getmtime(out / shard) == stamp for shard, stamp in stamps.items()), "finished clips are not redone"


def test_remote_paths_from_the_command_line_and_the_datasets_read_them(corpus, capsys):
    """TF's in-memory ram:// filesystem stands in for gs://: the same tf.io.gfile calls, no network."""
    videos = corpus[0]
    for name in ("spk000_clip0.mp4", "spk000_clip0.json"):
        tf.io.gfile.makedirs("ram://videos/train")
        tf.io.gfile.copy(str(videos / "train" / name), f"ram://videos/train/{name}", overwrite=True)
    argv = ["preprocess", "--videos", "ram://videos", "--out", "ram://out", "--face-detector", "sidecar", "--runner", "direct"]
    assert cli.main(argv) == 0
    assert "1 clips preprocessed, 0 skipped" in capsys.readouterr().out
    assert tf.io.gfile.exists("ram://out/clips/train__spk000_clip0.json")
    (inputs, target) = next(iter(generator_dataset("ram://out", batch_size=4, deterministic=True)))
    assert target.shape == (4, 112, 112, 15)
    local = _decoded(corpus[1], "shards/train/train__spk000_clip0.tfrecord")
    np.testing.assert_array_equal(_decoded("ram://out", "shards/train/train__spk000_clip0.tfrecord")["frames"], local["frames"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--runner", "direct", "--direct_num_wokers=2"], "unknown beam option(s): --direct_num_wokers=2"),
        (["--runner", "direct", "--direct_num_workers=two"], "invalid int value: 'two'"),
        (["--runner", "direct", "--workers", "2"], "--workers is for the local path"),
        (["--direct_num_workers=2"], "unrecognized arguments: --direct_num_workers=2 (Beam options need --runner)"),
    ],
)
def test_bad_beam_options_are_one_line_usage_errors(corpus, tmp_path, capsys, extra, message):
    argv = ["preprocess", "--videos", str(corpus[0]), "--out", str(tmp_path / "out"), "--face-detector", "sidecar", *extra]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("s2v: error: ") and message in error and "\n" not in error
    assert not (tmp_path / "out").exists()


def test_runner_names_map_to_beam_runners():
    assert pipeline_options("dataflow", ["--project=p", "--region=r"]).get_all_options()["runner"] == "DataflowRunner"
    assert pipeline_options("flink", ["--flink_master=host:8081"]).get_all_options()["flink_master"] == "host:8081"
    assert pipeline_options("spark", ["--spark_master_url=spark://host:7077"]).get_all_options()["runner"] == "SparkRunner"
    with pytest.raises(ValueError, match="received 'samza'"):
        pipeline_options("samza")
    with pytest.raises(ValueError, match="give the runner once"):
        pipeline_options("direct", ["--runner=DataflowRunner"])
