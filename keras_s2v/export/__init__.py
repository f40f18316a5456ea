"""Export: the TF Serving SavedModel layout with its two signatures, and TFLite variants."""

from keras_s2v.export.exporter import export  # noqa: F401
from keras_s2v.export.savedmodel import latest_version, serving_functions  # noqa: F401
from keras_s2v.export.tflite import TFLITE_VARIANTS, convert_tflite  # noqa: F401
