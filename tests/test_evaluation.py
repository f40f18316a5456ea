import json
import os

import numpy as np

from keras_s2v.evaluation import OFFSETS, clip_embeddings, offset_distances, static_mouth, sync_loss, sync_scores
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.saving import save_model
from tests.media import s2v


def test_scores_follow_the_syncnet_definitions():
    distances = 1.0 + 0.02 * np.abs(OFFSETS - 3)  # in sync 3 frames late
    scores = sync_scores(distances)
    assert scores["av_offset"] == 3
    assert scores["lse_d"] == 1.0
    assert np.isclose(scores["lse_c"], np.median(distances) - 1.0)


def test_offset_distances_find_the_shift_of_a_clip(tiny_shards):
    """Mouths shifted 4 frames against their audio: the distance curve's minimum moves with them."""
    from keras_s2v.evaluation import load_clips

    syncnet = build_syncnet("tiny")
    clip = load_clips(tiny_shards[0], "train")[0]
    aligned = offset_distances(*clip_embeddings(syncnet, clip["frames"], clip["mfcc"]))
    shifted = offset_distances(*clip_embeddings(syncnet, clip["frames"][4:], clip["mfcc"]))
    # Frame f of the shifted clip is frame f + 4 of the original: the same pairs sit 4 offsets apart.
    np.testing.assert_allclose(shifted[: len(OFFSETS) - 4], aligned[4:], rtol=0.15)


def test_sync_loss_is_minus_log_of_the_cosine():
    video = np.array([[1.0, 0.0], [0.6, 0.8]])
    audio = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert np.isclose(sync_loss(video, audio), np.mean([-np.log(1.0), -np.log(0.6)]))


def test_static_mouth_freezes_the_lower_half_only():
    frames = np.random.default_rng(0).integers(0, 255, (6, 112, 112, 3), dtype=np.uint8)
    frozen = static_mouth(frames)
    np.testing.assert_array_equal(frozen[:, :56], frames[:, :56])
    assert all(np.array_equal(frozen[i, 56:], frames[0, 56:]) for i in range(6))


def test_evaluate_writes_the_report_and_plots(tiny_shards, tmp_path):
    generator, evaluator = str(tmp_path / "g.keras"), str(tmp_path / "e.keras")
    save_model(build_speech2vid("tiny"), generator)
    save_model(build_syncnet("tiny"), evaluator)
    result = s2v("evaluate", "--data", tiny_shards[0], "--generator", generator, "--evaluator", evaluator,
                 "--out", tmp_path / "eval", "--split", "train")
    assert result.returncode == 0, result.stderr
    report = json.load(open(tmp_path / "eval" / "report.json"))
    assert set(report["scores"]) == {"generated", "identity frames unchanged", "static mouth", "real"}
    for score in report["scores"].values():
        assert score["lse_c"] >= 0 and -15 <= score["av_offset"] <= 15
    assert 0 <= report["evaluator_sync_accuracy"] <= 1 and report["reconstruction"]["psnr_db"] > 0
    for name in ("offsets.png", "frames.png"):
        assert os.path.getsize(tmp_path / "eval" / name) > 1000
    assert "LSE-D" in result.stdout and "static mouth" in result.stdout
