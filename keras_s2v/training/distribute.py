"""Distribution strategies and mixed precision for training."""

import contextlib

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi-worker")
PRECISIONS = ("mixed_float16", "mixed_bfloat16")


def get_strategy(name="default"):
    """'default' (one device), 'mirrored' (all GPUs of one machine, or its logical devices)
    or 'multi-worker' (several machines, as the TF_CONFIG environment variable describes)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy([d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")])
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"`strategy` must be one of {STRATEGIES}; received {name!r}")


@contextlib.contextmanager
def precision(policy=None):
    """Build models under a mixed-precision policy, then restore the previous one.

    Layers keep float32 variables and compute in float16/bfloat16; the trainer casts the
    generator's frames and P_sync to float32, so the loss stays float32.
    """
    if policy not in (None, *PRECISIONS):
        raise ValueError(f"`mixed_precision` must be one of {PRECISIONS}; received {policy!r}")
    previous = keras.config.dtype_policy()
    if policy:
        keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
