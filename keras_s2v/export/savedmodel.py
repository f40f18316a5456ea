"""The SavedModel that TensorFlow Serving loads: `<base>/<version>/` with two signatures.

serving_default: mfcc (B, *MFCC_SHAPE), identity, reference (B, *IDENTITY_SHAPE) -> frames (B, *IDENTITY_SHAPE)
from_audio:      audio (B, WINDOW_SAMPLES) 16 kHz PCM, identity, reference     -> frames
identity is the raw target window and reference a window of the same video at least
MIN_REFERENCE_GAP frames away (for a still image, the image itself); the generator builds
its conditioning input from them inside, so no client can forget the mask.
The shapes are those of keras_s2v.geometry.
"""

import contextlib
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from keras_s2v.errors import FileError, ModelError
from keras_s2v.geometry import IDENTITY_SHAPE, MFCC_SHAPE, WINDOW_SAMPLES
from keras_s2v.media.audio import mfcc_tf
from keras_s2v.models.speech2vid import check_generator

MFCC_SPEC = tf.TensorSpec((None, *MFCC_SHAPE), tf.float32, name="mfcc")
IDENTITY_SPEC = tf.TensorSpec((None, *IDENTITY_SHAPE), tf.float32, name="identity")
REFERENCE_SPEC = tf.TensorSpec((None, *IDENTITY_SHAPE), tf.float32, name="reference")
AUDIO_SPEC = tf.TensorSpec((None, WINDOW_SAMPLES), tf.float32, name="audio")
SIGNATURES = {
    "serving_default": (MFCC_SPEC, IDENTITY_SPEC, REFERENCE_SPEC),
    "from_audio": (AUDIO_SPEC, IDENTITY_SPEC, REFERENCE_SPEC),
}


def serving_functions(generator):
    """{signature name: function} over the generator, with the MFCC inside from_audio."""

    def serving_default(mfcc, identity, reference):
        # Signature calls do not check shapes; this error names the expected one.
        inputs = {
            spec.name: tf.ensure_shape(value, spec.shape)
            for spec, value in zip(SIGNATURES["serving_default"], (mfcc, identity, reference))
        }
        return {"frames": generator(inputs, training=False)}

    def from_audio(audio, identity, reference):
        mfcc = mfcc_tf(tf.ensure_shape(audio, AUDIO_SPEC.shape), normalize=True)[..., None]
        return serving_default(mfcc, identity, reference)

    return {"serving_default": serving_default, "from_audio": from_audio}


def write_savedmodel(generator: keras.Model, path: str) -> None:
    """Write the SavedModel with both signatures to `path`."""
    check_generator(generator)
    archive = keras.export.ExportArchive()
    archive.track(generator)
    for name, function in serving_functions(generator).items():
        archive.add_endpoint(name, function, input_signature=list(SIGNATURES[name]))
    archive.write_out(path, verbose=False)


@contextlib.contextmanager
def staged(target):
    """Yields a staging folder beside `target` that replaces it on success and vanishes on failure."""
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".partial-", dir=parent)
    try:
        yield staging
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def serving_layout(base: str) -> dict:
    """What TF Serving will load from a model base path: {version: {signature: (inputs, outputs)}}.

    Raises FileError/ModelError when the layout is wrong: no integer version folder, a version
    without saved_model.pb, or a missing signature or input name.
    """
    if not os.path.isdir(base):
        raise FileError(base, "no such folder (expected a model base path such as saved_models/speech2vid)")
    versions = sorted(int(name) for name in os.listdir(base) if name.isdigit())
    if not versions:
        raise ModelError(base, "no integer version folder (TF Serving loads <base>/<version>/)")
    layout = {}
    for version in versions:
        folder = os.path.join(base, str(version))
        if not os.path.isfile(os.path.join(folder, "saved_model.pb")):
            raise ModelError(folder, "no saved_model.pb in this version folder")
        loaded = tf.saved_model.load(folder)
        layout[version] = {}
        for name, specs in SIGNATURES.items():
            if name not in loaded.signatures:
                raise ModelError(folder, f"no {name!r} signature (found {sorted(loaded.signatures)})")
            function = loaded.signatures[name]
            found = {key: spec.shape.as_list() for key, spec in function.structured_input_signature[1].items()}
            expected = {spec.name: spec.shape.as_list() for spec in specs}
            if found != expected:
                raise ModelError(folder, f"signature {name!r} takes {found}, expected {expected}")
            inputs = {key: found[key] for key in expected}  # in the documented order
            outputs = {key: spec.shape.as_list() for key, spec in function.structured_outputs.items()}
            layout[version][name] = (inputs, outputs)
    return layout
