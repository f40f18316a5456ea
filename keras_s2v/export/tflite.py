"""TFLite/LiteRT variants of the SavedModel's signatures, built-in ops only.

fp32: plain float. fp16: float16 weights. int8: full integer (weights and activations),
calibrated on representative windows; the float inputs and outputs are quantized inside.
Conversion fails rather than fall back to Flex (TF) ops.

The files take a fixed batch of 1, as on a device. With a dynamic batch the transposed
convolutions' output shape is computed at run time and LiteRT's XNNPACK delegate leaves them
to slow reference kernels: int8 then ran 8x slower than fp32 (dynamic-range int8 was slower
still), and fp32 itself ran 1.8x slower than at a fixed batch (BENCHMARKS.md).
"""

import contextlib
import os
import sys
import tempfile

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


def _save_at_batch_one(saved_model_dir, signature, folder):
    """Re-save one signature of a SavedModel with batch-1 inputs under the same name."""
    loaded = tf.saved_model.load(saved_model_dir)
    function = loaded.signatures[signature]
    specs = {
        name: tf.TensorSpec([1, *spec.shape[1:]], spec.dtype, name=name)
        for name, spec in function.structured_input_signature[1].items()
    }
    batch_one = tf.function(function).get_concrete_function(**specs)
    tf.saved_model.save(loaded, folder, signatures={signature: batch_one})


def convert_tflite(
    saved_model_dir: str, signature: str = "serving_default", variant: str = "fp32", representative_inputs=None
) -> bytes:
    """Convert one signature of a SavedModel at batch 1; returns the .tflite bytes.

    representative_inputs: for int8 (required there), a list of {input name: array with
    batch 1}, real windows, on which the activation ranges are calibrated.
    """
    return dict(tflite_variants(saved_model_dir, signature, (variant,), representative_inputs))[variant]


def tflite_variants(saved_model_dir: str, signature: str, variants, representative_inputs=None):
    """Yield (variant, .tflite bytes) for each of `variants`, as `convert_tflite` makes them, converted from one
    batch-1 copy of the signature: each copy took 3 s of the demo's 6 conversions (docs/experiments.md)."""
    for variant in variants:
        if variant not in TFLITE_VARIANTS:
            raise ValueError(f"`variant` must be one of {TFLITE_VARIANTS}; received {variant!r}")
    if "int8" in variants and not representative_inputs:
        raise ValueError("int8 is full-integer and needs representative windows to calibrate on (--calibration SHARDS)")
    with tempfile.TemporaryDirectory() as folder:
        _save_at_batch_one(saved_model_dir, signature, folder)
        for variant in variants:
            converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[signature])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            if variant in ("fp16", "int8"):
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if variant == "fp16":
                converter.target_spec.supported_types = [tf.float16]
            if variant == "int8":
                converter.representative_dataset = lambda: iter(representative_inputs)
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
            with native_output_silenced():
                yield variant, converter.convert()


class TFLiteModel:
    """Runs one signature of a .tflite file under LiteRT (ai_edge_litert): `model(**inputs)` -> frames.

    Inputs may hold any batch; a model with a fixed batch of 1 is run once per window.
    """

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
        ((self.signature, details),) = signatures.items()
        self.input_names = sorted(details["inputs"])
        self.runner = self.interpreter.get_signature_runner(self.signature)
        batch = int(self.runner.get_input_details()[self.input_names[0]]["shape_signature"][0])
        self.batch = None if batch < 0 else batch  # None: any batch (files exported before batch 1)

    def __call__(self, **inputs):
        inputs = {name: np.asarray(value, np.float32) for name, value in inputs.items()}
        if self.batch is None:
            return self.runner(**inputs)["frames"]
        count = len(next(iter(inputs.values())))
        return np.concatenate(
            [
                self.runner(**{name: value[i : i + self.batch] for name, value in inputs.items()})["frames"]
                for i in range(0, count, self.batch)
            ]
        )
