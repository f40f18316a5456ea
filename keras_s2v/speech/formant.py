"""A formant speech synthesizer: a script of phones -> speech-like audio and the mouth track.

It voices the synthetic corpus (`keras_s2v.lab.synth`) and gives the exporter speech to
calibrate and check the `from_audio` signature with.
"""

import dataclasses

import numpy as np

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


def random_voice(rng):
    """A voice drawn from `rng` in the ranges of the synthetic corpus's speakers."""
    return Voice(pitch=float(rng.uniform(95, 230)), tract=float(rng.uniform(0.9, 1.15)), loudness=float(rng.uniform(0.2, 0.5)))


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
    burst[start:] = _resonate(noise[start:], 1500 if phone == "p" else 3500, 1500, sr) * np.exp(
        -np.arange(samples - start) / (0.01 * sr)
    )
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
