"""Atomic model files, and loading them with a clear error instead of a traceback.

Keras finds a custom layer in a saved file only once the module that defines it has been imported: it
has no hook to import one on demand, and `import keras_s2v` must stay free of TensorFlow. So
`load_model` registers every keras-s2v layer first, and `register_layers()` does the same for a caller
who wants plain `keras.saving.load_model`.
"""

import os
import tempfile

import keras

from keras_s2v.errors import FileError, ModelError


def register_layers() -> None:
    """Import every module that defines a Keras-serializable keras-s2v class, which registers it."""
    from keras_s2v.media import mfcc_layer  # noqa: F401
    from keras_s2v.models import speech2vid, syncnet  # noqa: F401
    from keras_s2v.training import trainer  # noqa: F401


def save_model(model: keras.Model, path: str) -> None:
    """Write `model` to `path` (.keras) through a temporary file, so a kill never leaves half a file.

    The file computes in float32 whatever `model` computed in (its variables are float32 under a
    mixed policy anyway): the machine that loads it chooses its own precision (keras_s2v.precision).
    """
    from keras_s2v.precision import with_policy

    model = with_policy(model, "float32")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileError(path, "the output folder does not exist")
    handle, temporary = tempfile.mkstemp(suffix=".keras", dir=folder, prefix=".partial-")
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise


def load_model(path: str, kind: str) -> keras.Model:
    """Load a .keras file with safe_mode=True; `kind` names what it should be, for the error."""
    register_layers()
    if not os.path.isfile(path):
        raise FileError(path, "no such file")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file
        raise ModelError(path, f"cannot be loaded as a {kind} .keras model ({type(error).__name__})") from None
