import json
import os

import numpy as np
import pytest

from keras_s2v.evaluation.metrics import (
    OFFSETS,
    PSNR_CAP_DB,
    clip_embeddings,
    offset_distances,
    pasted_psnr,
    region_psnr,
    sync_loss,
    sync_scores,
)
from keras_s2v.evaluation.protocol import dub_windows, static_mouth
from keras_s2v.evaluation.scoring import longest_face_run
from keras_s2v.lab import synth
from keras_s2v.models import build_speech2vid, build_syncnet
from keras_s2v.saving import save_model
from keras_s2v.speech import formant
from tests.helpers import s2v


def test_scores_follow_the_syncnet_definitions():
    distances = 1.0 + 0.02 * np.abs(OFFSETS - 3)  # in sync 3 frames late
    scores = sync_scores(distances)
    assert scores["av_offset"] == 3
    assert scores["lse_d"] == 1.0
    assert np.isclose(scores["lse_c"], np.median(distances) - 1.0)


def test_offset_distances_find_the_shift_of_a_clip(tiny_shards):
    """Mouths shifted 4 frames against their audio: the distance curve's minimum moves with them."""
    import keras

    from keras_s2v.evaluation.protocol import load_clips

    # Seeded: an untrained SyncNet's curve depends on its weights, which otherwise come from whatever ran before
    # on this worker (one such draw missed the tolerance by 0.02; seeds 0 to 11 give at most 0.066).
    keras.utils.set_random_seed(0)
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


def test_region_psnr_tells_the_mouth_from_the_upper_face():
    rng = np.random.default_rng(0)
    real = rng.random((3, 112, 112, 3)).astype(np.float32)
    generated = real.copy()
    generated[:, :56] += 0.01 * rng.standard_normal((3, 56, 112, 3))  # the upper face nearly kept
    generated[:, 56:] += 0.1 * rng.standard_normal((3, 56, 112, 3))  # the mouth redrawn
    psnr = region_psnr(real, np.clip(generated, 0, 1))
    assert psnr["upper"] > psnr["whole"] > psnr["mouth"]
    assert 38 < psnr["upper"] < 42 and 19 < psnr["mouth"] < 22


def _smooth_crops(count=3, seed=0):
    """[0, 1] crops on the uint8 grid with face-like smooth texture (the paste restores detail only where nothing changed)."""
    import cv2

    rng = np.random.default_rng(seed)
    crops = np.stack([cv2.GaussianBlur(rng.random((112, 112, 3)).astype(np.float32), (0, 0), 3) for _ in range(count)])
    crops = 0.1 + 0.8 * (crops - crops.min()) / (crops.max() - crops.min())
    return (np.round(crops * 255) / 255).astype(np.float32)


def test_pasted_psnr_of_the_real_crops_is_the_cap():
    real = _smooth_crops()
    psnr = pasted_psnr(real, real)
    assert psnr["mouth_mask"] == psnr["outside_mask"] == PSNR_CAP_DB
    # The box-aligned ellipse of `faces.mouth_polygon`: semi-axes 0.32 and 0.21 of the crop side.
    assert abs(psnr["mask_share"] - np.pi * 0.32 * 0.21) < 0.02


def test_pasted_psnr_sees_a_change_inside_the_mouth_mask_only_there():
    real = _smooth_crops()
    rows, columns = np.mgrid[:112, :112]
    inside = ((columns - 56) / 25) ** 2 + ((rows - 81) / 15) ** 2 <= 1  # well inside the mask's ellipse
    generated = real.copy()
    generated[:, inside] = 0.05  # a dark open mouth
    psnr = pasted_psnr(real, generated)
    assert psnr["mouth_mask"] < 20
    assert psnr["outside_mask"] > 40


def test_pasted_psnr_outside_the_mask_keeps_the_real_face():
    """The raw crop is off by 0.2 (14 dB); dub pastes only the mouth, colour-matched, so the face around it stays."""
    real = _smooth_crops()
    upper = real.copy()
    upper[:, :56] += 0.2
    tinted = real + 0.2
    for generated in (upper, tinted):
        generated = np.clip(generated, 0, 1)
        assert region_psnr(real, generated)["upper"] < 15
        psnr = pasted_psnr(real, generated)
        assert psnr["outside_mask"] > 40
    # A uniform tint is taken out by the colour matching along the mask's edge, inside the mask too.
    assert psnr["mouth_mask"] > 40


@pytest.mark.parametrize("step", [1, 2, 5])
def test_dub_windows_gives_each_frame_from_its_own_place_in_its_window(step):
    # A generator that returns its identity input gives the frames back only if every pick is right;
    # one that returns its reference gives each frame's reference, 5 or more frames away.
    frames = (np.arange(23)[:, None, None, None] * 10 + np.zeros((1, 112, 112, 3))).astype(np.uint8)
    mfcc_map = np.zeros((12, 4 * 23 + 16), np.float32)  # MFCC columns for 23 window starts

    def passing(part):
        return lambda mfcc, identity, reference: {"identity": identity, "reference": reference}[part]

    given = dub_windows(passing("identity"), frames, mfcc_map, window_step=step)
    assert len(given) == 23
    np.testing.assert_allclose(given, frames[: len(given)] / 255.0, atol=1e-6)
    references = np.round(dub_windows(passing("reference"), frames, mfcc_map, window_step=step)[:, 0, 0, 0] * 25.5)
    assert (np.abs(references - np.arange(len(given))) >= 5).all()


def test_evaluate_writes_the_report_and_plots(tiny_shards, tmp_path):
    generator, evaluator = str(tmp_path / "g.keras"), str(tmp_path / "e.keras")
    save_model(build_speech2vid("tiny"), generator)
    save_model(build_syncnet("tiny"), evaluator)
    result = s2v(
        "evaluate",
        "--data",
        tiny_shards[0],
        "--generator",
        generator,
        "--evaluator",
        evaluator,
        "--out",
        tmp_path / "eval",
        "--split",
        "train",
    )
    assert result.returncode == 0, result.stderr
    report = json.load(open(tmp_path / "eval" / "report.json"))
    assert set(report["scores"]) == {"generated", "identity frames unchanged", "static mouth", "real"}
    assert report["window_step"] == 1
    for score in report["scores"].values():
        assert score["lse_c"] >= 0 and -15 <= score["av_offset"] <= 15
    assert 0 <= report["evaluator_sync_accuracy"] <= 1 and report["reconstruction"]["psnr_db"] > 0
    assert report["reconstruction"]["mouth_psnr_db"] > 0 and report["reconstruction"]["upper_psnr_db"] > 0
    for key in ("pasted_mouth_mask_psnr_db", "pasted_outside_mask_psnr_db", "mouth_mask_share"):
        assert report["reconstruction"][key] > 0, key
    assert "in the mouth mask" in result.stdout
    for name in ("offsets.png", "frames.png"):
        assert os.path.getsize(tmp_path / "eval" / name) > 1000
    assert "LSE-D" in result.stdout and "static mouth" in result.stdout


@pytest.fixture(scope="module")
def talking_clips(tmp_path_factory):
    """Two 2.4 s synthetic talking faces with their own speech."""
    root = tmp_path_factory.mktemp("score")
    paths = []
    for index in range(2):
        speaker = synth.sample_speaker(index, "test", seed=11)
        path = root / f"clip{index}.mp4"
        synth.write_clip(path, speaker, formant.random_script(np.random.default_rng(index), 2.4), seed=index)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def seeded_syncnet_path(tmp_path_factory):
    """An untrained tiny SyncNet from a fixed seed. Three training steps can leave a single
    embedding unit alive on some CPUs, and then every audio gives the same distance."""
    import keras

    keras.utils.set_random_seed(0)
    path = str(tmp_path_factory.mktemp("seeded") / "syncnet.keras")
    save_model(build_syncnet("tiny"), path)
    return path


def test_score_reports_one_line_json_and_plot_for_any_video(talking_clips, seeded_syncnet_path, tmp_path):
    result = s2v("score", talking_clips[0], "--evaluator", seeded_syncnet_path, "--out", tmp_path / "score")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout.splitlines()[0].startswith("LSE-D ")
    report = json.load(open(tmp_path / "score" / "score.json"))
    assert report["frames"] == 60 and report["frames_scored"][1] - report["frames_scored"][0] >= 35
    # The same metric code as `s2v evaluate`: the scores follow from the distance curve.
    assert {k: report[k] for k in ("lse_d", "lse_c", "av_offset")} == pytest.approx(
        sync_scores(np.array(report["mean_distance_per_offset"])), abs=1e-4
    )
    assert os.path.getsize(tmp_path / "score" / "offsets.png") > 1000
    other = s2v(
        "score", talking_clips[0], "--audio", talking_clips[1], "--evaluator", seeded_syncnet_path, "--out", tmp_path / "other"
    )
    assert other.returncode == 0, other.stderr
    # Another audio, another distance curve (the printed LSE-D has only three decimals).
    other_curve = json.load(open(tmp_path / "other" / "score.json"))["mean_distance_per_offset"]
    assert np.abs(np.subtract(other_curve, report["mean_distance_per_offset"])).max() > 1e-6


def test_score_reads_a_dubbed_video(talking_clips, tiny_syncnet_path, tmp_path):
    import keras_s2v

    generator = str(tmp_path / "generator.keras")
    save_model(build_speech2vid("tiny"), generator)
    dubbed = tmp_path / "dubbed.mp4"
    summary = keras_s2v.dub(talking_clips[0], talking_clips[1], generator, dubbed, progress=False)
    report = keras_s2v.score(dubbed, tiny_syncnet_path)
    assert report["frames"] == summary.frames and report["audio"] == str(dubbed)
    assert -15 <= report["av_offset"] <= 15 and report["lse_c"] >= 0


def test_score_refuses_a_clip_too_short_for_the_offsets(tmp_path, tiny_syncnet_path):
    speaker = synth.sample_speaker(0, "test", seed=11)
    path = tmp_path / "short.mp4"
    synth.write_clip(path, speaker, formant.random_script(np.random.default_rng(0), 1.0), seed=0)
    result = s2v("score", path, "--evaluator", tiny_syncnet_path)
    assert result.returncode == 2 and "scoring needs 35" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_longest_face_run():
    assert longest_face_run([0, 1, 1, 0, 1, 1, 1, 0]) == (4, 7)
    assert longest_face_run([1, 1, 0]) == (0, 2) and longest_face_run([0, 0]) == (0, 0)
