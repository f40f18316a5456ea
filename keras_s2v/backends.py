"""One call for every generator format: `load_backend(path)(mfcc, identity) -> frames`.

The path picks the backend: a .keras file (Keras), a SavedModel folder or its model base
path (the newest version), or a .tflite file (LiteRT). Every backend takes the unmasked
identity window and applies the lower-half mask itself, as the exported signatures do.
"""

import os

import numpy as np

from keras_s2v.errors import FileError, ModelError
from keras_s2v.geometry import IDENTITY_SHAPE


class KerasBackend:
    name = "keras"

    def __init__(self, path):
        from keras_s2v.export.savedmodel import serving_functions
        from keras_s2v.models import check_generator
        from keras_s2v.saving import load_model

        generator = load_model(path, "generator")
        check_generator(generator, path)
        self.function = serving_functions(generator)["serving_default"]

    def __call__(self, mfcc, identity):
        import tensorflow as tf

        return self.function(tf.constant(mfcc, tf.float32), tf.constant(identity, tf.float32))["frames"].numpy()


class SavedModelBackend:
    name = "savedmodel"

    def __init__(self, path):
        import tensorflow as tf

        from keras_s2v.export.savedmodel import latest_version

        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            version = latest_version(path)
            if version is None:
                raise ModelError(path, "not a SavedModel folder or a model base path with version folders")
            path = os.path.join(path, str(version))
        try:
            self.signature = tf.saved_model.load(path).signatures["serving_default"]
        except (KeyError, OSError, ValueError):
            raise ModelError(path, "not a Speech2Vid SavedModel (no serving_default signature)") from None
        if sorted(self.signature.structured_input_signature[1]) != ["identity", "mfcc"]:
            raise ModelError(path, "not a Speech2Vid SavedModel: serving_default does not take mfcc and identity")

    def __call__(self, mfcc, identity):
        import tensorflow as tf

        return self.signature(mfcc=tf.constant(mfcc, tf.float32), identity=tf.constant(identity, tf.float32))["frames"].numpy()


class TFLiteBackend:
    name = "tflite"

    def __init__(self, path):
        from keras_s2v.export.tflite import TFLiteModel

        self.model = TFLiteModel(path)
        if self.model.input_names != ["identity", "mfcc"]:
            raise ModelError(path, f"expected a serving_default .tflite (mfcc, identity); it takes {self.model.input_names}")

    def __call__(self, mfcc, identity):
        return self.model(mfcc=mfcc, identity=identity)


def load_backend(path):
    """The backend for a model path; a backend already loaded is returned as it is (a server loads its model once)."""
    if isinstance(path, (KerasBackend, SavedModelBackend, TFLiteBackend)):
        return path
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileError(path, "no such file or folder")
    if os.path.isdir(path):
        return SavedModelBackend(path)
    if path.endswith(".tflite"):
        return TFLiteBackend(path)
    if path.endswith(".keras"):
        return KerasBackend(path)
    raise ModelError(path, "not a generator: expected a .keras file, a SavedModel folder or a .tflite file")


def generate(backend, mfcc, identity, batch_size=8):
    """Run a backend over (N, *MFCC_SHAPE) and (N, *IDENTITY_SHAPE) float32 arrays in batches (keras_s2v.geometry)."""
    outputs = [backend(mfcc[i : i + batch_size], identity[i : i + batch_size]) for i in range(0, len(mfcc), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, *IDENTITY_SHAPE), np.float32)
