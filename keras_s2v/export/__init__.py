"""Export: the TF Serving SavedModel layout with its two signatures, and TFLite variants."""

from keras_s2v.export.exporter import export
from keras_s2v.export.savedmodel import SIGNATURES, serving_functions, serving_layout, write_savedmodel
from keras_s2v.export.tflite import TFLITE_VARIANTS, TFLiteModel, convert_tflite
from keras_s2v.model_versions import latest_version

__all__ = [
    "SIGNATURES",
    "TFLITE_VARIANTS",
    "TFLiteModel",
    "convert_tflite",
    "export",
    "latest_version",
    "serving_functions",
    "serving_layout",
    "write_savedmodel",
]
