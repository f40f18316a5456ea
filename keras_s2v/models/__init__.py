"""The networks: the Speech2Vid generator, the SyncNet expert and the optional visual-quality
discriminator, with their presets."""

from keras_s2v.models.discriminator import build_quality_discriminator
from keras_s2v.models.presets import QUALITY_DISCRIMINATOR_PRESETS, SPEECH2VID_PRESETS, SYNCNET_PRESETS
from keras_s2v.models.speech2vid import ReferenceConditioning, build_speech2vid, check_generator, conditioning_of
from keras_s2v.models.syncnet import SyncProbability, build_syncnet, embedding_models

__all__ = [
    "QUALITY_DISCRIMINATOR_PRESETS", "SPEECH2VID_PRESETS", "SYNCNET_PRESETS", "ReferenceConditioning", "SyncProbability",
    "build_quality_discriminator", "build_speech2vid", "build_syncnet", "check_generator", "conditioning_of",
    "embedding_models",
]
