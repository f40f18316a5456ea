"""Tiny media files made on the fly for the tests, and the `s2v` command runner."""

import fractions
import os
import subprocess
import sys

import av
import numpy as np
import soundfile


def speech_like(seconds=1.0, sr=16000, seed=0):
    """A voiced buzz through moving formants, with pauses: enough structure for MFCC tests."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    pitch = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    source = np.sign(np.sin(2 * np.pi * np.cumsum(pitch) / sr))
    formant = 500 + 400 * np.sin(2 * np.pi * 2.0 * t)
    voiced = source * np.sin(2 * np.pi * np.cumsum(formant) / sr)
    envelope = (np.sin(2 * np.pi * 3.0 * t) > -0.3).astype(float)
    return (0.3 * voiced * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def write_audio(path, waveform, sr=16000, channels=1):
    data = np.stack([waveform] * channels, axis=1) if channels > 1 else waveform
    soundfile.write(str(path), data, sr)
    return path


def write_raw_wav(path, samples, rate=16000, channels=1):
    """`fuzz.seeds.raw_wav` written to `path`: any header, any samples."""
    from fuzz.seeds import raw_wav

    with open(path, "wb") as handle:
        handle.write(raw_wav(samples, rate, channels))
    return path


def index_frame(index, size=(64, 96)):
    """A frame whose brightness encodes its index (decoded by `frame_index`)."""
    return np.full((*size, 3), 10 + 4 * index, np.uint8)


def frame_index(frame):
    return int(round((float(frame.mean()) - 10) / 4))


def make_video(path, fps=25, num_frames=25, size=(64, 96), audio=None, sr=16000, times=None, frames=None, keyframe_every=None):
    """An H.264 mp4; `times` (seconds per frame) gives a variable frame rate."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", **({"g": str(keyframe_every)} if keyframe_every else {})}
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
        if audio is not None:
            audio_stream = container.add_stream("aac", rate=sr)
            audio_stream.layout = "mono"
        for i in range(num_frames):
            image = frames[i] if frames is not None else index_frame(i, size)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = int(round(1000 * (times[i] if times is not None else i / fps)))
            frame.time_base = fractions.Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            for offset in range(0, len(audio), 1024):
                chunk = av.AudioFrame.from_ndarray(audio[None, offset : offset + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = sr, offset
                container.mux(audio_stream.encode(chunk))
            container.mux(audio_stream.encode(None))
    return path


def s2v(*args, timeout=300):
    """Run the `s2v` command in a subprocess; returns the CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the CLI must silence TF itself
    return subprocess.run(
        [sys.executable, "-m", "keras_s2v", *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )


def ping_pong(count, length):
    """Indices 0..count-1 played forward, then backward, ... until `length` frames."""
    if count == 1:
        return np.zeros(length, np.int64)
    cycle = np.concatenate([np.arange(count), np.arange(count - 2, 0, -1)])
    return cycle[np.arange(length) % len(cycle)]
