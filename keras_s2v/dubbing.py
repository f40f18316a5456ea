"""`dub(face, audio, model, out)`: a face video or still image lip-synced to new speech.

For each 0.2 s window: track the face, build mfcc and identity, generate in batches,
paste the mouth and jaw back through a soft mask. Frames without a face pass
through unchanged. The output is an H.264 + AAC mp4 at the input's resolution carrying the
new audio, as long as the audio, written to a temporary file and renamed at the end.
"""

import dataclasses
import time

import numpy as np
from tqdm.auto import tqdm

from keras_s2v import audio as audio_lib
from keras_s2v import faces, video
from keras_s2v.audio import VIDEO_FPS, WINDOW_FRAMES
from keras_s2v.backends import generate, load_backend
from keras_s2v.errors import MediaError
from keras_s2v.windows import stack_frames, unstack_frames


@dataclasses.dataclass
class DubSummary:
    frames: int
    faces_found: int
    seconds: float
    backend: str
    timings: dict

    @property
    def frames_per_second(self):
        return self.frames / max(self.seconds, 1e-9)

    def line(self):
        return (f"{self.frames} frames, face found in {self.faces_found} ({self.frames - self.faces_found} passed through unchanged), "
                f"{self.frames_per_second:.1f} frames/s with the {self.backend} backend")


def ping_pong(count, length):
    """Indices 0..count-1 played forward, then backward, ... until `length` frames."""
    if count == 1:
        return np.zeros(length, np.int64)
    cycle = np.concatenate([np.arange(count), np.arange(count - 2, 0, -1)])
    return cycle[np.arange(length) % len(cycle)]


def _windows_mfcc(waveform, num_frames):
    """(W, 12, 20, 1) MFCC of the ceil(num_frames / 5) windows; the audio is padded with silence."""
    windows = -(-num_frames // WINDOW_FRAMES)
    needed = 640 * WINDOW_FRAMES * (windows - 1) + audio_lib.WINDOW_SAMPLES
    padded = np.pad(waveform, (0, max(0, needed - len(waveform))))
    return audio_lib.mfcc_windows(audio_lib.mfcc(padded), WINDOW_FRAMES * np.arange(windows))


def dub(face, audio, model, out, detector="cnn", batch_size=8, progress=True, on_progress=None):
    """Lip-sync `face` (video or image) to `audio` (audio file or video) with a generator at `model`.

    `on_progress(frames_done, frames_total)`, if given, is called after each written frame.
    Returns a DubSummary. Raises NoFaceError when no frame has a face, MediaError for audio
    without samples or an output folder that does not exist, ModelError for a bad model.
    """
    timings = dict.fromkeys(("decode", "face detection", "features", "generation", "blending", "encoding"), 0.0)
    start = clock = time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        timings[stage] += now - clock
        clock = now

    backend = load_backend(model)
    waveform = audio_lib.load_audio(audio)
    num_frames = max(1, int(round(len(waveform) / audio_lib.SAMPLE_RATE * VIDEO_FPS)))
    source = video.read_frames(face)
    if len(source) == 0:
        raise MediaError(face, "no video frames")
    height, width = source.shape[1:3]
    writer = video.VideoWriter(out, width, height, audio=waveform)  # checks the output folder before the work
    try:
        lap("decode")
        found = faces.track_faces(source, faces.make_detector(detector))
        faces.require_faces(found, face)
        crops = np.zeros((len(source), faces.CROP_SIZE, faces.CROP_SIZE, 3), np.uint8)
        alignments = [None] * len(source)
        for index, found_face in enumerate(found):
            if found_face is not None:
                crops[index], alignments[index] = faces.crop_face(source[index], found_face)
        order = ping_pong(len(source), num_frames)  # loop the face video forward and back to cover the audio
        has_face = np.array([found[index] is not None for index in order])
        lap("face detection")

        mfcc = _windows_mfcc(waveform, num_frames)
        # The last window is filled up by repeating the last frame; its extra outputs are dropped.
        padded = np.concatenate([order, order[-1:].repeat(len(mfcc) * WINDOW_FRAMES - len(order))])
        identity = stack_frames(crops[padded].reshape(len(mfcc), WINDOW_FRAMES, 112, 112, 3)).numpy().astype(np.float32) / 255.0
        lap("features")

        bar = tqdm(total=num_frames, desc="dub", unit="frame", disable=not progress, leave=False)
        for first in range(0, len(mfcc), batch_size):
            generated = generate(backend, mfcc[first : first + batch_size], identity[first : first + batch_size], batch_size)
            generated = (unstack_frames(generated).numpy().reshape(-1, 112, 112, 3) * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
            lap("generation")
            for offset, crop in enumerate(generated):
                index = first * WINDOW_FRAMES + offset
                if index >= num_frames:
                    break
                frame = source[order[index]]
                if has_face[index]:
                    frame = faces.paste_face(frame, crop, alignments[order[index]], found[order[index]])
                lap("blending")
                writer.write(frame)
                lap("encoding")
                bar.update(1)
                if on_progress:
                    on_progress(index + 1, num_frames)
        bar.close()
        writer.close()
        lap("encoding")
    except BaseException:
        writer.abort()
        raise
    return DubSummary(num_frames, int(has_face.sum()), time.perf_counter() - start, backend.name, timings)
