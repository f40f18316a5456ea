"""Lip-sync evaluation with the independent evaluation SyncNet (architecture.md §5).

For every window, the distance between the video embedding and the audio embeddings at
offsets -15..+15 frames (embeddings L2-normalised, so d = sqrt(2 - 2 cos)); averaged over
the clip per offset: LSE-D = min, LSE-C = median - min, AV offset = argmin.
"""

import json
import os

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from keras_s2v import faces
from keras_s2v.audio import mfcc_windows
from keras_s2v.backends import generate
from keras_s2v.data.datasets import shard_files
from keras_s2v.data.records import parse_clip
from keras_s2v.dubbing import to_uint8
from keras_s2v.geometry import DEFAULT_WINDOW_STEP, FACE_SIZE, MOUTH_ROW, STEPS_PER_FRAME, VIDEO_FPS, WINDOW_FRAMES, WINDOW_STEPS
from keras_s2v.models.syncnet import embedding_models
from keras_s2v.windows import reference_indices, stack_frames, unstack_frames, window_plan

OFFSETS = np.arange(-15, 16)
KINDS = ("generated", "identity frames unchanged", "static mouth", "real")
PSNR_CAP_DB = 100.0  # a masked PSNR with no error at all (infinite): capped so reports stay plain JSON

__all__ = [
    "KINDS", "OFFSETS", "clip_embeddings", "evaluate", "format_scores", "masked_psnr", "offset_distances", "pasted_psnr", "region_psnr", "score",
    "format_score", "sync_loss", "sync_scores",
]


def _normalised(embeddings):
    embeddings = np.asarray(embeddings, np.float64)
    return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-8)


def frame_windows(frames):
    """(N, S, S, 3) uint8 or [0, 1] float frames -> (N - 4, S, S, 15) float32 windows starting at every frame; S = FACE_SIZE."""
    frames = np.asarray(frames, np.float32) / (255.0 if np.asarray(frames).dtype == np.uint8 else 1.0)
    starts = np.arange(len(frames) - WINDOW_FRAMES + 1)
    return stack_frames(frames[starts[:, None] + np.arange(WINDOW_FRAMES)]).numpy()


def clip_embeddings(evaluator, frames, mfcc_map):
    """L2-normalised (video, audio) embeddings of every window of a clip, window f = frames f..f+4."""
    audio_encoder, video_encoder = embedding_models(evaluator)
    windows = min(len(frames) - WINDOW_FRAMES + 1, (mfcc_map.shape[1] - WINDOW_STEPS) // STEPS_PER_FRAME + 1)
    if windows < 2 * OFFSETS.max() + 1:
        raise ValueError(f"a clip needs at least {2 * OFFSETS.max() + WINDOW_FRAMES} frames for offsets +-{OFFSETS.max()}")
    video = _normalised(video_encoder.predict(frame_windows(frames[: windows + WINDOW_FRAMES - 1])[:, MOUTH_ROW:], batch_size=64, verbose=0))
    audio = _normalised(audio_encoder.predict(mfcc_windows(mfcc_map, range(windows)), batch_size=256, verbose=0))
    return video, audio


def offset_distances(video, audio):
    """Mean distance per offset in OFFSETS, over the windows whose every offset is inside the clip."""
    centre = np.arange(OFFSETS.max(), len(video) - OFFSETS.max())
    return np.array([np.linalg.norm(video[centre] - audio[centre + offset], axis=1).mean() for offset in OFFSETS])


def sync_loss(video, audio):
    """E_sync = mean -log P_sync of the aligned windows; P_sync is the cosine of the embeddings."""
    p_sync = np.clip(np.sum(video * audio, axis=1), 1e-7, 1.0)
    return float(np.mean(-np.log(p_sync)))


def sync_scores(distances):
    """{lse_d, lse_c, av_offset} from the mean distance per offset."""
    best = int(np.argmin(distances))
    return {"lse_d": float(distances[best]), "lse_c": float(np.median(distances) - distances[best]), "av_offset": int(OFFSETS[best])}


def load_clips(shards, split):
    return [{k: v.numpy() for k, v in parse_clip(record).items()} for record in tf.data.TFRecordDataset(shard_files(shards, split))]


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


def region_psnr(real, generated):
    """Mean PSNR (dB) of [0, 1] crops over the whole crop, the mouth region (rows MOUTH_ROW.., which
    the generator must draw) and the upper face (the rows above, which it must keep)."""
    regions = {"whole": slice(None), "mouth": slice(MOUTH_ROW, None), "upper": slice(None, MOUTH_ROW)}
    return {name: float(tf.reduce_mean(tf.image.psnr(real[:, rows], generated[:, rows], max_val=1.0)))
            for name, rows in regions.items()}


def masked_psnr(image, reference, mask):
    """PSNR in dB of `image` against `reference` (uint8) over the pixels of `mask`, capped at PSNR_CAP_DB."""
    if image.shape[:2] != mask.shape or reference.shape[:2] != mask.shape:
        raise ValueError(f"images and mask must be the same size; received {image.shape}, {reference.shape}, {mask.shape}")
    if not mask.any():
        raise ValueError("`mask` selects no pixel")
    error = np.mean((image[mask].astype(np.float64) - reference[mask].astype(np.float64)) ** 2)
    return PSNR_CAP_DB if error <= 0 else float(min(PSNR_CAP_DB, 10 * np.log10(255.0**2 / error)))


def pasted_psnr(real, generated):
    """PSNR of what `s2v dub` writes: each generated crop pasted into its real crop, as dub pastes it.

    real, generated: (N, FACE_SIZE, FACE_SIZE, 3) [0, 1] crops. Each real crop stands for the frame
    itself (an identity alignment, a box face with no landmarks, as the box-aligned shards' crops
    are), so `faces.paste_face` blends the generated crop in through the ellipse of `mouth_polygon`,
    colour-matched, keeping the real crop where the generator left it as it was. Returns {"mouth_mask", "outside_mask": mean
    PSNR (dB, max_val 1) over the pixels where `faces.paste_mask` is >= 0.5 and < 0.5; a frame with
    no error there counts PSNR_CAP_DB, so no inf reaches the JSON report; "mask_share": the share of
    the crop's pixels with mask >= 0.5}.
    """
    real, generated = np.asarray(real, np.float32), np.asarray(generated, np.float32)
    alignment = faces.Alignment(np.array([[1, 0, 0], [0, 1, 0]], np.float64), FACE_SIZE, faces.ALIGN_BOX)
    face = faces.Face(box=[0, 0, FACE_SIZE, FACE_SIZE])
    frames = np.round(real * 255.0).clip(0, 255).astype(np.uint8)
    crops = to_uint8(generated)
    pasted = np.stack([faces.paste_face(frame, crop, alignment, face) for frame, crop in zip(frames, crops)])
    y0, x0, region = faces.paste_mask(frames.shape[1:], face, alignment)
    mask = np.zeros((FACE_SIZE, FACE_SIZE), np.float32)
    mask[y0 : y0 + region.shape[0], x0 : x0 + region.shape[1]] = region
    inside = mask >= 0.5

    def mean_psnr(selected):
        return float(np.mean([masked_psnr(image, frame, selected) for image, frame in zip(pasted, frames)]))

    return {"mouth_mask": mean_psnr(inside), "outside_mask": mean_psnr(~inside), "mask_share": float(inside.mean())}


def static_mouth(frames):
    """Every frame's lower half replaced by the first frame's: a mouth that never moves."""
    frames = np.array(frames)
    frames[:, MOUTH_ROW:] = frames[:1, MOUTH_ROW:]
    return frames


def evaluate(shards, backend, evaluator, out, split="test", progress=True, window_step=DEFAULT_WINDOW_STEP):
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
        "reconstruction": {"psnr_db": float(np.mean(psnrs["whole"])), "mouth_psnr_db": float(np.mean(psnrs["mouth"])),
                           "upper_psnr_db": float(np.mean(psnrs["upper"])), "ssim": float(np.mean(ssims)),
                           "pasted_mouth_mask_psnr_db": float(np.mean(pasted["mouth_mask"])),
                           "pasted_outside_mask_psnr_db": float(np.mean(pasted["outside_mask"])),
                           "mouth_mask_share": float(np.mean(pasted["mask_share"])),
                           "note": "frames generated from A's own audio against A's real frames; mouth = the lower half "
                                   "(rows the generator must draw), upper = the rest of the crop: these are the generator's "
                                   "own output. pasted_* = what `s2v dub` writes: the crop pasted back into the real crop "
                                   "through the mouth-and-jaw mask, PSNR where the mask is >= 0.5 (mouth_mask_share of the "
                                   f"crop) and outside it; a frame with no error counts {PSNR_CAP_DB:.0f} dB"},
        "offsets": OFFSETS.tolist(),
        "mean_distance_per_offset": {kind: d.round(5).tolist() for kind, d in mean_distances.items()},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    _plot_offsets(mean_distances, os.path.join(out, "offsets.png"))
    _plot_grid(*grid, os.path.join(out, "frames.png"))
    return report


def format_scores(report):
    lines = [f"  {'':28s} {'LSE-D':>7s} {'LSE-C':>7s} {'AV offset':>10s} {'E_sync':>7s}"]
    for kind, score in report["scores"].items():
        lines.append(f"  {kind:28s} {score['lse_d']:7.3f} {score['lse_c']:7.3f} {score['av_offset']:10d} {score['e_sync']:7.3f}")
    lines.append(f"  evaluator sync accuracy {report['evaluator_sync_accuracy']:.3f}; "
                 f"reconstruction PSNR {report['reconstruction']['psnr_db']:.1f} dB (mouth region "
                 f"{report['reconstruction']['mouth_psnr_db']:.1f}, upper face {report['reconstruction']['upper_psnr_db']:.1f}), "
                 f"SSIM {report['reconstruction']['ssim']:.3f}")
    lines.append(f"  pasted back as `s2v dub` writes it: PSNR {report['reconstruction']['pasted_mouth_mask_psnr_db']:.1f} dB "
                 f"in the mouth mask ({100 * report['reconstruction']['mouth_mask_share']:.0f}% of the crop), "
                 f"{report['reconstruction']['pasted_outside_mask_psnr_db']:.1f} dB outside it")
    return "\n".join(lines)


def longest_face_run(has_face):
    """(start, stop) of the longest run of consecutive frames with a face."""
    best, start = (0, 0), None
    for index, found in enumerate([*np.asarray(has_face, bool), False]):
        if found and start is None:
            start = index
        elif not found and start is not None:
            best, start = max(best, (start, index), key=lambda run: run[1] - run[0]), None
    return best


def score(video_path, evaluator, audio=None, out=None, detector="cnn"):
    """LSE-D, LSE-C and AV offset of any talking-face video, as SyncNet's evaluation defines them.

    The face is tracked and cropped by the same front-end as `dub` (use the detector that made
    the evaluator's training shards, so the crops are aligned alike); the audio is the video's own
    track unless `audio` names another file. The longest run of frames with a face is scored at
    offsets -15..+15 (it must hold 1.4 s). `evaluator` is the evaluation SyncNet (path or model).
    With `out`, writes score.json and offsets.png there. Returns the report dict.
    """
    from keras_s2v import audio as audio_lib
    from keras_s2v import faces, video
    from keras_s2v.errors import MediaError
    from keras_s2v.saving import load_model

    if isinstance(evaluator, (str, os.PathLike)):
        evaluator = load_model(evaluator, "SyncNet")
    frames = video.read_frames(video_path)
    waveform = audio_lib.load_audio(audio or video_path)
    audio_lib.require_window(waveform, audio or video_path)
    found = faces.track_faces(frames, faces.make_detector(detector))
    faces.require_faces(found, video_path)
    start, stop = longest_face_run([face is not None for face in found])
    needed = 2 * OFFSETS.max() + WINDOW_FRAMES
    if stop - start < needed:
        raise MediaError(video_path, f"the longest stretch with a face is {stop - start} frames; scoring needs {needed} "
                                     f"({needed / VIDEO_FPS:.1f} s) for offsets -{OFFSETS.max()}..+{OFFSETS.max()}")
    crops = np.stack([faces.crop_face(frames[index], found[index])[0] for index in range(start, stop)])
    mfcc_map = audio_lib.mfcc(waveform)[:, start * STEPS_PER_FRAME :]
    video_embeddings, audio_embeddings = clip_embeddings(evaluator, crops, mfcc_map)
    distances = offset_distances(video_embeddings, audio_embeddings)
    report = {
        "video": os.fspath(video_path),
        "audio": os.fspath(audio or video_path),
        "frames": int(len(frames)),
        "frames_scored": [int(start), int(stop)],
        **sync_scores(distances),
        "e_sync": sync_loss(video_embeddings, audio_embeddings),
        "offsets": OFFSETS.tolist(),
        "mean_distance_per_offset": distances.round(5).tolist(),
    }
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "score.json"), "w") as handle:
            json.dump(report, handle, indent=2)
        _plot_offsets({os.path.basename(os.fspath(video_path)): distances}, os.path.join(out, "offsets.png"))
    return report


def format_score(report):
    """The one line `s2v score` prints."""
    start, stop = report["frames_scored"]
    return (f"LSE-D {report['lse_d']:.3f}  LSE-C {report['lse_c']:.3f}  AV offset {report['av_offset']:+d}  "
            f"E_sync {report['e_sync']:.3f}  ({stop - start} of {report['frames']} frames scored)")


def _plot_offsets(mean_distances, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for kind, values in mean_distances.items():
        axis.plot(OFFSETS, values, marker=".", label=kind)
    axis.set_xlabel("audio offset (frames)")
    axis.set_ylabel("mean embedding distance")
    axis.set_title("evaluation SyncNet: distance against offset (minimum at 0 = in sync)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_grid(real, generated, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = np.concatenate([np.concatenate(list(real), axis=1), np.concatenate(list(generated), axis=1)], axis=0)
    plt.imsave(path, np.clip(image, 0, 1))
