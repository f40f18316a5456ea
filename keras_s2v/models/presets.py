"""Named model sizes. `seed` is the generator of docs/design.md (the generator), layer for layer."""

# Where ReferenceBlend always paints (centre row, half height, half width of the crop): the
# mouth and the jaw below it, which move with the speech (docs/experiments.md).
MOUTH_AND_JAW = (0.70, 0.16, 0.26)
MAX_SHIFT = 10.0  # the most a warping blend moves a pixel, in pixels of the 112 crop

# `width` scales every conv filter count and dense width; the 98 -> (7, 7, 2)
# bottleneck and the 15 output channels stay fixed so the topology is unchanged.
SPEECH2VID_PRESETS = {
    "seed": {"width": 1.0, "description": "the seed model summary, exactly (35.5M parameters)"},
    "small": {
        "width": 0.25,
        "blend": True,
        "paint_ellipse": MOUTH_AND_JAW,
        "description": "1/4 widths, same topology plus the reference blend, for CPU training",
    },
    "tiny": {
        "width": 1 / 16,
        "blend": True,
        "paint_ellipse": MOUTH_AND_JAW,
        "description": "1/16 widths, with the reference blend, for tests",
    },
    "small-warp": {
        "width": 0.25,
        "blend": True,
        "max_shift": MAX_SHIFT,
        "description": "as small, but the blend warps the reference's own mouth and paints only where it must",
    },
    "tiny-warp": {
        "width": 1 / 16,
        "blend": True,
        "max_shift": MAX_SHIFT,
        "description": "as tiny, with the warping blend, for tests",
    },
}

SYNCNET_PRESETS = {
    "base": {"width": 1.0, "embedding": 512, "description": "full expert for real data"},
    "small": {"width": 0.25, "embedding": 128, "description": "expert for the synthetic corpus on CPU"},
    "tiny": {"width": 0.125, "embedding": 32, "description": "for tests"},
}


def get_preset(presets, name, kind):
    if name not in presets:
        raise ValueError(f"unknown {kind} preset {name!r}; choose one of {sorted(presets)}")
    return presets[name]


# The visual-quality discriminator (keras_s2v.models.discriminator): the filters of its
# four strided conv blocks, first to last.
QUALITY_DISCRIMINATOR_PRESETS = {
    # Wav2Lip's widths (32 to 256 here) cost 5x a `small` generator's training step on 2 cores;
    # these cost about as much as the generator's step.
    "small": {"filters": (8, 16, 32, 64), "description": "for the small generator on CPU"},
    "tiny": {"filters": (4, 8, 8, 16), "description": "for tests"},
}
