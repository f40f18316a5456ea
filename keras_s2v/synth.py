"""The synthetic talking-face corpus: procedurally drawn faces with matching speech-like audio."""

import dataclasses

import cv2
import numpy as np

from keras_s2v.corpus import sidecar_path
from keras_s2v.speech_synth import Voice, mouth_per_frame, random_script, synthesize_speech  # noqa: F401 (the corpus's voice)


@dataclasses.dataclass
class Look:
    """What stays fixed for one speaker."""

    skin: tuple = (200, 160, 130)
    background: tuple = (60, 90, 120)
    hair: tuple = (40, 30, 20)
    lips: tuple = (150, 60, 70)
    radius: float = 60.0  # half the face width in pixels


def draw_face(size, center, look, mouth_open=0.0, mouth_width=0.5, blink=0.0, tilt=0.0):
    """One RGB frame. Returns (image, face_box) with face_box = (x, y, w, h).

    mouth_open, mouth_width and blink are in [0, 1]; tilt is in degrees.
    """
    height, width = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = look.background
    cx, cy = center
    r = look.radius

    def point(dx, dy):
        angle = np.deg2rad(tilt)
        x = cx + dx * np.cos(angle) - dy * np.sin(angle)
        y = cy + dx * np.sin(angle) + dy * np.cos(angle)
        return int(round(x)), int(round(y))

    def axes(ax, ay):
        return max(1, int(round(ax))), max(1, int(round(ay)))

    aa = cv2.LINE_AA
    cv2.ellipse(image, point(0, 0), axes(r, 1.3 * r), tilt, 0, 360, look.skin, -1, aa)
    cv2.ellipse(image, point(0, -0.9 * r), axes(1.05 * r, 0.55 * r), tilt, 180, 360, look.hair, -1, aa)
    thickness = max(1, int(r / 18))
    for side in (-1, 1):
        eye = point(side * 0.4 * r, -0.25 * r)
        openness = max(0.08, 1.0 - blink)
        cv2.ellipse(image, eye, axes(0.18 * r, 0.09 * r * openness), tilt, 0, 360, (255, 255, 255), -1, aa)
        if blink < 0.7:
            cv2.circle(image, eye, max(1, int(0.08 * r * openness)), (30, 20, 20), -1, aa)
        cv2.line(image, point(side * 0.2 * r, -0.45 * r), point(side * 0.6 * r, -0.47 * r), (50, 35, 25), thickness, aa)
    cv2.line(image, point(0, -0.15 * r), point(-0.08 * r, 0.3 * r), tuple(int(0.75 * c) for c in look.skin), thickness, aa)
    mouth = point(0, 0.6 * r)
    half_width = (0.2 + 0.25 * mouth_width) * r
    half_height = (0.04 + 0.3 * mouth_open) * r
    cv2.ellipse(image, mouth, axes(half_width + 0.04 * r, half_height + 0.04 * r), tilt, 0, 360, look.lips, -1, aa)
    cv2.ellipse(image, mouth, axes(half_width, half_height), tilt, 0, 360, (110, 35, 45), -1, aa)
    if mouth_open > 0.3:  # teeth show once the mouth is open
        teeth = point(0, 0.6 * r - 0.7 * half_height)
        cv2.ellipse(image, teeth, axes(0.8 * half_width, 0.25 * half_height), tilt, 0, 360, (235, 235, 225), -1, aa)
    box = (cx - r, cy - 1.1 * r, 2 * r, 2 * r * 1.15)
    return image, box


# --------------------------------------------------------------------------- identities and clips
FRAME_SIZE = (192, 256)  # (height, width) of synthetic videos


@dataclasses.dataclass
class Speaker:
    index: int
    split: str
    look: Look
    voice: Voice
    center: tuple
    sway: float  # pixels of slow head motion
    tilt: float  # degrees of slow head roll


def speaker_splits(count):
    """Split speakers by identity: the last ~15% test, the ~15% before them val, the rest train."""
    if count < 3:
        return ["train"] * count
    held_out = max(1, int(round(0.15 * count)))
    return ["train"] * (count - 2 * held_out) + ["val"] * held_out + ["test"] * held_out


def sample_speaker(index, split, seed):
    rng = np.random.default_rng([seed, index, 0])
    tone = rng.uniform()
    skin = np.array([235, 200, 170]) * (1 - tone) + np.array([120, 80, 55]) * tone
    look = Look(
        skin=tuple(int(c) for c in skin),
        # Darker than the skin, as in most footage: cascade detectors key on that contrast.
        background=tuple(int(c) for c in rng.integers(10, 110, 3)),
        hair=tuple(int(c) for c in rng.integers(10, 70, 3)),
        lips=tuple(int(c) for c in (rng.uniform(130, 190), rng.uniform(40, 80), rng.uniform(50, 90))),
        radius=float(rng.uniform(40, 56)),
    )
    voice = Voice(pitch=float(rng.uniform(95, 230)), tract=float(rng.uniform(0.9, 1.15)), loudness=float(rng.uniform(0.2, 0.5)))
    height, width = FRAME_SIZE
    center = (width / 2 + rng.uniform(-30, 30), height / 2 + rng.uniform(-8, 8))
    return Speaker(index, split, look, voice, center, float(rng.uniform(2, 6)), float(rng.uniform(0, 4)))


def render_clip(speaker, script, seed, sr=16000, fps=25):
    """Frames (N, H, W, 3) uint8, audio, face boxes (N, 4) and mouth shapes (N, 2) for a script."""
    rng = np.random.default_rng(seed)
    waveform, track = synthesize_speech(script, speaker.voice, rng, sr)
    num_frames = int(round(len(waveform) / sr * fps))
    mouth = mouth_per_frame(track, num_frames, fps)
    blink = np.zeros(num_frames)
    frame = int(rng.integers(10, 60))
    while frame < num_frames:
        blink[frame : frame + 4] = [0.5, 1.0, 1.0, 0.5][: len(blink[frame : frame + 4])]
        frame += int(rng.integers(50, 125))
    phase, noise = rng.uniform(0, 2 * np.pi, 3), rng.uniform(1.5, 4.0)
    frames, boxes = np.empty((num_frames, *FRAME_SIZE, 3), np.uint8), np.empty((num_frames, 4))
    for t in range(num_frames):
        seconds = t / fps
        center = (
            speaker.center[0] + speaker.sway * np.sin(2 * np.pi * 0.23 * seconds + phase[0]),
            speaker.center[1] + 0.5 * speaker.sway * np.sin(2 * np.pi * 0.31 * seconds + phase[1]),
        )
        tilt = speaker.tilt * np.sin(2 * np.pi * 0.17 * seconds + phase[2])
        image, box = draw_face(FRAME_SIZE, center, speaker.look, mouth[t, 0], mouth[t, 1], blink[t], tilt)
        grain = rng.normal(0, noise, image.shape)
        frames[t] = np.clip(image + grain, 0, 255).astype(np.uint8)
        boxes[t] = box
    return frames, waveform, boxes, mouth


def write_clip(path, speaker, script, seed, sr=16000):
    """An H.264 + AAC mp4 and its JSON sidecar (face boxes, mouth shapes, script)."""
    import json

    from keras_s2v.video import write_video

    frames, waveform, boxes, mouth = render_clip(speaker, script, seed, sr)
    write_video(path, frames, audio=waveform, sample_rate=sr)
    sidecar = {
        "fps": 25,
        "sample_rate": sr,
        "speaker": f"spk{speaker.index:03d}",
        "split": speaker.split,
        "boxes": np.round(boxes, 2).tolist(),
        "mouth": np.round(mouth, 4).tolist(),
        "script": [[phone, round(duration, 4)] for phone, duration in script],
    }
    with open(sidecar_path(path), "w") as handle:
        json.dump(sidecar, handle)
    return path


def write_corpus(out, speakers=12, seconds=8.0, clips_per_speaker=2, seed=0, progress=True):
    """Write the corpus under out/{train,val,test}/; returns the list of clip paths."""
    import os

    from tqdm import tqdm

    if speakers < 1 or seconds < 0.5 or clips_per_speaker < 1:
        raise ValueError(
            f"need speakers >= 1, seconds >= 0.5, clips_per_speaker >= 1; received {speakers}, {seconds}, {clips_per_speaker}"
        )
    splits = speaker_splits(speakers)
    jobs = [(index, clip) for index in range(speakers) for clip in range(clips_per_speaker)]
    paths = []
    for index, clip in tqdm(jobs, desc="synth", unit="clip", disable=not progress):
        speaker = sample_speaker(index, splits[index], seed)
        folder = os.path.join(out, speaker.split)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"spk{index:03d}_clip{clip}.mp4")
        script = random_script(np.random.default_rng([seed, index, clip + 1]), seconds)
        paths.append(write_clip(path, speaker, script, seed=[seed, index, clip + 1, 7]))
    return paths
