"""Timing helpers shared by the benchmarks: medians of repeats, the machine's description, FLOPs."""

import os
import platform
import statistics
import time


def median_time(run, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def describe_machine():
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from keras_s2v.precision import BFLOAT16_CPU_FLAGS, cpu_flags

    bfloat16 = sorted(cpu_flags() & BFLOAT16_CPU_FLAGS)
    native = f"with {' and '.join(bfloat16)}" if bfloat16 else "without AVX512-BF16 or AMX"
    return f"{cpu} ({native}), {os.cpu_count()} cores, TensorFlow {tf.__version__}, Python {platform.python_version()}"


def generator_flops(model):
    """Multiply-adds x 2 of the conv, transposed-conv and dense layers for one window."""
    import keras

    from keras_s2v.models.speech2vid import generator_parts

    flops = 0
    for layer in generator_parts(model).core.layers:  # the reference conditioning costs no multiply-adds
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kernel = layer.kernel.shape  # (k, k, out, in), applied at every input position
            height, width = layer.input.shape[1:3]
            flops += 2 * height * width * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        elif isinstance(layer, keras.layers.Conv2D):
            kernel = layer.kernel.shape  # (k, k, in, out), applied at every output position
            height, width = layer.output.shape[1:3]
            flops += 2 * height * width * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    return flops


def matmul_gflops(repeats):
    import tensorflow as tf

    a, b = tf.random.normal((2048, 2048)), tf.random.normal((2048, 2048))
    tf.matmul(a, b).numpy()
    return 2 * 2048**3 / median_time(lambda: tf.matmul(a, b).numpy(), repeats * 3) / 1e9
