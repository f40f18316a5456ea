"""`bench dub`: `s2v dub` on a moving photo at 720p, short and long, and at 1080x1920."""

import functools
import os

from keras_s2v.geometry import SAMPLE_RATE, VIDEO_FPS
from keras_s2v.lab.benchmarks.export import exported
from keras_s2v.speech import formant

LOOP_FRAMES = 25 * 20  # the face's drift repeats every 20 s
HD, PORTRAIT = (1280, 720), (1080, 1920)  # (width, height): the 720p rows, and a phone's full-body 1080p video


def _moving_photo(path, seconds, size=HD, face_px=100):
    """`size` (width, height) 25 fps video of a real photo whose face (`face_px` tall) drifts slowly, under synthetic
    speech of `seconds`; returns the speech's length in frames.

    The drift repeats every 20 s, so one loop is drawn and encoded and a longer video repeats its packets
    (an hour is made in a minute, not a quarter of an hour); the video may run up to a loop past the speech.
    """
    import tempfile

    import numpy as np

    from keras_s2v.lab import synth
    from keras_s2v.media.video import VideoWriter

    rng = np.random.default_rng(0)
    waveform, _ = formant.synthesize_speech(formant.random_script(rng, seconds), synth.sample_speaker(0, "test", 0).voice, rng)
    count = int(round(len(waveform) / SAMPLE_RATE * VIDEO_FPS))
    if count <= LOOP_FRAMES:
        with VideoWriter(path, *size, audio=waveform) as writer:
            for index in range(count):
                writer.write(_drifting_frame(index, face_px, size))
        return count
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as folder:
        loop = os.path.join(folder, "loop.mp4")
        with VideoWriter(loop, *size) as writer:
            for index in range(LOOP_FRAMES):
                writer.write(_drifting_frame(index, face_px, size))
        _repeat_with_audio(loop, -(-count // LOOP_FRAMES), path, waveform)
    return count


@functools.lru_cache(maxsize=1)
def _scene(face_px, size):
    import cv2
    import numpy as np
    import skimage.data

    from keras_s2v.media.photos import PHOTO_FACES

    background = cv2.resize(skimage.data.coffee(), size, interpolation=cv2.INTER_AREA)
    box = np.asarray(PHOTO_FACES["astronaut"], np.float64)
    scale = face_px / (box[3] - box[1])
    photo = cv2.resize(skimage.data.astronaut(), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return background, photo, (box[:2] + box[2:]) / 2 * scale


def _drifting_frame(index, face_px, size):
    import numpy as np

    width, height = size
    background, photo, face_center = _scene(face_px, size)
    phase = 2 * np.pi * index / LOOP_FRAMES  # one slow loop every 20 s, about 15 px/s at 720p
    drift = np.array([120 * np.sin(phase), 60 * np.sin(2 * phase)]) * face_px / 100
    x0, y0 = (np.array([width // 2, 0.46 * height]) + drift - face_center).round().astype(int)
    frame = background.copy()
    xs, ys = max(0, x0), max(0, y0)
    xe, ye = min(width, x0 + photo.shape[1]), min(height, y0 + photo.shape[0])
    frame[ys:ye, xs:xe] = photo[ys - y0 : ye - y0, xs - x0 : xe - x0]
    return frame


def _repeat_with_audio(loop, repeats, out, waveform):
    """`out`: the encoded video of `loop` (which starts with a key frame) `repeats` times over, then `waveform`."""
    import av

    from keras_s2v.media.video import mux_audio

    with av.open(out, "w", format="mp4") as target:
        with av.open(loop) as source:
            video = target.add_stream_from_template(source.streams.video[0])
            period = source.streams.video[0].frames * int(1 / (source.streams.video[0].time_base * VIDEO_FPS))
        audio = target.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"
        for repeat in range(repeats):
            with av.open(loop) as source:  # read afresh: muxing takes the packets
                for packet in source.demux(source.streams.video[0]):
                    if packet.dts is None:  # the demuxer's flush packet
                        continue
                    packet.pts += repeat * period
                    packet.dts += repeat * period
                    packet.stream = video
                    target.mux(packet)
        mux_audio(target, audio, waveform)


_DUB_CHILD = """
import json, sys
from keras_s2v.dubbing.dubber import load_dubber
face, model, out, step, precision = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
dub, _ = load_dubber(model, window_step=step, precision=precision)  # both are a generator's options only
summary = dub(face, face, out, progress=False)
with open("/proc/self/status") as handle:
    peak = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:")) / 1024
print(json.dumps({"frames": summary.frames, "faces": summary.faces_found, "seconds": summary.seconds,
                  "timings": summary.timings, "peak_mb": peak}))
"""


def _dub_in_child(face, model, out, window_step, precision="auto"):
    """Run `dub` in a fresh process: its peak RSS is the engine's alone, TensorFlow's runtime included."""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _DUB_CHILD, face, model, out, str(window_step), precision],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_dub(work, repeats=1, seconds=60.0, long_factor=10):
    """End-to-end streaming `dub` of 720p video with a real face, per backend: x real time, peak RSS, per-stage shares.

    Every generator backend runs with dub's default window step (a window per frame); int8 TFLite also with
    step WINDOW_FRAMES (a fifth of the generator's work); and the mouth-motion model with the person's own pixels."""
    from keras_s2v.dubbing.engine import STAGES
    from keras_s2v.geometry import DEFAULT_WINDOW_STEP, WINDOW_FRAMES
    from keras_s2v.models import build_speech2vid
    from keras_s2v.models.mouth_motion import build_mouth_motion
    from keras_s2v.precision import resolve_precision

    os.makedirs(work, exist_ok=True)
    columns = ("setup", *STAGES[:-1], "rendering", STAGES[-1])  # own pixels renders where a generator generates and blends
    face = os.path.join(work, "face_720p.mp4")
    frames = _moving_photo(face, seconds)
    portrait = os.path.join(work, "face_1080x1920.mp4")
    _moving_photo(portrait, seconds, PORTRAIT, face_px=130)
    generator = build_speech2vid("seed")
    keras_path = os.path.join(work, "seed.keras")
    generator.save(keras_path)
    models = {"Keras": keras_path, **exported(generator, work, ("fp32", "int8"))}
    runs = {name: (face, model, DEFAULT_WINDOW_STEP, "auto") for name, model in models.items()}
    if resolve_precision("auto") != "float32":  # where auto computes in bfloat16, what it gains
        for name in ("Keras", "SavedModel"):
            runs[f"{name}, --precision float32"] = (face, models[name], DEFAULT_WINDOW_STEP, "float32")
    runs[f"TFLite int8, --window-step {WINDOW_FRAMES}"] = (face, models["TFLite int8"], WINDOW_FRAMES, "auto")
    motion_path = os.path.join(work, "mouth_motion.keras")
    build_mouth_motion("small").save(motion_path)
    runs["mouth-motion `small`, own pixels"] = (face, motion_path, DEFAULT_WINDOW_STEP, "auto")
    runs["SavedModel, 1080x1920"] = (portrait, models["SavedModel"], DEFAULT_WINDOW_STEP, "auto")
    runs["mouth-motion `small`, own pixels, 1080x1920"] = (portrait, motion_path, DEFAULT_WINDOW_STEP, "auto")
    lines = [
        "## Dubbing end to end, streaming",
        "",
        f"Input: {frames} frames ({frames / 25:.0f} s) of 1280x720 25 fps video: skimage's astronaut photo, face about 100 px tall, "
        "drifting slowly over a real background, under synthetic speech of the same length (the rows marked 1080x1920: "
        "the same at 1080x1920, a phone's full-body video, with the face 130 px tall); `seed` preset (untrained weights: speed does not depend on them), "
        f"batch 4, window step {DEFAULT_WINDOW_STEP} and `--precision auto` ({resolve_precision('auto')} here) (the defaults) unless the row says otherwise, the `cnn` face detector; TFLite int8 is full-integer, calibrated on windows of the synthetic corpus. Each run is a fresh process (its peak RSS includes TensorFlow's runtime). "
        "The own-pixels row's mouth-motion model is untrained too; its setup also tracks the face in every frame and "
        "chooses the frames its mouths come from, and its rendering picks, warps and blends each frame's mouth. "
        "Setup is loading the model and the audio; the other columns are each stage's busy seconds (time inside the stage, not waiting on its queues) and their share of the wall time; "
        "the stages run concurrently on 2 cores, so the shares add up to more than 100%.",
        "",
        "| backend | wall s | x real time | frames/s | peak RSS MB | frames with a face | " + " | ".join(columns) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(columns),
    ]
    results = {}
    loads = [os.getloadavg()[0]]
    for name, (video, model, step, precision) in runs.items():
        repeated = [_dub_in_child(video, model, os.path.join(work, "out.mp4"), step, precision) for _ in range(repeats)]
        result = results[name] = sorted(repeated, key=lambda run: run["seconds"])[len(repeated) // 2]
        wall = result["seconds"]
        lines.append(
            f"| {name} | {wall:.1f} | {frames / 25 / wall:.2f}x | {frames / wall:.1f} | {result['peak_mb']:.0f} | "
            f"{result['faces'] / result['frames']:.1%} | "
            + " | ".join(
                f"{result['timings'][s]:.1f} ({result['timings'][s] / wall:.0%})" if s in result["timings"] else "-"
                for s in columns
            )
            + " |"
        )
        loads.append(os.getloadavg()[0])
    if long_factor:
        fastest = min((name for name in results if runs[name][0] == face), key=lambda name: results[name]["seconds"])
        long_face = os.path.join(work, "face_720p_long.mp4")
        long_frames = _moving_photo(long_face, seconds * long_factor)
        _, model, step, precision = runs[fastest]
        result = _dub_in_child(long_face, model, os.path.join(work, "out_long.mp4"), step, precision)
        lines += [
            "",
            f"Memory against length, {fastest}: {frames / 25:.0f} s peaks at {results[fastest]['peak_mb']:.0f} MB, "
            f"{long_frames / 25:.0f} s ({long_factor}x longer) at {result['peak_mb']:.0f} MB "
            f"({long_frames / 25 / result['seconds']:.2f}x real time). Holding the decoded {long_frames / 25:.0f} s would take "
            f"{long_frames * 1280 * 720 * 3 / 2**20:.0f} MB.",
        ]
        loads.append(os.getloadavg()[0])
    lines += [
        "",
        f"The 1-minute load average read {', '.join(f'{load:.1f}' for load in loads)} before the first run and after each one "
        "(2.0 is both cores busy; the dub's own stage threads count in it, so a load above 2 after a run does not by itself "
        "mean other work shared the cores). Stage busy times include waiting for a core.",
    ]
    return lines
