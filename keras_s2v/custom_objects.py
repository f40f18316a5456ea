"""Make keras-s2v's layers and models known to Keras's deserializer as soon as Keras is loaded.

`import keras_s2v` must be cheap (no TensorFlow), yet `keras.saving.load_model` must find
`keras_s2v>SyncProbability` and the rest in any file keras-s2v saved. So the modules that
define them are imported once Keras and TensorFlow have finished importing, whoever imports
them, and at once if they are already loaded. Registration waits until no keras-s2v module is
half-imported, so that it never meets a circular import.
"""

import importlib
import importlib.abc
import importlib.util
import sys

DEFINING_MODULES = ("keras_s2v.audio", "keras_s2v.models.speech2vid", "keras_s2v.models.syncnet", "keras_s2v.training.trainer")
_BACKENDS = ("keras", "tensorflow")


def register_custom_objects():
    """Import every module that registers a Keras-serializable class."""
    for name in DEFINING_MODULES:
        importlib.import_module(name)


def _initializing(module):
    return getattr(getattr(module, "__spec__", None), "_initializing", False)


def _ready():
    """Both backends fully imported, and no keras-s2v submodule in the middle of its import."""
    if not all(name in sys.modules and not _initializing(sys.modules[name]) for name in _BACKENDS):
        return False
    return not any(_initializing(module) for name, module in list(sys.modules.items()) if name.startswith("keras_s2v."))


class _RegisterWhenReady(importlib.abc.MetaPathFinder):
    """Wraps the loaders of the backends and of keras-s2v's submodules: after each finishes, checks _ready."""

    def find_spec(self, name, path=None, target=None):
        if name not in _BACKENDS and not name.startswith("keras_s2v."):
            return None
        sys.meta_path.remove(self)  # find the real spec with the other finders
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            module.__spec__._initializing = False  # importlib clears it only after we return
            if self in sys.meta_path and _ready():
                sys.meta_path.remove(self)
                register_custom_objects()

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_loads():
    """Called last by keras_s2v/__init__.py."""
    if _ready():
        register_custom_objects()
    elif not any(isinstance(finder, _RegisterWhenReady) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterWhenReady())
