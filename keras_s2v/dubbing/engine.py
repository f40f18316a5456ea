"""`dub(face, audio, model, out)`: a face video or still image lip-synced to new speech.

The work streams through stages joined by bounded queues (keras_s2v.dubbing.streaming), so memory
does not grow with the length of the video and the slowest stage sets the pace:

    decode -> face detection -> features -> generation -> blending -> encoding

decode plays the face video forward and back to cover the audio (video.FrameSource);
face detection tracks the face causally (faces.FaceTracker) and crops it; features
picks each frame's reference (windows.pick_reference: a crop of the same video
REFERENCE_GAP frames away in the source, never closer than MIN_REFERENCE_GAP, the image
itself for a still) and groups 5-frame windows (one every `window_step` frames, windows.window_plan)
into batches with their MFCC; generation runs the backend and keeps each window's middle frames;
blending pastes the mouth and jaw back through a soft mask; encoding writes an H.264 +
AAC mp4 to a temporary file renamed at the end. Frames without a face pass through unchanged.
"""

import collections
import dataclasses
import itertools
import time
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from keras_s2v import faces
from keras_s2v.dubbing.backends import load_backend
from keras_s2v.dubbing.streaming import StageTimer, run_stages
from keras_s2v.errors import NoFaceError
from keras_s2v.geometry import (
    DEFAULT_WINDOW_STEP,
    FACE_SIZE,
    FRAME_CHANNELS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    VIDEO_FPS,
    WINDOW_FRAMES,
    WINDOW_SAMPLES,
)
from keras_s2v.media import audio as audio_lib
from keras_s2v.media import video
from keras_s2v.windows import REFERENCE_REACH, pick_reference, unstack_frames, window_plan

STAGES = ("decode", "face detection", "features", "generation", "blending", "encoding")


@dataclasses.dataclass
class DubSummary:
    frames: int
    faces_found: int
    seconds: float
    backend: str
    timings: (
        dict  # setup (model, audio) and the busy seconds of each stage; stages overlap, so they add up to more than `seconds`
    )

    @property
    def frames_per_second(self):
        return self.frames / max(self.seconds, 1e-9)

    def line(self):
        return (
            f"{self.frames} frames, face found in {self.faces_found} ({self.frames - self.faces_found} passed through unchanged), "
            f"{self.frames_per_second:.1f} frames/s with the {self.backend} backend"
        )


def _windows_mfcc(waveform, starts, chunk=500):
    """(len(starts), NUM_MFCC, WINDOW_STEPS, 1) MFCC of the windows that start at the video frames
    `starts` (ascending); the audio is padded with silence.

    Computed `chunk` windows at a time: the MFCC's intermediate tensors of a whole long audio
    would cost hundreds of MB. Window starts are whole frames, SAMPLES_PER_FRAME samples (4
    hops) apart, so each chunk's framing lines up with the whole waveform's and the result is the same.
    """
    starts = np.asarray(starts, np.int64)
    needed = SAMPLES_PER_FRAME * int(starts[-1]) + WINDOW_SAMPLES
    padded = np.pad(waveform, (0, max(0, needed - len(waveform))))
    pieces = []
    for first in range(0, len(starts), chunk):
        part = starts[first : first + chunk]
        samples = padded[SAMPLES_PER_FRAME * part[0] : SAMPLES_PER_FRAME * part[-1] + WINDOW_SAMPLES]
        pieces.append(audio_lib.mfcc_windows(audio_lib.mfcc(samples), part - part[0]))
    return np.concatenate(pieces)


# --------------------------------------------------------------------------- stages
@dataclasses.dataclass
class _Batch:
    frames: list  # (frame, face, crop, alignment, source index) per output frame
    picks: tuple  # (window, frame within it) of the generated frame for each output frame
    mfcc: np.ndarray = None
    identity: np.ndarray = None
    reference: np.ndarray = None
    generated: np.ndarray = None


def find_face(indexed_frame, tracker):
    """(frame, face, crop, alignment, source index); a black crop where there is no face."""
    index, frame = indexed_frame
    face = tracker.update(frame)
    if face is None:
        return frame, None, np.zeros((FACE_SIZE, FACE_SIZE, FRAME_CHANNELS), np.uint8), None, index
    return frame, face, *faces.crop_face(frame, face), index


def with_references(items):
    """Yields (item, reference crop), the reference picked among the REFERENCE_REACH frames played on either side.

    Only the crops of frames already passed on are kept, and REFERENCE_REACH frames are read
    ahead, so memory stays flat however long the video plays.
    """
    behind, ahead = collections.deque(maxlen=REFERENCE_REACH), collections.deque()

    def emit():
        item = ahead.popleft()
        nearby = [*behind, *((source, face is not None, crop) for _, face, crop, _, source in (item, *ahead))]
        pick = pick_reference([source if has_face else None for source, has_face, _ in nearby], len(behind))
        behind.append(nearby[len(behind)])
        return item, nearby[pick][2]

    for item in items:
        ahead.append(item)
        if len(ahead) > REFERENCE_REACH:
            yield emit()
    while ahead:
        yield emit()


def stack_window(crops):
    """One (H, W, WINDOW_CHANNELS) float32 window from up to WINDOW_FRAMES crops, filled up by repeating the last one.

    The layout of windows.stack_frames, in NumPy: a TensorFlow call per window cost 7 ms, most
    of the features stage when a window starts at every frame.
    """
    crops = np.stack(crops + [crops[-1]] * (WINDOW_FRAMES - len(crops)))
    return crops.transpose(1, 2, 0, 3).reshape(*crops.shape[1:3], -1).astype(np.float32) / 255.0


def _batch_windows(pairs, mfcc, plan, batch_size):
    """Group (item, reference crop) pairs into batches of `batch_size` windows of `plan`
    (keras_s2v.windows.window_plan), with their MFCC and generator inputs.

    Only the frames that a window still to come needs are kept, so memory stays flat.
    """
    starts, outputs = plan
    pairs, buffer, received = iter(pairs), {}, 0
    for first in range(0, len(starts), batch_size):
        chosen = range(first, min(first + batch_size, len(starts)))
        while received < starts[chosen[-1]] + WINDOW_FRAMES and (pair := next(pairs, None)) is not None:
            buffer[received], received = pair, received + 1
        chosen = [window for window in chosen if starts[window] < received]  # all, unless the stream ended early
        if not chosen:
            return
        items, picks, identity, reference = [], [], [], []
        for number, window in enumerate(chosen):
            # A window past the end of the stream is filled up by repeating its last frame; its extra outputs are dropped.
            frames = [buffer[index] for index in range(starts[window], min(starts[window] + WINDOW_FRAMES, received))]
            identity.append(stack_window([item[2] for item, _ in frames]))
            reference.append(stack_window([crop for _, crop in frames]))
            for index in range(outputs[window][0], min(outputs[window][1], received)):
                items.append(buffer[index][0])
                picks.append((number, index - starts[window]))
        if items:
            yield _Batch(items, tuple(zip(*picks)), mfcc[first : first + len(chosen)], np.stack(identity), np.stack(reference))
        following = chosen[-1] + 1
        if following < len(starts):  # a window never gives a frame before its start
            buffer = {index: pair for index, pair in buffer.items() if index >= starts[following]}


def to_uint8(generated: np.ndarray) -> np.ndarray:
    """The generator's [0, 1] frames as `dub` writes them: uint8, rounded half up."""
    return (np.asarray(generated) * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


def _generate(batches, backend):
    for batch in batches:
        generated = unstack_frames(backend(batch.mfcc, batch.identity, batch.reference)).numpy()
        batch.generated = to_uint8(generated[batch.picks])
        yield batch


def _blend(batches, keep_above_lips=True):
    """Paste the generated lower faces back: yields (frame, has a face), letting go of each source frame as it goes."""
    for batch in batches:
        items, batch.frames = batch.frames, None
        for index in range(len(items)):
            (frame, face, _, alignment, _), items[index] = items[index], None
            if face is not None:
                frame = faces.paste_face(frame, batch.generated[index], alignment, face, keep_above_lips=keep_above_lips)
            yield frame, face is not None


def dub(
    face: str,
    audio: str,
    model,
    out: str,
    detector: str = "cnn",
    batch_size: int = 4,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    window_step: int = DEFAULT_WINDOW_STEP,
    keep_above_lips: bool = True,
    precision: str = "auto",
) -> DubSummary:
    """Lip-sync `face` (video or image) to `audio` (audio file or video) with a generator at `model`.

    `model` may also be a backend already loaded (`keras_s2v.backends.load_backend`).
    A generator window runs every `window_step` frames and gives its middle frames
    (keras_s2v.windows.window_plan): 1 draws every frame from the window centred on it (the
    mouth on time frame by frame), 5 takes all 5 frames of a window (a fifth of the generator's
    work). `batch_size` is windows per generator call. With landmarks (the cnn detector) the source
    is kept above the upper lip's top edge; `keep_above_lips=False` pastes the whole lower face
    (`faces.paste_face`). `precision` is what a .keras generator computes in (keras_s2v.precision).
    `on_progress(frames written, frames in all)` is called after each frame, e.g. by `s2v web`.
    Returns a DubSummary. Raises NoFaceError when no frame has a face, MediaError for audio
    without samples or an output folder that does not exist, ModelError for a bad model.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be at least 1; received {batch_size}")
    start = time.perf_counter()
    backend = load_backend(model, precision)
    waveform = audio_lib.load_audio(audio)
    num_frames = max(1, int(round(len(waveform) / SAMPLE_RATE * VIDEO_FPS)))
    info = video.probe(face)
    tracker = faces.FaceTracker(faces.make_detector(detector) if isinstance(detector, str) else detector)
    timer = StageTimer()
    timer.add("setup", time.perf_counter() - start)
    clock = time.perf_counter()
    plan = window_plan(num_frames, window_step)
    mfcc = _windows_mfcc(waveform, plan[0])
    timer.add("features", time.perf_counter() - clock)
    if info.is_image:  # detected and cropped once
        still = find_face((0, video.read_image(face)), tracker)
        if still[1] is None:
            raise NoFaceError(face, "no face found in any frame")
        source, find_faces = itertools.repeat(still[0], num_frames), lambda frames: (still for _ in frames)
    else:
        source, find_faces = (
            video.FrameSource(face).play(num_frames),
            lambda frames: (find_face(frame, tracker) for frame in frames),
        )
    writer = video.VideoWriter(out, info.width, info.height, audio=waveform)  # checks the output folder before the work
    faces_found = written = 0
    bar = None  # shown from the first face on, so that a video without one fails with its one-line error alone

    def encode(blended):
        nonlocal faces_found, written, bar
        for frame, has_face in blended:
            writer.write(frame)
            faces_found, written = faces_found + has_face, written + 1
            if bar is None and faces_found:
                bar = tqdm(total=num_frames, initial=written - 1, desc="dub", unit="frame", disable=not progress, leave=False)
            if bar is not None:
                bar.update(1)
            if on_progress:
                on_progress(written, num_frames)
            yield

    try:
        # Queue sizes, in frames or batches (of up to 5 x batch_size frames): frames in flight are what costs memory.
        run_stages(
            ("decode", source),
            [
                ("face detection", find_faces, 2),
                ("features", lambda items: _batch_windows(with_references(items), mfcc, plan, batch_size), 2),
                ("generation", lambda batches: _generate(batches, backend), 1),
                ("blending", lambda batches: _blend(batches, keep_above_lips), 1),
                ("encoding", encode, 4),
            ],
            timer=timer,
        )
        if faces_found == 0:
            raise NoFaceError(face, "no face found in any frame")
        clock = time.perf_counter()
        writer.close()
        timer.add("encoding", time.perf_counter() - clock)
    except BaseException:
        writer.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    timings = {stage: timer.busy[stage] for stage in ("setup", *STAGES)}
    return DubSummary(num_frames, faces_found, time.perf_counter() - start, backend.name, timings)
