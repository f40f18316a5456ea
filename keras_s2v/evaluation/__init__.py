"""Evaluation: lip sync with the independent evaluation SyncNet (LSE-D, LSE-C, AV offset), PSNR outside
the mouth, and the checks on real photos and videos.

- `metrics`: the distances per offset and what is read from them; masked PSNR.
- `protocol`: `evaluate` on held-out shards against the baselines; `scoring`: `score` one dubbed video.
- `photo_check`, `video_check`, `video_measures`: dub real portraits and talking videos and measure the mouth.
"""

from keras_s2v.evaluation.metrics import (
    OFFSETS,
    clip_embeddings,
    masked_psnr,
    offset_distances,
    pasted_psnr,
    region_psnr,
    sync_loss,
    sync_scores,
)
from keras_s2v.evaluation.protocol import KINDS, evaluate, format_scores
from keras_s2v.evaluation.scoring import format_score, score

__all__ = [
    "KINDS",
    "OFFSETS",
    "clip_embeddings",
    "evaluate",
    "format_score",
    "format_scores",
    "masked_psnr",
    "offset_distances",
    "pasted_psnr",
    "region_psnr",
    "score",
    "sync_loss",
    "sync_scores",
]
