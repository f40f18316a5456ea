"""How a corpus of talking-face videos lies on disk, as `s2v synth` writes it and `s2v preprocess`
reads it: split folders, and a JSON sidecar beside each video (face boxes, split, script)."""

import os

SPLITS = ("train", "val", "test")
# Which clips of a split a SyncNet trains on: all, or every other clip in name order, two disjoint
# halves, so that the expert and the evaluation SyncNet never share a clip.
CLIP_SUBSETS = ("all", "even", "odd")


def sidecar_path(video_path):
    """`clip.mp4` -> `clip.json`."""
    return os.path.splitext(os.fspath(video_path))[0] + ".json"
