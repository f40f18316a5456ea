"""Which precision models compute in: bfloat16 where the hardware has it, float32 elsewhere.

A CPU with AVX512-BF16 or AMX multiplies bfloat16 natively and a GPU does too; elsewhere
TensorFlow emulates it, and a training step of the `small` generator took 4.7 times as long as in
float32 on an AMD EPYC with AVX2 only (docs/experiments.md). So "auto", every command's default,
picks `mixed_bfloat16` only there. Under a mixed policy the variables stay float32, so a model
trained in bfloat16 is saved as float32 (`with_policy`) and loads the same on every machine.
"""

import contextlib
import functools
import threading

PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
CHOICES = ("auto", *PRECISIONS)
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # as Linux names them in /proc/cpuinfo
HELP = (
    "what the models compute in: bfloat16 where the CPU has AVX512-BF16 or AMX or there is a GPU, "
    "else float32 (auto, the default); float32, bfloat16 or float16 (GPUs) force one"
)


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset:
    """The first CPU's feature flags as Linux lists them; empty where there is no such file."""
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(choice: str = "auto", flags: frozenset | None = None, gpu: bool | None = None) -> str:
    """The Keras dtype policy of `choice` (one of CHOICES); "auto" looks at `flags` (this CPU's
    when None) and `gpu` (whether TensorFlow sees one when None)."""
    if choice not in CHOICES:
        raise ValueError(f"precision must be one of {CHOICES}; received {choice!r}")
    if choice != "auto":
        return PRECISIONS[choice]
    flags = cpu_flags() if flags is None else flags
    native = bool(flags & BFLOAT16_CPU_FLAGS) or (_has_gpu() if gpu is None else gpu)
    return PRECISIONS["bfloat16" if native else "float32"]


def inference_policy(policy: str) -> str:
    """The policy a model that only infers computes in, for the training policy `policy`. Mixed
    bfloat16 keeps float32 weights for the optimizer and casts them at every call; a model that
    no longer trains can hold them in bfloat16 and skip the casts, the same outputs 1.14x sooner
    (the `seed` forward pass on an AMX Xeon, docs/experiments.md). Float16 stays mixed: its
    narrow range is why the policy keeps float32 weights in the first place."""
    return {PRECISIONS["bfloat16"]: "bfloat16"}.get(policy, policy)


ONEDNN_BFLOAT16 = "auto_mixed_precision_onednn_bfloat16"  # TensorFlow's graph-optimizer pass
_graph_rewrites = {"lock": threading.Lock(), "inside": 0}


@contextlib.contextmanager
def graphs_computing_in(policy: str):
    """Run float32 TensorFlow graphs (a loaded SavedModel's) in `policy`'s precision where it can be
    rewritten: under mixed bfloat16, TensorFlow's graph optimizer computes their convolutions and
    matmuls in bfloat16 (oneDNN's auto mixed precision); under any other policy nothing changes.
    The optimizer's option is process-wide, so it is on only while some thread is inside."""
    import tensorflow as tf

    if policy != PRECISIONS["bfloat16"]:
        yield
        return
    with _graph_rewrites["lock"]:
        _graph_rewrites["inside"] += 1
        tf.config.optimizer.set_experimental_options({ONEDNN_BFLOAT16: True})
    try:
        yield
    finally:
        with _graph_rewrites["lock"]:
            _graph_rewrites["inside"] -= 1
            if not _graph_rewrites["inside"]:
                tf.config.optimizer.set_experimental_options({ONEDNN_BFLOAT16: False})


@contextlib.contextmanager
def computing_in(policy: str):
    """Build models under the dtype `policy` (a value of PRECISIONS), then restore the previous one."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _replace_policies(config, policy):
    if isinstance(config, dict):
        if str(config.get("class_name", "")).endswith("DTypePolicy") and "name" in config.get("config", {}):
            return {**config, "config": {**config["config"], "name": policy}}
        return {key: _replace_policies(value, policy) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [_replace_policies(value, policy) for value in config]
    return config


def policies(model) -> set:
    """The dtype policies of `model`'s layers, nested ones included."""
    import keras

    return {config["config"]["name"] for config in _policy_configs(keras.saving.serialize_keras_object(model))}


def _policy_configs(config):
    if isinstance(config, dict):
        if str(config.get("class_name", "")).endswith("DTypePolicy"):
            yield config
        for value in config.values():
            yield from _policy_configs(value)
    elif isinstance(config, (list, tuple)):
        for value in config:
            yield from _policy_configs(value)


def with_policy(model, policy: str):
    """`model` with every layer computing in `policy`, its weights shared by value (a new model,
    or `model` itself where nothing changes)."""
    import keras

    from keras_s2v.saving import register_layers

    if policies(model) <= {policy}:
        return model
    register_layers()
    config = _replace_policies(keras.saving.serialize_keras_object(model), policy)
    rebuilt = keras.saving.deserialize_keras_object(config, safe_mode=True)
    rebuilt.set_weights(model.get_weights())
    return rebuilt
