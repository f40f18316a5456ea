# TensorFlow Serving for the exported Speech2Vid generator.
#
#   s2v export --generator generator.keras --out saved_models/speech2vid
#   docker build -t keras-s2v-serving .
#   docker run --rm -p 8500:8500 -p 8501:8501 keras-s2v-serving
#
# Pinned to the TF Serving release that matches the TensorFlow the model is exported with.
FROM tensorflow/serving:2.21.0

ENV MODEL_NAME=speech2vid
COPY saved_models/speech2vid /models/speech2vid

# 8500: gRPC (PredictionService), 8501: REST (/v1/models/speech2vid:predict)
EXPOSE 8500 8501
