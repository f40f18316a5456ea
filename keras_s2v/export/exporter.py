"""`s2v export`: the SavedModel version, its TFLite variants and export_report.json in one go.

Layout under the model base path (TF Serving reads only the integer folders' SavedModels):

    <base>/<version>/saved_model.pb, variables/        both signatures
    <base>/<version>/tflite/<signature>_<variant>.tflite
    <base>/export_report.json                          size, batch-1 latency, PSNR vs Keras
"""

import json
import os
import statistics
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from keras_s2v.export.savedmodel import SIGNATURES, serving_functions, staged, write_savedmodel
from keras_s2v.export.tflite import TFLITE_VARIANTS, TFLiteModel, tflite_variants
from keras_s2v.model_versions import version_folder
from keras_s2v.models import check_generator

FIDELITY_TARGETS_DB = {"fp32": 60.0, "fp16": 40.0, "int8": 30.0}


def psnr(reference, test):
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(test, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def sample_inputs(shards=None, count=16, seed=0):
    """{signature: [inputs with batch 1]}: real windows from shards when given, else synthetic ones.

    from_audio always gets synthetic speech: shards hold MFCC, not PCM.
    """
    from keras_s2v.geometry import IDENTITY_SHAPE, MFCC_SHAPE, SAMPLES_PER_FRAME, WINDOW_SAMPLES
    from keras_s2v.speech.formant import Voice, random_script, synthesize_speech

    rng = np.random.default_rng(seed)
    pcm, _ = synthesize_speech(random_script(rng, 1.0 + count * 0.04), Voice(), rng)
    if shards:
        from keras_s2v.data.datasets import generator_dataset

        windows = [
            {name: value.numpy() for name, value in x.items()}
            for x, _ in generator_dataset(shards, "train", 1, deterministic=True).take(count)
        ]
    else:
        windows = [
            {
                "mfcc": rng.standard_normal((1, *MFCC_SHAPE)),
                "identity": rng.random((1, *IDENTITY_SHAPE)),
                "reference": rng.random((1, *IDENTITY_SHAPE)),
            }
            for _ in range(count)
        ]
    windows = [{name: value.astype(np.float32) for name, value in window.items()} for window in windows]
    audio = [pcm[None, SAMPLES_PER_FRAME * i : SAMPLES_PER_FRAME * i + WINDOW_SAMPLES].astype(np.float32) for i in range(count)]
    return {
        "serving_default": windows,
        "from_audio": [{"audio": a, "identity": w["identity"], "reference": w["reference"]} for a, w in zip(audio, windows)],
    }


def _latency_ms(run, inputs, repeats=10):
    run(**inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(**inputs)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def export(
    generator,
    base: str,
    version: int | None = None,
    variants: tuple[str, ...] | None = None,
    calibration: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> dict:
    """Export a loaded generator; returns the report (also written to `<base>/export_report.json`).

    `variants` are the TFLite files to write; by default fp32, fp16, and int8 when `calibration`
    shards are given (full-integer int8 is calibrated on their windows).
    """
    check_generator(generator)
    if variants is None:
        variants = TFLITE_VARIANTS if calibration else tuple(v for v in TFLITE_VARIANTS if v != "int8")
    for variant in variants:
        if variant not in TFLITE_VARIANTS:
            raise ValueError(f"unknown TFLite variant {variant!r}; choose from {TFLITE_VARIANTS}")
    if "int8" in variants and not calibration:
        raise ValueError("the int8 variant is calibrated on real windows: give preprocessed shards (--calibration SHARDS)")
    samples = sample_inputs(calibration)
    functions = serving_functions(generator)
    keras_outputs = {
        name: [functions[name](**{k: tf.constant(v) for k, v in x.items()})["frames"].numpy() for x in xs]
        for name, xs in samples.items()
    }
    target = version_folder(base, version, force)
    files = []
    steps = tqdm(total=len(SIGNATURES) * (1 + len(variants)), desc="export", unit="file", disable=not progress, leave=False)
    with staged(target) as staging:
        write_savedmodel(generator, staging)
        loaded = tf.saved_model.load(staging)
        for name in SIGNATURES:
            signature = loaded.signatures[name]

            def run(signature=signature, **inputs):
                return signature(**{k: tf.constant(v) for k, v in inputs.items()})["frames"].numpy()

            files.append(_measure(staging, ".", "savedmodel", name, run, samples[name], keras_outputs[name]))
            steps.update()
        os.makedirs(os.path.join(staging, "tflite"))
        for name in SIGNATURES:
            # from_audio's int8 is calibrated on the shards' faces with synthetic speech: shards hold MFCC, not PCM.
            for variant, converted in tflite_variants(staging, name, variants, samples[name]):
                relative = os.path.join("tflite", f"{name}_{variant}.tflite")
                with open(os.path.join(staging, relative), "wb") as handle:
                    handle.write(converted)
                run = TFLiteModel(os.path.join(staging, relative))
                files.append(_measure(staging, relative, variant, name, run, samples[name], keras_outputs[name]))
                steps.update()
    steps.close()
    report = {
        "version": int(os.path.basename(target)),
        "path": target,
        "inputs": f"windows from {calibration}" if calibration else "synthetic windows",
        "fidelity_targets_db": FIDELITY_TARGETS_DB,
        "files": files,
    }
    with open(os.path.join(base, "export_report.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    return report


def _measure(root, relative, kind, signature, run, samples, keras_outputs):
    """Size, batch-1 latency and worst-case PSNR against Keras of one exported file."""
    outputs = [run(**x) for x in samples]
    entry = {
        "file": relative,
        "kind": kind,
        "signature": signature,
        "bytes": _size(os.path.join(root, relative)),
        "latency_ms_batch1": round(_latency_ms(run, samples[0]), 2),
        "psnr_db_vs_keras": round(min(psnr(r, o) for r, o in zip(keras_outputs, outputs)), 2),
    }
    return entry
