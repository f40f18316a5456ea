"""`evaluate`: the evaluation protocol on held-out shards.

The generator dubs each test clip; the evaluation SyncNet scores it (metrics.py) beside three
baselines: the identity frames unchanged, a static mouth, and the real frames. Writes a JSON report
with the offsets plot and a grid of real and generated frames.
"""

import json
import os

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from keras_s2v.data.datasets import shard_files
from keras_s2v.data.records import read_clips
from keras_s2v.dubbing.backends import generate
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
from keras_s2v.evaluation.plots import plot_grid, plot_offsets
from keras_s2v.geometry import DEFAULT_WINDOW_STEP, MOUTH_ROW, STEPS_PER_FRAME, WINDOW_FRAMES, WINDOW_STEPS
from keras_s2v.media.audio import mfcc_windows
from keras_s2v.windows import reference_indices, stack_frames, unstack_frames, window_plan

KINDS = ("generated", "identity frames unchanged", "static mouth", "real")


def load_clips(shards, split):
    return list(read_clips(shard_files(shards, split)))


def dub_windows(backend, frames, mfcc_map, batch_size=8, window_step=DEFAULT_WINDOW_STEP):
    """A's crops driven by an MFCC map, as `s2v dub` makes them: the windows of `window_plan`,
    with references picked as dub picks them, for every frame that the audio covers."""
    count = min(len(frames), (mfcc_map.shape[1] - WINDOW_STEPS) // STEPS_PER_FRAME + WINDOW_FRAMES)
    starts, outputs = window_plan(count, window_step)
    frames = np.asarray(frames[:count], np.float32) / 255.0
    windows = starts[:, None] + np.arange(WINDOW_FRAMES)
    identity = stack_frames(frames[windows]).numpy()
    reference = stack_frames(frames[np.asarray(reference_indices(count))[windows]]).numpy()
    generated = unstack_frames(generate(backend, mfcc_windows(mfcc_map, starts), identity, reference, batch_size)).numpy()
    # Each window gives the frames outputs[w]: frame t of the clip is frame t - starts[w] of its window.
    picks = np.concatenate([np.full(stop - first, window) for window, (first, stop) in enumerate(outputs)])
    return generated[picks, np.arange(count) - starts[picks]]


def static_mouth(frames):
    """Every frame's lower half replaced by the first frame's: a mouth that never moves."""
    frames = np.array(frames)
    frames[:, MOUTH_ROW:] = frames[:1, MOUTH_ROW:]
    return frames


def evaluate(
    shards: str,
    backend,
    evaluator,
    out: str,
    split: str = "test",
    progress: bool = True,
    window_step: int = DEFAULT_WINDOW_STEP,
) -> dict:
    """Score the dubbing setting on held-out clips; writes report.json and two PNGs to `out`.

    The generated clips are made as `s2v dub --window-step` makes them (`window_step`)."""
    from keras_s2v.training.syncnet_fit import sync_accuracy

    clips = load_clips(shards, split)
    if len(clips) < 2:
        raise ValueError(f"evaluation needs at least 2 {split} clips; found {len(clips)}")
    distances = {kind: [] for kind in KINDS}
    e_sync = {kind: [] for kind in KINDS}
    psnrs, ssims, grid = {"whole": [], "mouth": [], "upper": []}, [], None
    pasted = {"mouth_mask": [], "outside_mask": [], "mask_share": []}
    for index, clip_a in enumerate(tqdm(clips, desc="evaluate", unit="clip", disable=not progress, leave=False)):
        clip_b = clips[(index + 1) % len(clips)]
        generated = dub_windows(backend, clip_a["frames"], clip_b["mfcc"], window_step=window_step)
        frames_a = clip_a["frames"][: len(generated)]  # the frames that B's audio covers
        candidates = {
            "generated": (generated, clip_b["mfcc"]),
            "identity frames unchanged": (frames_a, clip_b["mfcc"]),
            "static mouth": (static_mouth(frames_a), clip_b["mfcc"]),
            "real": (clip_a["frames"], clip_a["mfcc"]),
        }
        for kind, (frames, mfcc_map) in candidates.items():
            video, audio = clip_embeddings(evaluator, frames, mfcc_map)
            distances[kind].append(offset_distances(video, audio))
            e_sync[kind].append(sync_loss(video, audio))
        own = dub_windows(backend, clip_a["frames"], clip_a["mfcc"], window_step=window_step)
        real = clip_a["frames"][: len(own)].astype(np.float32) / 255.0
        for region, value in region_psnr(real, own).items():
            psnrs[region].append(value)
        for name, value in pasted_psnr(real, own).items():
            pasted[name].append(value)
        ssims.append(float(tf.reduce_mean(tf.image.ssim(tf.constant(real), tf.constant(own, tf.float32), max_val=1.0))))
        if grid is None:
            grid = (real[:40:8], own[:40:8])
    mean_distances = {kind: np.mean(values, axis=0) for kind, values in distances.items()}
    report = {
        "split": split,
        "clips": len(clips),
        "setting": "face of clip A driven by the audio of clip B (the next held-out clip); real = A with its own audio",
        "window_step": window_step,
        "scores": {kind: {**sync_scores(d), "e_sync": float(np.mean(e_sync[kind]))} for kind, d in mean_distances.items()},
        "per_clip_av_offsets": {kind: [sync_scores(d)["av_offset"] for d in values] for kind, values in distances.items()},
        "evaluator_sync_accuracy": sync_accuracy(evaluator, shards, split),
        "reconstruction": {
            "psnr_db": float(np.mean(psnrs["whole"])),
            "mouth_psnr_db": float(np.mean(psnrs["mouth"])),
            "upper_psnr_db": float(np.mean(psnrs["upper"])),
            "ssim": float(np.mean(ssims)),
            "pasted_mouth_mask_psnr_db": float(np.mean(pasted["mouth_mask"])),
            "pasted_outside_mask_psnr_db": float(np.mean(pasted["outside_mask"])),
            "mouth_mask_share": float(np.mean(pasted["mask_share"])),
            "note": "frames generated from A's own audio against A's real frames; mouth = the lower half "
            "(rows the generator must draw), upper = the rest of the crop: these are the generator's "
            "own output. pasted_* = what `s2v dub` writes: the crop pasted back into the real crop "
            "through the mouth-and-jaw mask, PSNR where the mask is >= 0.5 (mouth_mask_share of the "
            f"crop) and outside it; a frame with no error counts {PSNR_CAP_DB:.0f} dB",
        },
        "offsets": OFFSETS.tolist(),
        "mean_distance_per_offset": {kind: d.round(5).tolist() for kind, d in mean_distances.items()},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    plot_offsets(mean_distances, os.path.join(out, "offsets.png"))
    plot_grid(*grid, os.path.join(out, "frames.png"))
    return report


def format_scores(report: dict) -> list[str]:
    lines = [f"  {'':28s} {'LSE-D':>7s} {'LSE-C':>7s} {'AV offset':>10s} {'E_sync':>7s}"]
    for kind, score in report["scores"].items():
        lines.append(f"  {kind:28s} {score['lse_d']:7.3f} {score['lse_c']:7.3f} {score['av_offset']:10d} {score['e_sync']:7.3f}")
    lines.append(
        f"  evaluator sync accuracy {report['evaluator_sync_accuracy']:.3f}; "
        f"reconstruction PSNR {report['reconstruction']['psnr_db']:.1f} dB (mouth region "
        f"{report['reconstruction']['mouth_psnr_db']:.1f}, upper face {report['reconstruction']['upper_psnr_db']:.1f}), "
        f"SSIM {report['reconstruction']['ssim']:.3f}"
    )
    lines.append(
        f"  pasted back as `s2v dub` writes it: PSNR {report['reconstruction']['pasted_mouth_mask_psnr_db']:.1f} dB "
        f"in the mouth mask ({100 * report['reconstruction']['mouth_mask_share']:.0f}% of the crop), "
        f"{report['reconstruction']['pasted_outside_mask_psnr_db']:.1f} dB outside it"
    )
    return "\n".join(lines)
