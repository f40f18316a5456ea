"""The networks: the Speech2Vid generator, the SyncNet expert, the optional visual-quality
discriminator and the mouth-motion model, with their presets. A generator's pieces are reached with
`generator_parts`, a SyncNet's encoders with `embedding_models`."""

from keras_s2v.models.discriminator import build_quality_discriminator
from keras_s2v.models.presets import QUALITY_DISCRIMINATOR_PRESETS, SPEECH2VID_PRESETS, SYNCNET_PRESETS
from keras_s2v.models.speech2vid import (
    GeneratorParts,
    ReferenceConditioning,
    build_speech2vid,
    check_generator,
    conditioning_of,
    generator_parts,
)
from keras_s2v.models.syncnet import SyncProbability, build_syncnet, embedding_models

__all__ = [
    "QUALITY_DISCRIMINATOR_PRESETS",
    "SPEECH2VID_PRESETS",
    "SYNCNET_PRESETS",
    "ReferenceConditioning",
    "SyncProbability",
    "build_quality_discriminator",
    "build_speech2vid",
    "build_syncnet",
    "check_generator",
    "conditioning_of",
    "embedding_models",
    "GeneratorParts",
    "generator_parts",
]
