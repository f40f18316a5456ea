"""Export: the TF Serving SavedModel layout with its two signatures, and TFLite variants."""

from keras_s2v.export.exporter import export
from keras_s2v.export.savedmodel import SIGNATURES, latest_version, serving_functions, serving_layout, write_savedmodel
from keras_s2v.export.tflite import TFLITE_VARIANTS, TFLiteModel, convert_tflite

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
