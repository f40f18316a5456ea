"""The mouth-motion network: how open the mouth is in each frame of a window, from the window's MFCC.

It is what decides the motion when the mouth is rendered from the person's own pixels
(keras_s2v.faces.mouth_warp): one opening per frame, 0 closed to 1 wide open, for the
WINDOW_FRAMES frames of one (12, 20, 1) MFCC window. It is trained on speech whose mouth
track is known (the formant synthesizer's and espeak-ng's voices, keras_s2v.training.mouth_fit).
"""

import keras
from keras import layers

from keras_s2v.geometry import MFCC_SHAPE, WINDOW_FRAMES
from keras_s2v.models.presets import get_preset

# The speech's own loudness where it grows with the mouth's opening: below 1 kHz it follows voicing,
# which hums with closed lips too; above 4 kHz the hiss of "s" and "f" comes with a nearly closed mouth.
OPENING_BAND_HZ = (1000.0, 4000.0)
# The first formant lies here and rises as the jaw opens (about 750 Hz in "a", 300 Hz in "i" and "u"):
# the loudness is weighed by the square of this band's mean frequency (in kHz).
FORMANT_BAND_HZ = (200.0, 1000.0)
FORMANT_POWER = 2.0
CUE_SHARE = 0.5  # of the opening taken from that weighed loudness; the network gives the rest
SMOOTHING_FRAMES = 1.5  # sigma of the Gaussian that smooths the openings: lips do not jump within 40 ms

MOUTH_MOTION_PRESETS = {
    "small": {"filters": (32, 64, 96), "dense": 128, "description": "the model dub uses (0.32M parameters)"},
    "tiny": {"filters": (8, 16, 16), "dense": 16, "description": "for tests"},
}


def build_mouth_motion(preset="small", name="mouth_motion"):
    """`mfcc` MFCC_SHAPE -> `opening` (WINDOW_FRAMES,) in [0, 1], one per frame of the window."""
    config = get_preset(MOUTH_MOTION_PRESETS, preset, "mouth-motion")
    mfcc = keras.Input(MFCC_SHAPE, name="mfcc")
    x = mfcc
    for index, filters in enumerate(config["filters"]):
        # Time is kept at full rate until the last stage: the opening changes within a frame's 4 steps.
        x = layers.Conv2D(filters, 3, strides=(2, 1) if index < 2 else (2, 2), padding="same", name=f"conv_{index}")(x)
        x = layers.BatchNormalization(name=f"bn_{index}")(x)
        x = layers.ReLU(name=f"relu_{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    x = layers.Dense(config["dense"], activation="relu", name="dense")(x)
    opening = layers.Dense(WINDOW_FRAMES, activation="sigmoid", name="opening")(x)
    return keras.Model(mfcc, opening, name=name)


def predict_openings(model, waveform, num_frames, batch_size=256):
    """(num_frames,) opening of each video frame of `waveform` (16 kHz): the mean of the predictions
    of every window that covers the frame (up to WINDOW_FRAMES), so it is smooth and centred."""
    import numpy as np

    from keras_s2v.geometry import SAMPLES_PER_FRAME, WINDOW_SAMPLES
    from keras_s2v.media import audio as audio_lib

    # Windows start WINDOW_FRAMES - 1 frames before the first frame and end after the last: silence pads.
    lead = (WINDOW_FRAMES - 1) * SAMPLES_PER_FRAME
    needed = lead + num_frames * SAMPLES_PER_FRAME + WINDOW_SAMPLES
    padded = np.zeros(needed, np.float32)
    padded[lead : lead + min(len(waveform), needed - lead)] = waveform[: needed - lead]
    starts = np.arange(num_frames + WINDOW_FRAMES - 1)
    windows = audio_lib.mfcc_windows(audio_lib.mfcc(padded), starts)
    predicted = np.asarray(model.predict(windows, batch_size=batch_size, verbose=0))
    total, count = np.zeros(num_frames), np.zeros(num_frames)
    for offset in range(WINDOW_FRAMES):
        frames = starts - (WINDOW_FRAMES - 1) + offset  # frame shown by column `offset` of each window
        valid = (frames >= 0) & (frames < num_frames)
        np.add.at(total, frames[valid], predicted[valid, offset])
        np.add.at(count, frames[valid], 1)
    return total / np.maximum(count, 1)


def opening_cue(waveform, num_frames):
    """(num_frames,) how open the speech says the mouth is, from the sound alone: the loudness in
    OPENING_BAND_HZ times the FORMANT_BAND_HZ mean frequency (kHz) to the FORMANT_POWER."""
    from keras_s2v.media.audio import band_centroid, band_loudness

    loudness = band_loudness(waveform, num_frames, *OPENING_BAND_HZ)
    return loudness * (band_centroid(waveform, num_frames, *FORMANT_BAND_HZ) / 1000.0) ** FORMANT_POWER


def speech_openings(model, waveform, num_frames):
    """(num_frames,) openings for dubbing: the network's, mixed with the speech's `opening_cue`
    (scaled to the network's mean), then smoothed.

    The network sees MFCCs without their energy coefficient, so it cannot hear how loud the speech
    is; within one speaker that loudness follows the jaw, and the first formant how far it has
    dropped. On real talking clips the mix follows the real lip gap better than either alone,
    whichever seed trained the network (docs/experiments.md). Silence stays still: there the cue
    is silent and the network's openings are small.
    """
    from scipy.ndimage import gaussian_filter1d

    openings = predict_openings(model, waveform, num_frames)
    cue = opening_cue(waveform, num_frames)
    cue *= openings.mean() / max(float(cue.mean()), 1e-12)
    mixed = (1.0 - CUE_SHARE) * openings + CUE_SHARE * cue
    return gaussian_filter1d(mixed, SMOOTHING_FRAMES, mode="nearest")
