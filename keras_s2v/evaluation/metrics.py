"""Lip-sync metrics with the independent evaluation SyncNet, and PSNR outside the mouth.

For every window, the distance between the video embedding and the audio embeddings at offsets
-15..+15 frames (embeddings L2-normalised, so d = sqrt(2 - 2 cos)); averaged over the clip per
offset: LSE-D = min, LSE-C = median - min, AV offset = argmin.
"""

import numpy as np
import tensorflow as tf

from keras_s2v import faces
from keras_s2v.dubbing.engine import to_uint8
from keras_s2v.faces.alignment import ALIGN_BOX
from keras_s2v.geometry import FACE_SIZE, MOUTH_ROW, STEPS_PER_FRAME, WINDOW_FRAMES, WINDOW_STEPS
from keras_s2v.media.audio import mfcc_windows
from keras_s2v.models.syncnet import embedding_models
from keras_s2v.windows import stack_frames

OFFSETS = np.arange(-15, 16)
PSNR_CAP_DB = 100.0  # a masked PSNR with no error at all (infinite): capped so reports stay plain JSON


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
    video = _normalised(
        video_encoder.predict(frame_windows(frames[: windows + WINDOW_FRAMES - 1])[:, MOUTH_ROW:], batch_size=64, verbose=0)
    )
    audio = _normalised(audio_encoder.predict(mfcc_windows(mfcc_map, range(windows)), batch_size=256, verbose=0))
    return video, audio


def offset_distances(video: np.ndarray, audio: np.ndarray) -> np.ndarray:
    """Mean distance per offset in OFFSETS, over the windows whose every offset is inside the clip."""
    centre = np.arange(OFFSETS.max(), len(video) - OFFSETS.max())
    return np.array([np.linalg.norm(video[centre] - audio[centre + offset], axis=1).mean() for offset in OFFSETS])


def sync_loss(video, audio):
    """E_sync = mean -log P_sync of the aligned windows; P_sync is the cosine of the embeddings."""
    p_sync = np.clip(np.sum(video * audio, axis=1), 1e-7, 1.0)
    return float(np.mean(-np.log(p_sync)))


def sync_scores(distances: np.ndarray) -> dict:
    """{lse_d, lse_c, av_offset} from the mean distance per offset."""
    best = int(np.argmin(distances))
    return {
        "lse_d": float(distances[best]),
        "lse_c": float(np.median(distances) - distances[best]),
        "av_offset": int(OFFSETS[best]),
    }


def region_psnr(real, generated):
    """Mean PSNR (dB) of [0, 1] crops over the whole crop, the mouth region (rows MOUTH_ROW.., which
    the generator must draw) and the upper face (the rows above, which it must keep)."""
    regions = {"whole": slice(None), "mouth": slice(MOUTH_ROW, None), "upper": slice(None, MOUTH_ROW)}
    return {
        name: float(tf.reduce_mean(tf.image.psnr(real[:, rows], generated[:, rows], max_val=1.0)))
        for name, rows in regions.items()
    }


def masked_psnr(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
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
    alignment = faces.Alignment(np.array([[1, 0, 0], [0, 1, 0]], np.float64), FACE_SIZE, ALIGN_BOX)
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
