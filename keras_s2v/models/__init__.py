"""The two networks: the Speech2Vid generator and the SyncNet expert, with their presets."""

from keras_s2v.models.presets import SPEECH2VID_PRESETS, SYNCNET_PRESETS
from keras_s2v.models.speech2vid import ReferenceConditioning, build_speech2vid, check_generator, conditioning_of
from keras_s2v.models.syncnet import SyncProbability, build_syncnet, embedding_models

__all__ = [
    "SPEECH2VID_PRESETS", "SYNCNET_PRESETS", "ReferenceConditioning", "SyncProbability", "build_speech2vid", "build_syncnet",
    "check_generator", "conditioning_of", "embedding_models",
]
