"""Training the mouth-motion network (keras_s2v.models.mouth_motion) on speech whose mouth is known.

Each example is a random utterance with its mouth track: the formant synthesizer of the
synthetic corpus (keras_s2v.speech.formant) and espeak-ng's voices (keras_s2v.speech.espeak),
so that what is learnt is speech, not one synthesizer. The waveforms are augmented (noise,
room reverb, gain); the target of each frame is its mouth opening, scaled to [0, 1].
"""

import numpy as np

from keras_s2v.geometry import SAMPLE_RATE, SAMPLES_PER_FRAME, VIDEO_FPS, WINDOW_FRAMES
from keras_s2v.media import audio as audio_lib
from keras_s2v.models.mouth_motion import build_mouth_motion
from keras_s2v.speech import formant as speech_synth

WIDEST = max(shape[0] for _, shape in speech_synth.VOWELS.values())  # the synthesizers' widest opening -> 1


def formant_utterance(rng, seconds):
    """(waveform, per-frame opening in [0, 1]) from the formant synthesizer, a random voice and script."""
    waveform, track = speech_synth.synthesize_speech(
        speech_synth.random_script(rng, seconds), speech_synth.random_voice(rng), rng
    )
    return waveform, track


def espeak_utterance(rng, seconds):
    from keras_s2v.speech import espeak as espeak_speech

    return espeak_speech.random_utterance(rng, seconds)


def _augmented(waveform, rng):
    from keras_s2v.speech import espeak as espeak_speech

    return espeak_speech.augment(waveform, rng, SAMPLE_RATE)


def utterance_windows(waveform, track):
    """(MFCC windows (N, 12, 20, 1), targets (N, WINDOW_FRAMES)): every window of the utterance and the
    opening of each of its frames."""
    num_frames = len(waveform) // SAMPLES_PER_FRAME
    opening = np.clip(speech_synth.mouth_per_frame(track, num_frames, VIDEO_FPS)[:, 0] / WIDEST, 0.0, 1.0)
    count = audio_lib.num_windows(audio_lib.num_mfcc_steps(len(waveform)), num_frames)
    starts = np.arange(count)
    windows = audio_lib.mfcc_windows(audio_lib.mfcc(waveform.astype(np.float32)), starts)
    targets = np.stack([opening[starts + offset] for offset in range(WINDOW_FRAMES)], axis=1)
    return windows, targets.astype(np.float32)


def training_set(utterances, seconds=4.0, seed=0, espeak_share=0.5, augment=0.7, progress=None):
    """Windows and targets of `utterances` random utterances, `espeak_share` of them espeak-ng's,
    `augment` of them with noise, reverb and gain."""
    rng = np.random.default_rng(seed)
    windows, targets = [], []
    for _ in range(utterances):
        make = espeak_utterance if rng.random() < espeak_share else formant_utterance
        waveform, track = make(rng, seconds)
        if rng.random() < augment:
            waveform = _augmented(waveform, rng)
        clip_windows, clip_targets = utterance_windows(waveform, track)
        windows.append(clip_windows)
        targets.append(clip_targets)
        if progress is not None:
            progress()
    return np.concatenate(windows), np.concatenate(targets)


def train_mouth_motion(windows, targets, preset="small", epochs=12, batch_size=64, seed=0, validation=None, verbose=0):
    """A mouth-motion model fitted to (windows, targets) with a mean absolute error."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_mouth_motion(preset)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    model.optimizer.build(model.trainable_variables)  # eagerly: while tracing the first step it is 10x slower
    model.fit(windows, targets, batch_size=batch_size, epochs=epochs, validation_data=validation, verbose=verbose, shuffle=True)
    return model
