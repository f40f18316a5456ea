"""The synthetic talking-face corpus: procedurally drawn faces with matching speech-like audio."""

import dataclasses

import cv2
import numpy as np


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


# --------------------------------------------------------------------------- speech
# Formants (F1, F2, F3 in Hz) and the mouth shape (open, width) each vowel is said with.
VOWELS = {
    "a": ((800, 1200, 2500), (0.75, 0.55)),
    "e": ((500, 1900, 2600), (0.45, 0.80)),
    "i": ((300, 2300, 3000), (0.18, 1.00)),
    "o": ((500, 900, 2500), (0.55, 0.20)),
    "u": ((320, 800, 2300), (0.30, 0.00)),
}
# Consonants: how they sound and the mouth shape while they are said.
CONSONANTS = {
    "p": ("burst", (0.0, 0.40)),  # lips closed, then a short noise burst
    "m": ("nasal", (0.0, 0.45)),  # lips closed, low hum
    "s": ("fricative", (0.10, 0.75)),  # teeth nearly closed, hiss
    "t": ("burst", (0.12, 0.55)),
}
CLOSED_MOUTH = (0.0, 0.40)
MOUTH_RATE = 100  # Hz, the MFCC rate


@dataclasses.dataclass
class Voice:
    pitch: float = 140.0  # Hz
    tract: float = 1.0  # formant scale: vocal tract length
    loudness: float = 0.3


def random_script(rng, seconds):
    """[(phone, seconds)]: words of CV syllables separated by pauses, starting and ending in a pause."""
    script = [("pause", float(rng.uniform(0.2, 0.5)))]
    total = script[0][1]
    while total < seconds - 0.3:
        for _ in range(int(rng.integers(1, 4))):
            if rng.random() < 0.7:
                script.append((str(rng.choice(list(CONSONANTS))), float(rng.uniform(0.06, 0.12))))
            script.append((str(rng.choice(list(VOWELS))), float(rng.uniform(0.12, 0.32))))
        script.append(("pause", float(rng.uniform(0.1, 0.45))))
        total = sum(duration for _, duration in script)
    return _fit_script(script, seconds)


def _fit_script(script, seconds):
    """Cut the script at `seconds` and end it with a pause, so the clip lasts exactly that long."""
    fitted, total = [], 0.0
    for phone, duration in script[:-1]:
        if total + duration > seconds - 0.1:
            break
        fitted.append((phone, duration))
        total += duration
    return fitted + [("pause", seconds - total)]


def _resonate(signal, frequency, bandwidth, sr):
    """Second-order resonator (one formant), unit gain at its peak."""
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bandwidth / sr)
    theta = 2 * np.pi * frequency / sr
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], signal)


def _segment_audio(phone, samples, voice, rng, sr):
    t = np.arange(samples) / sr
    if phone == "pause":
        return np.zeros(samples)
    if phone in VOWELS or CONSONANTS[phone][0] == "nasal":
        pitch = voice.pitch * (1 + 0.03 * np.sin(2 * np.pi * 5 * t)) * (1 + 0.01 * rng.standard_normal())
        phase = np.cumsum(pitch / sr)
        source = (np.diff(np.floor(phase), prepend=0) > 0).astype(float) * 4.0  # glottal pulses
        source += 0.02 * rng.standard_normal(samples)
        formants = VOWELS[phone][0] if phone in VOWELS else (250, 1000, 2200)
        out = sum(_resonate(source, f * voice.tract, 60 + 0.05 * f, sr) / (i + 1) for i, f in enumerate(formants))
        return out if phone in VOWELS else 0.4 * out
    noise = rng.standard_normal(samples)
    if CONSONANTS[phone][0] == "fricative":
        return 0.5 * _resonate(noise, 5000, 2000, sr)
    burst = np.zeros(samples)
    start = samples // 2  # closure, then the release
    burst[start:] = _resonate(noise[start:], 1500 if phone == "p" else 3500, 1500, sr) * np.exp(-np.arange(samples - start) / (0.01 * sr))
    return burst


def synthesize_speech(script, voice, rng, sr=16000):
    """Audio for a script, and its mouth track (open, width) at 100 Hz."""
    pieces, mouth_targets = [], []
    ramp = int(0.012 * sr)
    for phone, duration in script:
        samples = int(round(duration * sr))
        piece = _segment_audio(phone, samples, voice, rng, sr)
        fade = np.ones(samples)
        fade[:ramp] = np.linspace(0, 1, min(ramp, samples))[: min(ramp, samples)]
        fade[-ramp:] = np.minimum(fade[-ramp:], np.linspace(1, 0, min(ramp, samples))[-min(ramp, samples) :])
        peak = np.abs(piece).max()
        pieces.append(piece / peak * fade if peak > 0 else piece)
        shape = VOWELS[phone][1] if phone in VOWELS else CONSONANTS[phone][1] if phone in CONSONANTS else CLOSED_MOUTH
        mouth_targets.append(np.tile(shape, (samples, 1)))
    waveform = np.concatenate(pieces) * voice.loudness
    step = sr // MOUTH_RATE
    targets = np.concatenate(mouth_targets)[: len(waveform) // step * step]
    track = targets.reshape(-1, step, 2).mean(axis=1)
    # Lips move smoothly between shapes (about 30 ms), as in coarticulation.
    kernel = np.exp(-0.5 * (np.arange(-9, 10) / 3.0) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(track, ((9, 9), (0, 0)), mode="edge")
    track = np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(2)], axis=1)
    return waveform.astype(np.float32), track


def mouth_per_frame(track, num_frames, fps=25):
    """Mean mouth shape over each video frame's interval [t/fps, (t+1)/fps)."""
    per_frame = MOUTH_RATE // fps
    track = np.pad(track, ((0, max(0, num_frames * per_frame - len(track))), (0, 0)), mode="edge")
    return track[: num_frames * per_frame].reshape(num_frames, per_frame, 2).mean(axis=1)


# --------------------------------------------------------------------------- identities and clips
FRAME_SIZE = (192, 256)  # (height, width) of synthetic videos
SPLITS = ("train", "val", "test")


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


def sidecar_path(video_path):
    import os

    return os.path.splitext(os.fspath(video_path))[0] + ".json"


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
