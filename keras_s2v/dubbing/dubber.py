"""`load_dubber`: the dub a model gives, loaded once for any number of dubs.

A mouth-motion model moves the person's own mouth (keras_s2v.dubbing.own_pixels); anything else is a
generator, which paints it (keras_s2v.dubbing.engine). `s2v dub`, `s2v web`, the photo and video
checks and the benchmarks all take their dub from here.
"""

import os

from keras_s2v.dubbing.backends import load_backend, require_model


def load_dubber(model, detector="cnn", **generator_options):
    """(dub(face, audio, out, progress=True, on_progress=None) -> DubSummary, the backend's name) for `model`:
    a path, or a generator backend already loaded. `generator_options` are `engine.dub`'s (batch_size,
    window_step, keep_above_lips, precision) and apply to a generator only. A bad model is a FileError or
    ModelError here, before any face or speech is read."""
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if isinstance(model, str):
        require_model(model)  # before either way imports TensorFlow: a mistyped path fails at once
    from keras_s2v.dubbing import own_pixels

    if isinstance(model, str) and own_pixels.is_motion_model(model):
        motion = own_pixels.load_motion_model(model)

        def dub_own_pixels(face, audio, out, progress=True, on_progress=None):
            return own_pixels.dub_own_pixels(face, audio, motion, out, detector, progress, on_progress)

        return dub_own_pixels, own_pixels.BACKEND

    from keras_s2v.dubbing.engine import dub

    backend = load_backend(model, generator_options.pop("precision", "auto"))

    def dub_generator(face, audio, out, progress=True, on_progress=None):
        return dub(face, audio, backend, out, detector, progress=progress, on_progress=on_progress, **generator_options)

    return dub_generator, backend.name
