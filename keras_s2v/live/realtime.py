"""A speech file streamed through a LiveDubber in real time, as a microphone would give it.

The file is cut into chunks of `chunk_seconds`; chunk n arrives (n + 1) * chunk_seconds after the
start, and is pushed then, or at once if the dubber is still busy with earlier ones (so a slow
dubber sees the speech pile up, as it would from a microphone, and its latency counts from the
chunk's arrival, not from when it got round to it). Used by `s2v live` and the benchmark.
"""

import dataclasses
import time

import numpy as np

from keras_s2v.geometry import SAMPLE_RATE, VIDEO_FPS
from keras_s2v.live.dubber import LiveDubber, LiveStats


@dataclasses.dataclass
class RealtimeResult:
    stats: LiveStats
    seconds: float  # speech streamed, in seconds
    setup_seconds: float  # loading the model and the face, before the stream starts
    first_to_last: float  # wall seconds between the first frame and the last (before the flush)
    frames_in_stream: int  # frames made before the flush: those a viewer saw while the speech ran
    drift_frames: float  # how far the frames fell further behind the speech over the stream (median lag, last fifth - first)
    backend: str
    lookahead: float  # seconds of speech after a frame's middle it waits for, at the first window step

    @property
    def sustained_fps(self):
        return (self.frames_in_stream - 1) / self.first_to_last if self.first_to_last > 0 else float("nan")

    def line(self):
        return (
            f"{self.stats.line()}; {self.sustained_fps:.1f} frames/s sustained over {self.seconds:.1f} s, "
            f"drift {self.drift_frames:+.2f} frames, with the {self.backend} backend"
        )


def _drift(latencies):
    """Frames the lag grew by from the first fifth of the stream to the last: 0 when it keeps up."""
    fifth = max(1, len(latencies) // 5)
    if len(latencies) < 10:
        return 0.0
    return float(np.median(latencies[-fifth:]) - np.median(latencies[:fifth])) * VIDEO_FPS


def stream_file(waveform, face, model, on_frame=None, chunk_seconds=0.02, **options):
    """Stream `waveform` (16 kHz) through a LiveDubber on `face` and `model` in real time; `on_frame(frame)`
    gets each LiveFrame as it comes (it runs on the stream's time: keep it short). `options` go to LiveDubber.
    Returns a RealtimeResult."""
    if chunk_seconds <= 0:
        raise ValueError(f"`chunk_seconds` must be > 0; received {chunk_seconds}")
    clock = time.perf_counter()
    chunk = max(1, int(round(chunk_seconds * SAMPLE_RATE)))
    with LiveDubber(face, model, **options) as dubber:
        setup = time.perf_counter() - clock
        lookahead = dubber.lookahead()
        times, in_stream = [], []
        start = time.perf_counter()
        for offset in range(0, len(waveform), chunk):
            stop = min(offset + chunk, len(waveform))
            arrival = start + stop / SAMPLE_RATE
            wait = arrival - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            for frame in dubber.push(waveform[offset:stop], arrival=arrival):
                times.append(time.perf_counter())
                in_stream.append(frame.latency)
                if on_frame:
                    on_frame(frame)
        for frame in dubber.flush():
            if on_frame:
                on_frame(frame)
        return RealtimeResult(
            dubber.stats,
            len(waveform) / SAMPLE_RATE,
            setup,
            times[-1] - times[0] if len(times) > 1 else 0.0,
            len(times),
            _drift(in_stream),
            dubber.backend,
            lookahead,
        )
