"""Atomic model files, and loading them with a clear error instead of a traceback."""

import os
import tempfile

import keras

from keras_s2v.custom_objects import register_custom_objects
from keras_s2v.errors import FileError, ModelError


def save_model(model, path):
    """Write `model` to `path` (.keras) through a temporary file, so a kill never leaves half a file."""
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


def load_model(path, kind):
    """Load a .keras file with safe_mode=True; `kind` names what it should be, for the error."""
    register_custom_objects()
    if not os.path.isfile(path):
        raise FileError(path, "no such file")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file
        raise ModelError(path, f"cannot be loaded as a {kind} .keras model ({type(error).__name__})") from None
