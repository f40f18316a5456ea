"""A TensorFlow Serving client for the exported generator: REST and gRPC requests and replies.

request = rest_request({"mfcc": mfcc, "identity": target, "reference": reference})   # JSON body
frames = decode_rest_reply(post(f"{url}/v1/models/speech2vid:predict", request))
request = grpc_request({"audio": pcm, "identity": target, "reference": reference}, "from_audio")
frames = decode_grpc_reply(stub.Predict(request, timeout))
"""

import json
import urllib.request

import numpy as np

from keras_s2v.export.savedmodel import SIGNATURES

MODEL_NAME = "speech2vid"

__all__ = ["MODEL_NAME", "decode_grpc_reply", "decode_rest_reply", "grpc_request", "predict_grpc", "predict_rest", "rest_request"]


def _checked(inputs, signature):
    """The inputs as float32 arrays, checked against the signature; ValueError names the expected shape."""
    if signature not in SIGNATURES:
        raise ValueError(f"unknown signature {signature!r}; choose one of {sorted(SIGNATURES)}")
    specs = {spec.name: spec for spec in SIGNATURES[signature]}
    if set(inputs) != set(specs):
        raise ValueError(f"signature {signature!r} takes inputs {sorted(specs)}; received {sorted(inputs)}")
    arrays = {name: np.asarray(value, np.float32) for name, value in inputs.items()}
    for name, array in arrays.items():
        if not specs[name].shape.is_compatible_with(array.shape):
            expected = "(batch, " + ", ".join(map(str, specs[name].shape[1:])) + ")"
            raise ValueError(f"input {name!r} of {signature!r} must have shape {expected}; received {array.shape}")
    return arrays


def rest_request(inputs: dict[str, np.ndarray], signature: str = "serving_default") -> dict:
    """The JSON body of a REST `:predict` call in the columnar ("inputs") form."""
    arrays = _checked(inputs, signature)
    return {"signature_name": signature, "inputs": {name: array.tolist() for name, array in arrays.items()}}


def decode_rest_reply(reply: dict) -> np.ndarray:
    """Frames (B, *IDENTITY_SHAPE) from a REST reply; a single output comes without its name."""
    outputs = reply["outputs"]
    return np.asarray(outputs["frames"] if isinstance(outputs, dict) else outputs, np.float32)


def grpc_request(inputs, signature="serving_default", model_name=MODEL_NAME, version=None):
    """A tensorflow_serving PredictRequest for the Predict gRPC call."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, array in _checked(inputs, signature).items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def decode_grpc_reply(response):
    import tensorflow as tf

    return tf.make_ndarray(response.outputs["frames"])


def predict_rest(
    url: str, inputs: dict[str, np.ndarray], signature: str = "serving_default", model_name: str = MODEL_NAME, timeout: float = 60
) -> np.ndarray:
    """POST to a running TF Serving (e.g. http://localhost:8501) and return the frames."""
    body = json.dumps(rest_request(inputs, signature)).encode()
    request = urllib.request.Request(f"{url}/v1/models/{model_name}:predict", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return decode_rest_reply(json.load(reply))


def predict_grpc(
    target: str,
    inputs: dict[str, np.ndarray],
    signature: str = "serving_default",
    model_name: str = MODEL_NAME,
    timeout: float = 60,
) -> np.ndarray:
    """Call a running TF Serving over gRPC (e.g. localhost:8500) and return the frames."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return decode_grpc_reply(stub.Predict(grpc_request(inputs, signature, model_name), timeout))
