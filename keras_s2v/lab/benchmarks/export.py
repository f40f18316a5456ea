"""`bench export`: the exported SavedModel and TFLite variants."""

import os

from keras_s2v.geometry import IDENTITY_SHAPE, MFCC_SHAPE
from keras_s2v.lab.benchmarks.timing import generator_flops, matmul_gflops, median_time


def calibration_shards(work):
    """Shards of a small synthetic corpus, whose windows calibrate the int8 variant."""
    from keras_s2v.data.preprocess import preprocess
    from keras_s2v.lab.synth.corpus import write_corpus

    write_corpus(os.path.join(work, "calibration"), speakers=3, seconds=2.0, clips_per_speaker=1, seed=0, progress=False)
    preprocess(os.path.join(work, "calibration"), os.path.join(work, "calibration-shards"), detector="sidecar", progress=False)
    return os.path.join(work, "calibration-shards")


def exported(generator, work, variants):
    """`generator` exported under work/speech2vid with the TFLite `variants` (int8 calibrated on
    `calibration_shards`): {"SavedModel": folder, "TFLite VARIANT": file, ...}."""
    from keras_s2v.export import export

    report = export(
        generator,
        os.path.join(work, "speech2vid"),
        version=1,
        variants=variants,
        calibration=calibration_shards(work),
        progress=False,
    )
    tflite = os.path.join(report["path"], "tflite")
    return {
        "SavedModel": report["path"],
        **{f"TFLite {v}": os.path.join(tflite, f"serving_default_{v}.tflite") for v in variants},
    }


def bench_export(work, repeats=3):
    """Latency, frames/s and PSNR against Keras of each runtime at batch 1 and 8, and achieved GFLOP/s against a matmul."""
    import numpy as np

    from keras_s2v.dubbing.backends import KerasBackend, SavedModelBackend, TFLiteBackend
    from keras_s2v.export import export
    from keras_s2v.models import build_speech2vid

    os.makedirs(work, exist_ok=True)
    matmul = matmul_gflops(repeats)
    lines = [
        "## Export and runtimes: SavedModel, TFLite, LiteRT",
        "",
        f"A 2048x2048 fp32 matmul reaches **{matmul:.0f} GFLOP/s** on these cores in this run. "
        "Latency is per call; frames/s counts the 5 output frames of each window. TFLite files take a fixed batch of 1 "
        "(a batch of 8 is 8 calls); int8 is full-integer, calibrated on windows of the synthetic corpus. "
        "PSNR is the worst of 16 windows against Keras (export_report.json; untrained weights).",
        "",
        "| preset | runtime | batch | latency ms | frames/s | GFLOP/s | of matmul | PSNR dB vs Keras |",
        "|---|---|---|---|---|---|---|---|",
    ]
    calibration = calibration_shards(work)
    rng = np.random.default_rng(0)
    for preset in ("seed", "small"):
        generator = build_speech2vid(preset)
        flops = generator_flops(generator)
        keras_path = os.path.join(work, f"{preset}.keras")
        generator.save(keras_path)
        report = export(generator, os.path.join(work, preset), version=1, calibration=calibration, progress=False)
        fidelity = {
            entry["kind"]: entry["psnr_db_vs_keras"] for entry in report["files"] if entry["signature"] == "serving_default"
        }
        tflite = os.path.join(report["path"], "tflite")
        runtimes = [("Keras", None, KerasBackend(keras_path)), ("SavedModel", "savedmodel", SavedModelBackend(report["path"]))]
        runtimes += [
            (f"TFLite {v}", v, TFLiteBackend(os.path.join(tflite, f"serving_default_{v}.tflite")))
            for v in ("fp32", "fp16", "int8")
        ]
        for name, kind, backend in runtimes:
            psnr = f"{fidelity[kind]:.1f}" if kind else "reference"
            for batch in (1, 8):
                mfcc = rng.standard_normal((batch, *MFCC_SHAPE)).astype("float32")
                identity, reference = rng.random((2, batch, *IDENTITY_SHAPE)).astype("float32")
                backend(mfcc, identity, reference)
                seconds = median_time(lambda: backend(mfcc, identity, reference), repeats * 3)
                gflops = flops * batch / seconds / 1e9
                lines.append(
                    f"| {preset} | {name} | {batch} | {1000 * seconds:.1f} | {5 * batch / seconds:.0f} | {gflops:.1f} | {gflops / matmul:.0%} | {psnr} |"
                )
        lines.insert(
            3, f"The `{preset}` generator costs {flops / 1e9:.2f} GFLOP per window ({flops / 5e9:.2f} per output frame)."
        )
    return lines
