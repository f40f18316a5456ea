"""One call for every generator format: `load_backend(path)(mfcc, identity, reference) -> frames`.

The path picks the backend: a .keras file (Keras), a SavedModel folder or its model base
path (the newest version), or a .tflite file (LiteRT). Every backend takes the raw target
window and its reference window (keras_s2v.windows.pick_reference); the model masks the
target itself. Files made before the reference are refused with one line.
"""

import os

import numpy as np

from keras_s2v.errors import FileError, ModelError
from keras_s2v.geometry import GENERATOR_INPUTS, IDENTITY_SHAPE


def check_inputs(path, names):
    """Refuse an exported model whose serving_default does not take the generator's inputs."""
    if names == ["identity", "mfcc"]:
        raise ModelError(
            path,
            "exported from a generator of the old format (a masked identity, no reference window): "
            "it never sees the person's own lower face; train and export a new one",
        )
    if names != list(GENERATOR_INPUTS):
        raise ModelError(path, f"not a Speech2Vid serving_default model: it takes {names}, expected {list(GENERATOR_INPUTS)}")


class KerasBackend:
    name = "keras"

    def __init__(self, path, precision="auto"):
        import tensorflow as tf

        from keras_s2v.export.savedmodel import SIGNATURES, serving_functions
        from keras_s2v.models import check_generator
        from keras_s2v.precision import inference_policy, resolve_precision, with_policy
        from keras_s2v.saving import load_model

        generator = load_model(path, "generator")
        check_generator(generator, path)
        self.generator = with_policy(generator, inference_policy(resolve_precision(precision)))
        # One graph for every batch size: eager calls took 2.5 to 4 times as long (docs/experiments.md). No
        # autograph: the function has no Python control flow, and autograph writes its converted
        # source to the temporary folder, which the web server keeps for its jobs.
        self.function = tf.function(
            serving_functions(self.generator)["serving_default"],
            input_signature=list(SIGNATURES["serving_default"]),
            autograph=False,
        )

    def __call__(self, mfcc, identity, reference):
        import tensorflow as tf

        inputs = (tf.constant(value, tf.float32) for value in (mfcc, identity, reference))
        return tf.cast(self.function(*inputs)["frames"], tf.float32).numpy()


class SavedModelBackend:
    name = "savedmodel"

    def __init__(self, path, precision="auto"):
        import tensorflow as tf

        from keras_s2v.model_versions import latest_version
        from keras_s2v.precision import resolve_precision

        # The SavedModel stays float32, as it serves on every machine; where bfloat16 is native, its
        # graph is computed in bfloat16 (1.4x sooner on an AMX Xeon, docs/experiments.md).
        self.policy = resolve_precision(precision)

        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            version = latest_version(path)
            if version is None:
                raise ModelError(path, "not a SavedModel folder or a model base path with version folders")
            path = os.path.join(path, str(version))
        try:
            self.signature = tf.saved_model.load(path).signatures["serving_default"]
        except (KeyError, OSError, ValueError):
            raise ModelError(path, "not a Speech2Vid SavedModel (no serving_default signature)") from None
        check_inputs(path, sorted(self.signature.structured_input_signature[1]))

    def __call__(self, mfcc, identity, reference):
        import tensorflow as tf

        from keras_s2v.precision import graphs_computing_in

        inputs = {"mfcc": mfcc, "identity": identity, "reference": reference}
        with graphs_computing_in(self.policy):
            frames = self.signature(**{name: tf.constant(value, tf.float32) for name, value in inputs.items()})["frames"]
        return frames.numpy()


class TFLiteBackend:
    name = "tflite"

    def __init__(self, path):
        from keras_s2v.export.tflite import TFLiteModel

        self.model = TFLiteModel(path)
        check_inputs(path, self.model.input_names)

    def __call__(self, mfcc, identity, reference):
        return self.model(mfcc=mfcc, identity=identity, reference=reference)


def require_model(path):
    """FileError unless a model file or SavedModel folder is at `path`: told without loading TensorFlow."""
    if not os.path.exists(path):
        raise FileError(path, "no such file or folder")


def load_backend(path, precision="auto"):
    """The backend for a model path; a backend already loaded is returned as it is (a server loads its model once).
    `precision` (keras_s2v.precision.CHOICES) is what a .keras generator or a SavedModel computes in; a
    .tflite file keeps its own."""
    if isinstance(path, (KerasBackend, SavedModelBackend, TFLiteBackend)):
        return path
    path = os.fspath(path)
    require_model(path)
    if os.path.isdir(path):
        return SavedModelBackend(path, precision)
    if path.endswith(".tflite"):
        return TFLiteBackend(path)
    if path.endswith(".keras"):
        return KerasBackend(path, precision)
    raise ModelError(path, "not a generator: expected a .keras file, a SavedModel folder or a .tflite file")


def generate(backend, mfcc, identity, reference, batch_size=8):
    """Run a backend over (N, *MFCC_SHAPE) and two (N, *IDENTITY_SHAPE) float32 arrays in batches (keras_s2v.geometry)."""
    outputs = [
        backend(mfcc[i : i + batch_size], identity[i : i + batch_size], reference[i : i + batch_size])
        for i in range(0, len(mfcc), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, *IDENTITY_SHAPE), np.float32)
