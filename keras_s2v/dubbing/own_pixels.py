"""`dub_own_pixels`: dubbing with the mouth rendered from the person's own pixels (keras_s2v.faces.mouth_warp).

The mouth-motion network (keras_s2v.models.mouth_motion) turns the speech into an opening per
frame; the renderer moves a real frame of the person to that opening, at the video's own
resolution. Two passes over a face video: the first tracks the face in every frame (its
landmarks are kept, a few KB a frame, and reused by the second) and chooses the frames whose
mouths the dub will use (`mouth_bank.choose_bank`); the second plays the video forward and
back to cover the speech and renders each frame, streamed through bounded queues as `dub` is.
A still image is its own and only source.
"""

import contextlib
import os
import threading
import time
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from keras_s2v import faces
from keras_s2v.dubbing.engine import DubSummary
from keras_s2v.dubbing.streaming import StageTimer, run_stages
from keras_s2v.errors import ModelError, NoFaceError
from keras_s2v.faces import mouth_bank, mouth_warp
from keras_s2v.faces.landmarks import lip_gap
from keras_s2v.geometry import SAMPLE_RATE, VIDEO_FPS, WINDOW_FRAMES
from keras_s2v.media import audio as audio_lib
from keras_s2v.media import video
from keras_s2v.models.mouth_motion import speech_openings
from keras_s2v.saving import load_model

# Source frames spanning a video's openings and poses (with 24 the boy turned as no source was, and the wall beside a
# source's cheek came onto his: docs/experiments.md), few enough to hold (a crop each); `choose_bank` adds to them a
# shut one at each of their poses (at most as many again, about a third as many on real clips).
BANK_SIZE = 48
# The network's opening 0 gives the closed gap and OPENING_AT_WIDEST the wide one (face heights): for a
# video the clip's own 5th and 95th percentile gaps, for a photo its gap and its gap plus PHOTO_OPEN_RANGE.
CLOSED_PERCENTILE, OPEN_PERCENTILE = 5, 95
# Also the least span of a video's: a silent clip (a drawn character, a listener) never opens its mouth,
# and its own 95th percentile would keep every dub shut. Speaking clips span 0.075-0.085 (docs/experiments.md).
PHOTO_OPEN_RANGE = 0.06
OPENING_AT_WIDEST = 0.6  # the network's opening that a speaker's widest usual opening corresponds to
# How far past that the mouth may open: beyond the clip's own openings the inside is a drawn cavity, no teeth.
MOST_OPEN = 1.2
# Silence is shut: openings under QUIET_OPENING (silence, pauses: over speech the network's openings are
# mostly above it) close further, to the clip's 1st percentile gap at 0. A speaker who talks throughout still shows her
# teeth at her 5th (the 512 close-up's 0.024 face heights), and her silent dub showed them between parted lips.
SHUT_PERCENTILE = 1
QUIET_OPENING = 0.05
BACKEND = "mouth-motion (own pixels)"  # how a DubSummary names this way of dubbing
# Lips move before the sound they make: on real clips the lip gap follows the speech's opening
# best 2 frames (80 ms) early (docs/experiments.md). The synthetic voices have none.
LEAD_FRAMES = 2


def load_motion_model(path):
    """A mouth-motion .keras model, or a one-line FileError / ModelError."""
    model = load_model(path, "mouth-motion")
    if tuple(model.output.shape[1:]) != (WINDOW_FRAMES,) or len(model.inputs) != 1:
        raise ModelError(path, "not a mouth-motion model: expected mfcc (12, 20, 1) -> opening (5,)")
    return model


def is_motion_model(path):
    """Whether `path` is a .keras file whose only input is `mfcc` (a mouth-motion model; a generator also
    takes frames). Read from the file's config, without loading TensorFlow or the weights."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    layers = config.get("config", {}).get("layers", []) if isinstance(config, dict) else []
    return [layer.get("name") for layer in layers if layer.get("class_name") == "InputLayer"] == ["mfcc"]


class LipGaps(NamedTuple):
    """The lip gaps (face heights) a face's dub spans, as `target_gaps` maps the network's openings to them."""

    closed: float  # opening 0 in speech
    widest: float  # opening OPENING_AT_WIDEST
    shut: float  # opening 0 in silence: at most `closed`


def gap_range(gaps, still):
    """The LipGaps of a face video's frames' `gaps` (NaN where no face), or of a photo's one gap."""
    gaps = np.asarray([gap for gap in gaps if np.isfinite(gap)])
    if still:  # a photo at rest is the photo: it shuts no further than it is
        return LipGaps(float(gaps[0]), float(gaps[0]) + PHOTO_OPEN_RANGE, float(gaps[0]))
    closed = float(np.percentile(gaps, CLOSED_PERCENTILE))
    widest = max(float(np.percentile(gaps, OPEN_PERCENTILE)), closed + PHOTO_OPEN_RANGE)
    return LipGaps(closed, widest, float(np.percentile(gaps, SHUT_PERCENTILE)))


def target_gaps(openings, closed, widest, shut):
    """The lip gap of each of the network's `openings` (a face's LipGaps after them): `closed` to `widest` as they
    rise to OPENING_AT_WIDEST, and under QUIET_OPENING down towards `shut` at 0."""
    openings = np.asarray(openings)
    gaps = closed + (widest - closed) * np.clip(openings / OPENING_AT_WIDEST, 0.0, MOST_OPEN)
    return gaps - (closed - shut) * (1.0 - np.clip(openings / QUIET_OPENING, 0.0, 1.0))


def _track(path, detector, info, progress):
    """Landmarks (468, 2) or None for every frame of the face video (or the one of an image) `info` describes."""
    tracker = faces.FaceTracker(detector)
    frames = [(0, video.read_image(path))] if info.is_image else video.FrameSource(path).frames()
    landmarks = []
    bar = tqdm(frames, desc="faces", unit="frame", total=info.num_frames, leave=False, disable=info.is_image or not progress)
    for _, frame in bar:
        face = tracker.update(frame)
        landmarks.append(None if face is None or face.landmarks is None or len(face.landmarks) != 468 else face.landmarks)
    return landmarks


def _exact(detector, frame, tracked):
    """The frame's own mesh, unsmoothed and steadied (`CNNDetector.measure`), where the detector can give it: a
    source's lip gap must be its true one, or every frame drawn from it misses the wanted gap (the tracker's smoothing
    lags, and one crop's mesh reads a shut mouth as ajar)."""
    face = (
        detector.measure(frame, faces.Face(np.r_[tracked.min(axis=0), tracked.max(axis=0)], tracked))
        if hasattr(detector, "measure")
        else None
    )
    return tracked if face is None or face.landmarks is None or len(face.landmarks) != len(tracked) else face.landmarks


def _bank_sources(path, landmarks, is_image, detector, closed_gap):
    """The MouthSources of the frames `mouth_bank.choose_bank` takes."""
    chosen = set(mouth_bank.choose_bank(landmarks, closed_gap, BANK_SIZE))
    frames = [(0, video.read_image(path))] if is_image else video.FrameSource(path).frames()
    return [
        mouth_warp.MouthSource.from_frame(frame, _exact(detector, frame, landmarks[index]), -1 if is_image else index)
        for index, frame in frames
        if index in chosen
    ]


def prepare_face(face, detector="cnn", progress=True):
    """What the renderer needs of a face video or image before any speech: (VideoInfo, landmarks (468, 2) or
    None per source frame, a MouthBank of its own, its LipGaps). Shared with live dubbing
    (keras_s2v.live), so that both draw each frame alike. Raises NoFaceError when no frame has a face.

    Inside `keeping_faces`, the last file prepared with a named detector is kept for the next dub of it."""
    kept = getattr(_kept, "faces", None)
    key = _file_key(face, detector) if kept is not None else None
    prepared = kept.get(key) if key is not None else None
    if prepared is None:
        prepared = _prepare(face, detector, progress)
        if key is not None:
            kept.clear()
            kept[key] = prepared
    info, landmarks, sources, gaps = prepared
    # A new bank each time: it remembers the source it last picked, which a fresh dub must not inherit.
    return info, list(landmarks), mouth_bank.MouthBank(sources), gaps


_kept = threading.local()  # .faces: {_file_key: (info, landmarks, bank sources, gaps)} inside `keeping_faces`


@contextlib.contextmanager
def keeping_faces():
    """Within it, this thread's dubs keep the last face file they prepared (its track and mouth sources): the next
    dub of the same file skips the tracking, about 12 s for 20 s of 1080p (`s2v photo-check --video` dubs one clip
    four ways). A changed file (size or modification time) is prepared again. Nothing is kept once it ends, so a
    server's memory does not hold the last job's face."""
    outer = getattr(_kept, "faces", None)
    if outer is None:
        _kept.faces = {}
    try:
        yield
    finally:
        if outer is None:
            _kept.faces = None


def _file_key(face, detector):
    """What names a prepared face: the file (path, size, modification time) and the detector's name; None
    for a detector object, whose settings a name does not tell."""
    if not isinstance(detector, str):
        return None
    try:
        stat = os.stat(face)
    except OSError:
        return None
    return os.path.realpath(face), stat.st_size, stat.st_mtime_ns, detector


def _prepare(face, detector, progress):
    info = video.probe(face)
    detector = faces.make_detector(detector) if isinstance(detector, str) else detector
    landmarks = _track(face, detector, info, progress)
    if not any(points is not None for points in landmarks):
        raise NoFaceError(face, "no face found in any frame")
    gaps = gap_range([lip_gap(points) if points is not None else np.nan for points in landmarks], info.is_image)
    sources = _bank_sources(face, landmarks, info.is_image, detector, closed_gap=gaps.closed)
    if info.is_image:
        # A photo is its own source, so its frame takes the source's exact mesh: opening 0 then gives back the photo
        # itself. The tracking's mesh read the astronaut's smile 0.012 face heights wider, and every frame of her
        # dub, shut ones too, was drawn open by that (docs/experiments.md).
        landmarks = [sources[0].landmarks + sources[0].offset]
        gaps = gap_range([sources[0].gap], still=True)
    return info, landmarks, sources, gaps


def dub_own_pixels(face, audio, model, out, detector="cnn", progress=True, on_progress=None):
    """Lip-sync `face` (video or image) to `audio` with a mouth-motion model at `model` (a path or a
    loaded model); the mouth comes from the person's own frames. Returns a DubSummary.

    Raises NoFaceError when no frame has a face, MediaError for unreadable media, ModelError for a bad model.
    """
    start = time.perf_counter()
    motion = load_motion_model(model) if isinstance(model, str) else model
    waveform = audio_lib.load_audio(audio)
    num_frames = max(1, int(round(len(waveform) / SAMPLE_RATE * VIDEO_FPS)))

    def wanted(lip_gaps):
        return target_gaps(speech_openings(motion, waveform, num_frames + LEAD_FRAMES)[LEAD_FRAMES:], *lip_gaps)

    return _dub(face, waveform, num_frames, wanted, out, detector, progress, on_progress, start)


def dub_to_lip_gaps(face, audio, lip_gaps, out, detector="cnn", progress=True):
    """`dub_own_pixels` with each frame's lip gap given (face heights; NaN: closed) instead of drawn from the
    speech, one per frame of the output. Dubbed to a clip's own lip gaps, it shows what the renderer makes of
    the right opening, whatever a mouth-motion model would have asked (`s2v photo-check --video`)."""
    start = time.perf_counter()
    lip_gaps = np.asarray(lip_gaps, np.float64)

    def wanted(face_gaps):
        return np.where(np.isfinite(lip_gaps), lip_gaps, face_gaps.closed)

    return _dub(face, audio_lib.load_audio(audio), len(lip_gaps), wanted, out, detector, progress, None, start)


def _dub(face, waveform, num_frames, wanted, out, detector, progress, on_progress, start):
    """Renders `num_frames` frames of `face` to the lip gaps `wanted(LipGaps)` gives, with `waveform`."""
    timer = StageTimer()
    info, landmarks, bank, lip_gaps = prepare_face(face, detector, progress)
    gaps = wanted(lip_gaps)
    timer.add("setup", time.perf_counter() - start)
    if info.is_image:
        image = video.read_image(face)
        source = ((0, image) for _ in range(num_frames))
    else:
        source = video.FrameSource(face).play(num_frames)
    writer = video.VideoWriter(out, info.width, info.height, audio=waveform)
    bar = tqdm(total=num_frames, desc="dub", unit="frame", disable=not progress, leave=False)
    counts = {"written": 0, "faces": 0}

    def render(items):
        for number, (index, frame) in enumerate(items):
            points = landmarks[index]
            if points is None:
                yield frame, False
            else:
                yield bank.render(frame, points, float(gaps[number]), index), True

    def encode(rendered):
        for frame, has_face in rendered:
            writer.write(frame)
            counts["written"] += 1
            counts["faces"] += has_face
            bar.update(1)
            if on_progress:
                on_progress(counts["written"], num_frames)
            yield

    try:
        run_stages(("decode", source), [("rendering", render, 4), ("encoding", encode, 4)], timer=timer)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    return DubSummary(num_frames, counts["faces"], time.perf_counter() - start, BACKEND, dict(timer.busy))
