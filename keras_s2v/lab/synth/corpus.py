"""The synthetic corpus: speakers, their clips (speech, frames and camera effects) and `write_corpus`."""

import dataclasses

import cv2
import numpy as np

from keras_s2v.data.corpus import sidecar_path
from keras_s2v.lab.synth.animation import face_box, look_key, render_frame
from keras_s2v.lab.synth.backdrops import paint_backdrop
from keras_s2v.lab.synth.look import BACKDROPS, Look
from keras_s2v.lab.synth.painting import paint_sprite
from keras_s2v.speech.formant import Voice, mouth_per_frame, random_script, random_voice, synthesize_speech

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


_IRISES = ((80, 50, 30), (45, 30, 20), (110, 85, 45), (80, 110, 70), (70, 110, 150), (110, 120, 125))
_LIGHT_HAIR = ((150, 115, 70), (200, 170, 110), (140, 60, 30), (150, 150, 150), (95, 65, 40))


def _sample_features(rng, look):
    """What the textured corpus adds to a look: skin texture, freckles, beard, glasses, hair, clothes, backdrop."""
    kind = rng.uniform()
    beard = 0.0 if kind < 0.45 else float(rng.uniform(0.15, 0.45)) if kind < 0.75 else float(rng.uniform(0.65, 1.0))
    glasses = None
    if rng.uniform() < 0.3:
        glasses = tuple(int(c) for c in (rng.integers(15, 60, 3) if rng.uniform() < 0.6 else np.full(3, rng.integers(140, 200))))
    hair = tuple(int(c) for c in np.mean(look.hair) * np.array([1.1, 0.85, 0.65]))  # a natural dark brown to black
    if rng.uniform() < 0.3:  # blond, red, grey or light brown instead of dark
        hair = tuple(int(c) for c in np.asarray(_LIGHT_HAIR[rng.integers(len(_LIGHT_HAIR))]) * rng.uniform(0.8, 1.1))
    skin = np.asarray(look.skin, float)
    lips = 0.45 * np.asarray(look.lips, float) + 0.55 * skin * (0.82, 0.52, 0.55)  # lips follow the skin's tone
    return dict(
        hair=hair,
        lips=tuple(int(c) for c in lips),
        texture=float(rng.uniform(0.6, 1.0)),
        freckles=0.0 if rng.uniform() < 0.65 else float(rng.uniform(0.3, 1.0)),
        beard=beard,
        glasses=glasses,
        hair_length=float(rng.uniform(0, 0.2)) if rng.uniform() < 0.5 else float(rng.uniform(0.35, 1.0)),
        eyes=tuple(int(c) for c in np.asarray(_IRISES[rng.integers(len(_IRISES))]) * rng.uniform(0.85, 1.15)),
        clothes=tuple(int(c) for c in rng.integers(20, 200, 3)),
        teeth=tuple(int(c) for c in rng.uniform(215, 240) * np.array([1.0, rng.uniform(0.96, 0.99), rng.uniform(0.88, 0.95)])),
        backdrop=BACKDROPS[rng.integers(len(BACKDROPS))],
        seed=int(rng.integers(2**31)),
    )


def sample_speaker(index, split, seed):
    rng = np.random.default_rng([seed, index, 0])
    tone = rng.uniform()
    skin = np.array([235, 200, 170]) * (1 - tone) + np.array([120, 80, 55]) * tone
    look = Look(
        skin=tuple(int(c) for c in skin),
        background=tuple(int(c) for c in rng.integers(10, 110, 3)),
        hair=tuple(int(c) for c in rng.integers(10, 70, 3)),
        lips=tuple(int(c) for c in (rng.uniform(130, 190), rng.uniform(40, 80), rng.uniform(50, 90))),
        radius=float(rng.uniform(40, 56)),
    )
    # From a stream of its own, so that voices and placement stay those of the flat corpus.
    look = dataclasses.replace(look, **_sample_features(np.random.default_rng([seed, index, 1]), look))
    voice = random_voice(rng)
    height, width = FRAME_SIZE
    center = (width / 2 + rng.uniform(-30, 30), height / 2 + rng.uniform(-8, 8))
    return Speaker(index, split, look, voice, center, float(rng.uniform(2, 6)), float(rng.uniform(0, 4)))


@dataclasses.dataclass
class _Camera:
    """One clip's light and camera: a key light swinging slowly around the face, exposure drifting,
    optional defocus blur and sensor noise."""

    azimuth: float  # radians, where the light starts
    swing: float  # radians per second the light turns
    off_axis: float  # radians between the light and the camera's axis
    exposure: tuple  # (amplitude, Hz, phase) of the brightness drift
    blur: float  # Gaussian sigma in pixels, 0 for none
    noise: float  # standard deviation in grey levels

    def light(self, seconds):
        wobble = 0.12 * np.sin(2 * np.pi * 0.13 * seconds + self.azimuth)
        return self.azimuth + self.swing * seconds, float(np.clip(self.off_axis + wobble, 0.1, 1.3))

    def gain(self, seconds):
        amplitude, hertz, phase = self.exposure
        return 1 + amplitude * np.sin(2 * np.pi * hertz * seconds + phase)


def _sample_camera(rng):
    return _Camera(
        azimuth=float(rng.uniform(0, 2 * np.pi)),
        swing=float(rng.choice([-1, 1]) * rng.uniform(0.15, 0.35)),
        off_axis=float(rng.uniform(0.35, 0.9)),
        exposure=(float(rng.uniform(0.03, 0.1)), float(rng.uniform(0.05, 0.2)), float(rng.uniform(0, 2 * np.pi))),
        blur=float(rng.uniform(0.3, 1.0)) if rng.uniform() < 0.5 else 0.0,
        noise=float(rng.uniform(1.0, 5.0)),
    )


def clip_crf(seed):
    """The H.264 quality (x264 crf, 17 clean to 32 blocky) a clip is written at, drawn from its seed
    apart from the frames' stream."""
    return int(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]).integers(17, 33))


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
    phase, camera = rng.uniform(0, 2 * np.pi, 3), _sample_camera(rng)
    key = look_key(speaker.look)
    layers, background = paint_sprite(key), paint_backdrop(key, FRAME_SIZE)
    frames, boxes = np.empty((num_frames, *FRAME_SIZE, 3), np.uint8), np.empty((num_frames, 4))
    r = speaker.look.radius
    for t in range(num_frames):
        seconds = t / fps
        center = (
            speaker.center[0] + speaker.sway * np.sin(2 * np.pi * 0.23 * seconds + phase[0]),
            speaker.center[1] + 0.5 * speaker.sway * np.sin(2 * np.pi * 0.31 * seconds + phase[1]),
        )
        tilt = speaker.tilt * np.sin(2 * np.pi * 0.17 * seconds + phase[2])
        image = render_frame(layers, background, center, mouth[t, 0], mouth[t, 1], blink[t], tilt, camera.light(seconds))
        image *= camera.gain(seconds)
        if camera.blur > 0:
            image = cv2.GaussianBlur(image, (0, 0), camera.blur)
        image += camera.noise * rng.standard_normal(image.shape, dtype=np.float32)
        frames[t] = np.clip(image + 0.5, 0, 255)
        boxes[t] = face_box(center, r)
    return frames, waveform, boxes, mouth


def write_clip(path, speaker, script, seed, sr=16000):
    """An H.264 + AAC mp4 (at the clip's own quality) and its JSON sidecar (face boxes, mouth shapes, script)."""
    import json

    from keras_s2v.media.video import write_video

    frames, waveform, boxes, mouth = render_clip(speaker, script, seed, sr)
    # The preset the corpus has always been written with: the recipes' figures were measured on these pixels.
    write_video(path, frames, audio=waveform, sample_rate=sr, crf=clip_crf(seed), preset="veryfast")
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
