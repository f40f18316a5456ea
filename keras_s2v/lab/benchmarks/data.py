"""`bench data`: the tf.data input pipelines."""

import itertools
import os
import shutil

from keras_s2v.geometry import IDENTITY_SHAPE, MFCC_SHAPE
from keras_s2v.lab.benchmarks.timing import median_time


def bench_data(work, repeats=3):
    """Preprocessing speed (workers 1 and 2) and pipeline windows/s against a training step's appetite."""
    import keras
    import numpy as np

    from keras_s2v.data.datasets import generator_dataset, syncnet_dataset
    from keras_s2v.data.preprocess import preprocess
    from keras_s2v.lab.synth.corpus import write_corpus
    from keras_s2v.models import build_speech2vid

    videos = os.path.join(work, "videos")
    speakers, clips, seconds_per_clip = 6, 3, 8.0
    write_corpus(videos, speakers=speakers, seconds=seconds_per_clip, clips_per_speaker=clips, seed=0, progress=False)
    video_seconds = speakers * clips * seconds_per_clip
    lines = [
        "## Data: the tf.data input pipelines",
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

            seconds = median_time(run, repeats)
            shards = shards or os.path.join(work, f"shards-{detector}-{workers}")
            lines.append(f"| s2v preprocess | {detector} | {workers} | {seconds:.2f} | {video_seconds / seconds:.1f} |")

    batch = 32
    generator = build_speech2vid("small")
    generator.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mae", jit_compile=False)
    inputs = {
        "mfcc": np.random.randn(batch, *MFCC_SHAPE).astype("float32"),
        "identity": np.random.rand(batch, *IDENTITY_SHAPE).astype("float32"),
        "reference": np.random.rand(batch, *IDENTITY_SHAPE).astype("float32"),
    }
    target = np.random.rand(batch, *IDENTITY_SHAPE).astype("float32")
    generator.train_on_batch(inputs, target)
    step = median_time(lambda: generator.train_on_batch(inputs, target), repeats * 3)
    appetite = batch / step
    lines += [
        "",
        f"A `small` generator training step (L1 only, batch {batch}) consumes **{appetite:.0f} windows/s**; "
        "the full step also runs the frozen SyncNet, so it consumes fewer and the ratios below are lower bounds.",
        "",
        "| dataset | windows/s (median) | x training step's appetite |",
        "|---|---|---|",
    ]
    # Augmentation runs on the cores the training step needs, so its cost slows training itself.
    for make, augmented in itertools.product((syncnet_dataset, generator_dataset), (False, True)):
        name = make.__name__ + (", augmented" if augmented else "")

        def drain():
            count = 0
            for _, label in make(shards, batch_size=batch, augment_frames=augmented):
                count += int(label.shape[0])
            drain.count = count

        seconds = median_time(drain, repeats)
        rate = drain.count / seconds
        lines.append(f"| {name} | {rate:.0f} | {rate / appetite:.1f}x |")
    return lines
