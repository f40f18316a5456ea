"""`bench soak`: one long 720p video dubbed in one run; is memory flat and time linear in the length?

The dub runs in a fresh process that reads its own resident memory every few seconds of video from
its progress callback, so the figures are the engine's over the whole run, not just its peak.
"""

import os

from keras_s2v.geometry import VIDEO_FPS
from keras_s2v.lab.benchmarks.dubbing import _moving_photo
from keras_s2v.lab.benchmarks.export import exported

_SOAK_CHILD = """
import json, os, sys, time
from keras_s2v.dubbing.engine import dub

face, model, out, step, every = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
samples, start = [], time.perf_counter()

def on_progress(done, total):
    if done % every == 0 or done == total:
        with open("/proc/self/status") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        mb = [int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")]
        samples.append((done, time.perf_counter() - start, *mb, os.getloadavg()[0]))

summary = dub(face, face, model, out, window_step=step, progress=False, on_progress=on_progress)
print(json.dumps({"samples": samples, "seconds": summary.seconds, "frames": summary.frames, "faces": summary.faces_found}))
"""


def _dub_sampled(face, model, out, window_step, every):
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _SOAK_CHILD, face, model, out, str(window_step), str(every)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def linearity(samples):
    """(frames/s of the straight line through wall time against frames after the first tenth, the
    largest distance of a sample from that line as a share of the run's wall time)."""
    import numpy as np

    frames, wall = (np.array([sample[i] for sample in samples], np.float64) for i in (0, 1))
    kept = frames >= frames[-1] / 10  # the first tenth holds the start-up: model, audio, first faces
    slope, intercept = np.polyfit(frames[kept], wall[kept], 1)
    return 1.0 / slope, float(np.abs(wall[kept] - (slope * frames[kept] + intercept)).max() / wall[-1])


def bench_soak(work, repeats=1, minutes=60.0):
    """Dub `minutes` of 720p (TFLite int8, window step 5: the fastest way) once; report memory and pace by tenths.

    `repeats` is ignored: one run of this length is the measurement."""
    from keras_s2v.geometry import WINDOW_FRAMES
    from keras_s2v.models import build_speech2vid

    os.makedirs(work, exist_ok=True)
    face = os.path.join(work, "face_720p_soak.mp4")
    frames = _moving_photo(face, 60.0 * minutes)
    model = exported(build_speech2vid("seed"), work, ("int8",))["TFLite int8"]
    every = max(VIDEO_FPS, frames // 100)
    result = _dub_sampled(face, model, os.path.join(work, "soak.mp4"), WINDOW_FRAMES, every)
    samples = result["samples"]
    fps, deviation = linearity(samples)
    tenths = [next(s for s in samples if s[0] >= frames * k / 10) for k in range(1, 11)]
    lines = [
        "## Soak: one long dub",
        "",
        f"Input: {frames} frames ({frames / VIDEO_FPS / 60:.1f} min) of the dub section's 1280x720 moving photo under synthetic speech "
        f"of the same length, dubbed in one run with the `seed` preset as TFLite int8 and `--window-step {WINDOW_FRAMES}`, in a fresh "
        f"process that read its resident memory every {every} frames. `python -m keras_s2v.lab.benchmarks --only soak --soak-minutes M` "
        "sets the length (60 by default).",
        "",
        "| video done | frames | wall s | frames/s in this tenth | RSS MB | peak RSS MB so far | 1-min load average |",
        "|---|---|---|---|---|---|---|",
    ]
    previous = (0, 0.0)
    for done, wall, rss, peak, load in tenths:
        pace = (done - previous[0]) / max(wall - previous[1], 1e-9)
        lines.append(f"| {done / frames:.0%} | {done} | {wall:.0f} | {pace:.1f} | {rss:.0f} | {peak:.0f} | {load:.1f} |")
        previous = (done, wall)
    # The last sample comes after the stages have let go of their queues: it is the floor, not the run.
    rss = [sample[2] for sample in samples[:-1] if sample[0] >= frames / 10]
    lines += [
        "",
        f"Memory: from the first tenth to the last frame the resident memory stayed between {min(rss):.0f} and {max(rss):.0f} MB "
        f"(peak {samples[-1][3]:.0f} MB over the run, {samples[-1][2]:.0f} MB once the stages had finished); holding the decoded video would take {frames * 1280 * 720 * 3 / 2**20:,.0f} MB. "
        f"Time: {result['seconds']:.0f} s in all ({frames / VIDEO_FPS / result['seconds']:.2f}x real time); from the first tenth on, "
        f"wall time against frames is a straight line of {fps:.1f} frames/s from which no sample is more than {deviation:.1%} "
        f"of the run's wall time away. Faces found in {result['faces'] / result['frames']:.1%} of the frames. "
        "The load average is the machine's (2.0 is both cores busy, the dub's own threads included): a tenth that ran slower "
        "while other work shared the cores shows it there.",
    ]
    return lines
