"""Dubbing a real talking video three ways, and measuring what a viewer would see in its mouth.

A still photo cannot tell whether a dub leaks: a video's mouth already moves. So the clip is
dubbed with its own speech, with other speech and with silence, and each dub is compared with
the source by the face mesh run on every frame (keras_s2v.evaluation.video_measures):

- own speech: the dubbed lip gap should follow the real one (`gap_r`);
- other speech: nothing of the original mouth's motion should remain (`gap_r` near 0), yet the
  mouth should move as much as a speaker's does (`gap_std_ratio`);
- silence: the mouth should stay still (`gap_std_ratio` near 0). A clip with no speech of its own
  (a drawn character, a listener) barely moves its mouth, and what the mesh reads there is its
  jitter, which the dub's still mouth has too: there silence is judged against the dub with other
  speech instead (`gap_std_to_other`, the silent dub's lip-gap std over the speaking dub's);
- every dub: the mouth as sharp as the source's (`sharpness_ratio`), the face outside the mouth
  the source's own (`psnr_outside_db`), and its lips shown in as many frames as the source's
  (`lips_hidden`, printed as "no lips": the share of frames whose lips hardly differ from the face).

With a mouth-motion model, a fourth dub ("renderer") moves the clip to its own lip gaps, as the
mesh measures them, with no model between: its `gap_r` is what the renderer gives when the opening
is right, so an own-speech `gap_r` far below it is the mouth-motion model's miss, not the renderer's.

The other speech is a file of the user's or, by default, English said by an espeak-ng voice, so
the check needs nothing beyond the installed package.
"""

import itertools
import json
import os

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from keras_s2v.dubbing.dubber import load_dubber
from keras_s2v.errors import MediaError
from keras_s2v.evaluation import video_measures
from keras_s2v.evaluation.photo_check import synthesize
from keras_s2v.geometry import SAMPLE_RATE, SAMPLES_PER_FRAME
from keras_s2v.media import audio as audio_lib
from keras_s2v.media import video

# What a dub of a real talking clip should meet: (measure, dub, bound, "min" or "max").
TARGETS = (
    ("gap_r", "own", 0.5, "min"),
    ("gap_r", "other", 0.3, "max"),
    ("gap_std_ratio", "other", 0.6, "min"),
    ("gap_std_ratio", "silence", 0.25, "max"),
    ("sharpness_ratio", "own", 0.7, "min"),
    ("sharpness_ratio", "other", 0.7, "min"),
    ("psnr_outside_db", "other", 32.0, "min"),
)
# For a clip without speech of its own, the silence row's: its mouth's motion is the mesh's jitter, not speech.
SILENT_CLIP_SILENCE = ("gap_std_to_other", "silence", 0.25, "max")
# Kept around the face box, of its larger side: the contact sheet's lower-face tile reaches about that far past it.
FACE_MARGIN = 0.5
SILENCE_LEVEL = 1e-4  # a faint hiss, not digital zero: what a quiet room records


def _fitted(waveform, length):
    """`waveform` looped or cut to `length` samples."""
    return np.tile(waveform, int(np.ceil(length / len(waveform))))[:length].astype(np.float32)


def speeches(clip, frames, other=None, seed=0):
    """{"own", "other", "silence"} -> waveform of `frames` video frames; "own" only when the clip has audio."""
    length = frames * SAMPLES_PER_FRAME
    try:
        own = audio_lib.load_audio(clip)
    except MediaError:
        own = None
    other_speech = audio_lib.load_audio(other) if other else synthesize(max(0.5, length / SAMPLE_RATE), seed, "espeak")
    hiss = SILENCE_LEVEL * np.random.default_rng(seed).standard_normal(length)
    result = {} if own is None or len(own) < SAMPLES_PER_FRAME else {"own": _fitted(own, length)}
    return {**result, "other": _fitted(other_speech, length), "silence": hiss.astype(np.float32)}


def _face_box(points, shape):
    """(x0, y0, x1, y1): the landmarks' box grown by FACE_MARGIN of its larger side, clipped to the frame."""
    if points is None:
        return 0, 0, 1, 1
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    grow = FACE_MARGIN * max(x1 - x0, y1 - y0)
    x0, y0 = np.maximum(np.floor([x0 - grow, y0 - grow]).astype(int), 0)
    x1, y1 = np.minimum(np.ceil([x1 + grow, y1 + grow]).astype(int), [shape[1], shape[0]])
    return int(x0), int(y0), int(x1), int(y1)


def _face_crops(path, count, boxes=None):
    """(crops, landmarks in the crops' coordinates, boxes) of the first `count` frames of `path` at 25 fps,
    decoded one at a time: every measure and the contact sheet look only near the face, so a 1080p clip's
    frames are never all held (a whole 20 s of 1080x1920 is 3 GB). `boxes` (the source's) places the crops;
    None: each frame's own face box (`_face_box`)."""
    crops, landmarks, used = [], [], []
    frames = video_measures.mesh_points(itertools.islice(video.iter_frames(path), count))
    for number, (frame, points) in enumerate(frames):
        box = boxes[number] if boxes is not None else _face_box(points, frame.shape)
        x0, y0, x1, y1 = box
        crops.append(frame[y0:y1, x0:x1].copy())
        landmarks.append(None if points is None else points - (x0, y0))
        used.append(box)
    return crops, landmarks, used


def check_video(clip, model, out, other=None, seed=0, progress=True):
    """Dub `clip` with each of `speeches` through `model` (a mouth-motion model or a generator), measure
    each dub against the clip, and write out/NAME.mp4, out/NAME.wav, out/video_check.json and
    out/contact_sheet.png (source and dubs, the same frames side by side). Returns the report."""
    from keras_s2v.dubbing import own_pixels

    dub, backend = load_dubber(model)
    # The source's faces, then at most three dubs and the renderer's: fewer for a clip with no speech of its own.
    bar = tqdm(
        total=5 if backend == own_pixels.BACKEND else 4, desc="video check", unit="step", leave=False, disable=not progress
    )
    bar.set_postfix_str("the source's faces")
    frames, source_landmarks, boxes = _face_crops(clip, None)
    source_contrasts = video_measures.lip_contrasts(frames, source_landmarks)  # once, for every dub's `lips_hidden`
    os.makedirs(out, exist_ok=True)
    report = {"clip": os.fspath(clip), "frames": len(frames), "backend": backend, "dubs": {}}
    rows = [("source", frames, source_landmarks)]
    dubs = speeches(clip, len(frames), other, seed)
    with_renderer = backend == own_pixels.BACKEND and "own" in dubs
    bar.total = 1 + len(dubs) + with_renderer
    bar.update(1)

    def measure(name, dubbed_path):
        """Measures the dub at `dubbed_path` into report["dubs"][name]; returns its crops and landmarks."""
        dubbed, dubbed_landmarks, _ = _face_crops(dubbed_path, len(frames), boxes)
        measures = video_measures.compare(
            frames[: len(dubbed)], dubbed, source_landmarks, dubbed_landmarks, source_lip_contrasts=source_contrasts
        )
        report["dubs"][name] = {key: float(value) for key, value in measures.items()}
        bar.update(1)
        return dubbed, dubbed_landmarks

    with own_pixels.keeping_faces():  # the clip's face is tracked once for all its dubs
        for name, waveform in dubs.items():
            bar.set_postfix_str(f"dub, {name}")
            speech_path, dubbed_path = os.path.join(out, f"{name}.wav"), os.path.join(out, f"{name}.mp4")
            sf.write(speech_path, waveform, SAMPLE_RATE)
            dub(clip, speech_path, dubbed_path, progress=False)
            rows.append((f"dub, {name} speech" if name != "silence" else "dub, silence", *measure(name, dubbed_path)))
        if with_renderer:
            # The clip moved to its own lip gaps, with no model between: what the renderer makes of the right opening.
            bar.set_postfix_str("dub, renderer")
            renderer_path = os.path.join(out, "renderer.mp4")
            own_pixels.dub_to_lip_gaps(
                clip, os.path.join(out, "own.wav"), video_measures.lip_gaps(source_landmarks), renderer_path, progress=False
            )
            measure("renderer", renderer_path)
    bar.close()
    targets = TARGETS
    if "own" not in dubs:
        silence, other = report["dubs"]["silence"], report["dubs"]["other"]
        silence["gap_std_to_other"] = (
            silence["dubbed_gap_std"] / other["dubbed_gap_std"] if other["dubbed_gap_std"] > 0 else float("nan")
        )
        targets = tuple(SILENT_CLIP_SILENCE if row[:2] == ("gap_std_ratio", "silence") else row for row in TARGETS)
    report["targets"] = [
        {
            "measure": measure,
            "dub": dub_name,
            "bound": bound,
            "kind": kind,
            "value": report["dubs"][dub_name][measure],
            "met": _met(report["dubs"][dub_name][measure], bound, kind),
        }
        for measure, dub_name, bound, kind in targets
        if dub_name in report["dubs"]
    ]
    video_measures.contact_sheet(rows, os.path.join(out, "contact_sheet.png"))
    with open(os.path.join(out, "video_check.json"), "w") as handle:
        json.dump(report, handle, indent=2, allow_nan=True)
    return report


def _met(value, bound, kind):
    return bool(np.isfinite(value) and (value >= bound if kind == "min" else value <= bound))


def format_video_check(report):
    """Lines to print: each dub's measures, then each target with its verdict."""
    lines = [f"  {'dub':8s} {'gap r':>7s} {'gap std':>8s} {'sharpness':>9s} {'PSNR outside':>12s} {'no lips (source)':>16s}"]
    for name, measures in report["dubs"].items():
        lines.append(
            f"  {name:8s} {measures['gap_r']:7.3f} {measures['gap_std_ratio']:7.2f}x {measures['sharpness_ratio']:8.2f}x "
            f"{measures['psnr_outside_db']:9.1f} dB {measures['lips_hidden']:8.1%} ({measures['source_lips_hidden']:.1%})"
        )
    for target in report["targets"]:
        sign = ">=" if target["kind"] == "min" else "<="
        verdict = "ok" if target["met"] else "MISSED"
        lines.append(
            f"  {target['dub']:8s} {target['measure']:16s} {target['value']:7.3f} (target {sign} {target['bound']}) {verdict}"
        )
    return lines
