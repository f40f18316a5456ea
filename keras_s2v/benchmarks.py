"""`make bench`: throughput measurements written to BENCHMARKS.md.

These machines are noisy: every figure is the median of several repeats, and
ratios are taken between figures measured in the same run.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _median_time(run, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _machine():
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, Python {platform.python_version()}"


def bench_data(work, repeats=3):
    """Preprocessing speed (workers 1 and 2) and pipeline windows/s against a training step's appetite."""
    import keras
    import numpy as np

    from keras_s2v.data.pipelines import generator_dataset, syncnet_dataset
    from keras_s2v.data.preprocess import preprocess
    from keras_s2v.models import build_speech2vid
    from keras_s2v.synth import write_corpus

    videos = os.path.join(work, "videos")
    speakers, clips, seconds_per_clip = 6, 3, 8.0
    write_corpus(videos, speakers=speakers, seconds=seconds_per_clip, clips_per_speaker=clips, seed=0, progress=False)
    video_seconds = speakers * clips * seconds_per_clip
    lines = [
        "## Data (issue 3)",
        "",
        f"Corpus: {speakers * clips} synthetic clips of {seconds_per_clip:.0f} s ({video_seconds:.0f} s of 256x192 video). "
        "On 2 cores one process already keeps both busy (OpenCV's cascade and TensorFlow's MFCC are multi-threaded) and each extra worker pays TensorFlow's import (about 5 s), so `--workers` pays off on machines with more cores than that.",
        "",
    ]
    lines += ["| preprocessing | face detector | workers | median wall s | video s per wall s |", "|---|---|---|---|---|"]
    shards = None
    for detector in ("sidecar", "haar"):
        for workers in (1, 2):
            def run():
                out = os.path.join(work, f"shards-{detector}-{workers}")
                shutil.rmtree(out, ignore_errors=True)
                preprocess(videos, out, workers=workers, detector=detector, progress=False)
            seconds = _median_time(run, repeats)
            shards = shards or os.path.join(work, f"shards-{detector}-{workers}")
            lines.append(f"| s2v preprocess | {detector} | {workers} | {seconds:.2f} | {video_seconds / seconds:.1f} |")

    batch = 32
    generator = build_speech2vid("small")
    generator.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mae", jit_compile=False)
    inputs = {"mfcc": np.random.randn(batch, 12, 20, 1).astype("float32"), "identity": np.random.rand(batch, 112, 112, 15).astype("float32")}
    target = np.random.rand(batch, 112, 112, 15).astype("float32")
    generator.train_on_batch(inputs, target)
    step = _median_time(lambda: generator.train_on_batch(inputs, target), repeats * 3)
    appetite = batch / step
    lines += [
        "",
        f"A `small` generator training step (L1 only, batch {batch}) consumes **{appetite:.0f} windows/s**; "
        "the full step also runs the frozen SyncNet, so it consumes fewer and the ratios below are lower bounds.",
        "",
        "| dataset | windows/s (median) | x training step's appetite |",
        "|---|---|---|",
    ]
    for name, make in (("syncnet_dataset", syncnet_dataset), ("generator_dataset", generator_dataset)):
        def drain():
            count = 0
            for _, label in make(shards, batch_size=batch):
                count += int(label.shape[0])
            drain.count = count
        seconds = _median_time(drain, repeats)
        rate = drain.count / seconds
        lines.append(f"| {name} | {rate:.0f} | {rate / appetite:.1f}x |")
    return lines


BENCHMARKS = {"data": bench_data}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the keras-s2v benchmarks and write BENCHMARKS.md.")
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only these sections")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {_machine()}. Date: {datetime.date.today().isoformat()}. "
        f"Medians of {args.repeats} repeats (more for short steps); ratios come from one run.",
        "Regenerate with `make bench`.",
        "",
    ]
    work = tempfile.mkdtemp(prefix="s2v-bench-")
    try:
        for name in args.only or BENCHMARKS:
            print(f"benchmark: {name}", flush=True)
            lines += BENCHMARKS[name](os.path.join(work, name), args.repeats) + [""]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
