"""Distribution strategies for training (keras_s2v.precision chooses what they compute in)."""

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi-worker")


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
