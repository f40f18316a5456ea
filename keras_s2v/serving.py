"""Deprecated alias of `keras_s2v.serving_client`, the module's name before 0.2 (it is a client,
not a server); it will be removed in 0.3."""

import warnings

from keras_s2v.serving_client import *  # noqa: F401,F403
from keras_s2v.serving_client import __all__  # noqa: F401

warnings.warn("keras_s2v.serving is renamed keras_s2v.serving_client; the old name goes in 0.3",
              DeprecationWarning, stacklevel=2)
