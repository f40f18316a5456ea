"""`bench live`: speech streamed in real time through a LiveDubber, per backend: the latency of every frame."""

import os

import numpy as np

from keras_s2v.geometry import SAMPLE_RATE
from keras_s2v.lab.benchmarks.dubbing import _moving_photo
from keras_s2v.lab.benchmarks.export import exported
from keras_s2v.speech import formant


def _speech(seconds):
    from keras_s2v.lab import synth

    rng = np.random.default_rng(1)
    waveform, _ = formant.synthesize_speech(formant.random_script(rng, seconds), synth.sample_speaker(1, "test", 0).voice, rng)
    return waveform.astype(np.float32)


def bench_live(work, repeats=1, seconds=300.0, face_seconds=10.0, chunk_seconds=0.02, page_seconds=60.0):
    """Each backend streams `seconds` of speech in `chunk_seconds` chunks, at the pace of the speech, onto a
    `face_seconds` 720p clip that loops; one run each (a run is minutes of frames: `repeats` is not used).
    Then the Live tab, `page_seconds` per model, in headless Chromium with a fake microphone."""
    from keras_s2v.live.dubber import HELD
    from keras_s2v.live.realtime import stream_file
    from keras_s2v.models import build_speech2vid
    from keras_s2v.models.mouth_motion import build_mouth_motion
    from keras_s2v.saving import save_model

    os.makedirs(work, exist_ok=True)
    face = os.path.join(work, "face_720p.mp4")
    _moving_photo(face, face_seconds)
    waveform = _speech(seconds)
    generator = exported(build_speech2vid("small"), work, ("int8",))
    mouth = os.path.join(work, "mouth.keras")
    save_model(build_mouth_motion("small"), mouth)
    models = {
        "generator `small`, SavedModel": generator["SavedModel"],
        "generator `small`, TFLite int8": generator["TFLite int8"],
        "mouth-motion `small`, own pixels": mouth,
    }
    lines = [
        "## Live dubbing: latency per frame",
        "",
        f"`s2v live`'s path (keras_s2v.live.realtime.stream_file): {len(waveform) / SAMPLE_RATE:.0f} s of synthetic speech "
        f"pushed in {1000 * chunk_seconds:.0f} ms chunks at the pace of the speech onto a {face_seconds:.0f} s 1280x720 clip "
        "(skimage's astronaut, face about 100 px, drifting; played forward and back), the `cnn` face detector, window step 1 "
        "at the start and the fallback on. Untrained weights (speed does not depend on them); the generators are the demo's "
        "preset, int8 full-integer calibrated on the synthetic corpus. Latency is from the arrival of the chunk holding a "
        "frame's middle to the frame: at least the lookahead (115 ms for a generator at step 1, 195 ms at step 5; 315 ms "
        "for the own-pixels path) plus the work; held frames (over 1 s late, shown as the frame before) count with their "
        "lateness. Drift is how much the median latency grew from the first fifth of the stream to the last, in frames.",
        "",
        "| model | frames | latency p5 / p50 / p95 / p99 / max ms | frames at step 1 / 2-4 / 5 / held | sustained frames/s | "
        "drift frames | ms per window / per frame |",
        "|---|---|---|---|---|---|---|",
    ]
    loads = [os.getloadavg()[0]]
    for name, model in models.items():
        result = stream_file(waveform, face, model, chunk_seconds=chunk_seconds)
        stats = result.stats
        steps = stats.steps
        middle = sum(count for step, count in steps.items() if 1 < step < 5)
        lines.append(
            f"| {name} | {stats.frames} | "
            + " / ".join(f"{stats.latency(q) * 1000:.0f}" for q in (5, 50, 95, 99, 100))
            + f" | {steps.get(1, 0)} / {middle} / {steps.get(5, 0)} / {steps.get(HELD, 0)} | {result.sustained_fps:.1f} | "
            f"{result.drift_frames:+.2f} | "
            f"{stats.window_cost * 1000:.1f} / {stats.frame_cost * 1000:.1f} |"
        )
        loads.append(os.getloadavg()[0])
    lines += [
        "",
        f"The 1-minute load average read {', '.join(f'{load:.1f}' for load in loads)} before the first run and after each "
        "(2.0 is both cores busy; the live dub's own face thread counts in it). On shared cores the latencies include "
        "waiting for a core.",
        "",
        *_page_section(models, face, waveform, work, page_seconds),
    ]
    return lines


def _page_section(models, face, waveform, work, seconds):
    """The Live tab's own delay figures for each model: the page's `window.liveStats`, read after `seconds`."""
    import librosa
    import soundfile

    from keras_s2v.lab.benchmarks.live_page import chromium_missing, page_delays

    missing = chromium_missing()
    if missing:
        return [f"The Live tab was not measured: {missing}."]
    microphone = os.path.join(work, "microphone.wav")  # the fake microphone plays the same speech, at 48 kHz
    soundfile.write(microphone, librosa.resample(waveform, orig_sr=SAMPLE_RATE, target_sr=48000), 48000)
    lines = [
        f"The Live tab (`s2v web`, 127.0.0.1): headless Chromium with a fake microphone playing the same speech, the "
        f"same clip chosen as the face, {seconds:.0f} s per model after the first frames. The delay is the page's own: "
        "from a piece of speech reaching the page to the frame that shows it on screen (the lookahead, the trip "
        "through the WebSocket, the work and the JPEG decoding).",
        "",
        "| model | frames | delay p5 / p50 / p95 / p99 / max ms | frames/s shown | 1-min load average after |",
        "|---|---|---|---|---|",
    ]
    for name, model in models.items():
        rate, delays = page_delays(model, face, microphone, seconds, os.path.join(work, "web"))
        quantiles = " / ".join(f"{np.percentile(delays, q):.0f}" for q in (5, 50, 95, 99, 100))
        lines.append(f"| {name} | {len(delays)} | {quantiles} | {rate:.1f} | {os.getloadavg()[0]:.1f} |")
    return lines
