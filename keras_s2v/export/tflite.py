"""TFLite/LiteRT variants of the SavedModel's signatures, built-in ops only.

fp32: plain float. fp16: float16 weights. int8: dynamic-range int8 weights, or full integer
(activations too) when a representative dataset is given; ops without an int8 kernel run in
float, still as built-in ops. Conversion fails rather than fall back to Flex (TF) ops.
"""

import contextlib
import os
import sys

import numpy as np
import tensorflow as tf

from keras_s2v.errors import ModelError

TFLITE_VARIANTS = ("fp32", "fp16", "int8")


@contextlib.contextmanager
def native_output_silenced():
    """Silence what C++ code prints on file descriptors 1 and 2 (converter and delegate chatter)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def convert_tflite(saved_model_dir, signature="serving_default", variant="fp32", representative_inputs=None):
    """Convert one signature of a SavedModel; returns the .tflite bytes.

    representative_inputs: for int8, a list of {input name: array with batch 1} for full
    integer quantization; None gives dynamic-range int8.
    """
    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"`variant` must be one of {TFLITE_VARIANTS}; received {variant!r}")
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[signature])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant in ("fp16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8" and representative_inputs is not None:
        converter.representative_dataset = lambda: iter(representative_inputs)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    with native_output_silenced():
        return converter.convert()


class TFLiteModel:
    """Runs one signature of a .tflite file under LiteRT (ai_edge_litert): `model(**inputs)` -> frames."""

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        try:
            with native_output_silenced():
                self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                signatures = self.interpreter.get_signature_list()
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError):
            raise ModelError(path, "not a .tflite model that LiteRT can load") from None
        if len(signatures) != 1:
            raise ModelError(path, f"expected one signature, found {sorted(signatures)}")
        (self.signature, details), = signatures.items()
        self.input_names = sorted(details["inputs"])
        self.runner = self.interpreter.get_signature_runner(self.signature)

    def __call__(self, **inputs):
        outputs = self.runner(**{name: np.asarray(value, np.float32) for name, value in inputs.items()})
        return outputs["frames"]
