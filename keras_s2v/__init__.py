"""keras-s2v: audio-driven lip sync with a modified Speech2Vid generator and a SyncNet expert."""

__version__ = "0.1.0"


def __getattr__(name):
    # `keras_s2v.dub(...)` without importing TensorFlow when the package is imported.
    if name == "dub":
        from keras_s2v.dubbing import dub

        return dub
    raise AttributeError(f"module 'keras_s2v' has no attribute {name!r}")
