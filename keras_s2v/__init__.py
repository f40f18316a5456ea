"""keras-s2v: audio-driven lip sync with a modified Speech2Vid generator and a SyncNet expert.

    import keras_s2v

    summary = keras_s2v.dub("face.mp4", "speech.wav", "saved_models/speech2vid", "dubbed.mp4")
    scores = keras_s2v.score("dubbed.mp4", evaluator="eval.keras")

Importing the package is cheap: TensorFlow is imported when a name that needs it is first
used. Subpackages: `keras_s2v.data`, `.models`, `.training`, `.export`, `.evaluation`,
`.serving_client` (a TF Serving client). `keras_s2v.load_model` opens any model keras-s2v saved; call
`keras_s2v.register_layers()` first to open one with plain `keras.saving.load_model`.
"""

import importlib

__version__ = "0.1.0"

_NAMES = {
    "dub": "keras_s2v.dubbing.engine",
    "register_layers": "keras_s2v.saving",
    "DubSummary": "keras_s2v.dubbing.engine",
    "score": "keras_s2v.evaluation",
    "load_model": "keras_s2v.saving",
    "save_model": "keras_s2v.saving",
    "S2VError": "keras_s2v.errors",
    "FileError": "keras_s2v.errors",
    "MediaError": "keras_s2v.errors",
    "NoFaceError": "keras_s2v.errors",
    "AudioTooShortError": "keras_s2v.errors",
    "ModelError": "keras_s2v.errors",
    "TrainingError": "keras_s2v.errors",
}
_SUBPACKAGES = ("data", "models", "training", "export", "evaluation", "serving_client")

__all__ = ["__version__", *_NAMES, *_SUBPACKAGES]


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_s2v.{name}")
    raise AttributeError(f"module 'keras_s2v' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
