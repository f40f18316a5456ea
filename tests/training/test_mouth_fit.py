import numpy as np

from keras_s2v.geometry import MFCC_SHAPE, WINDOW_FRAMES
from keras_s2v.models.mouth_motion import opening_cue, predict_openings, speech_openings
from keras_s2v.training import mouth_fit


def test_the_training_set_holds_every_window_with_its_frames_openings():
    windows, targets = mouth_fit.training_set(4, seconds=2.0, seed=3, espeak_share=0.5)
    assert windows.shape[1:] == MFCC_SHAPE and targets.shape == (len(windows), WINDOW_FRAMES)
    assert 4 * 40 <= len(windows) <= 4 * 50  # about 46 windows in 2 s of 25 fps
    assert targets.min() >= 0.0 and targets.max() <= 1.0
    assert (targets < 0.05).any() and (targets > 0.3).any()  # pauses shut the mouth, vowels open it
    again, _ = mouth_fit.training_set(4, seconds=2.0, seed=3, espeak_share=0.5)
    assert np.array_equal(windows, again)


def test_training_learns_the_opening_and_dub_reads_it_per_frame():
    windows, targets = mouth_fit.training_set(12, seconds=2.0, seed=0)
    baseline = np.abs(targets - targets.mean()).mean()
    model = mouth_fit.train_mouth_motion(windows, targets, preset="tiny", epochs=10, batch_size=16)
    error = np.abs(model.predict(windows, verbose=0) - targets).mean()
    assert error < 0.8 * baseline  # better than the best constant
    waveform, track = mouth_fit.formant_utterance(np.random.default_rng(5), 2.0)
    openings = predict_openings(model, waveform, 50)
    assert openings.shape == (50,) and np.isfinite(openings).all()
    silent = predict_openings(model, np.zeros(32000, np.float32), 50)
    assert silent.mean() < openings.mean()

    # For dubbing the openings also hear the speech's cue: louder at 1-4 kHz opens wider, silence stays still.
    mixed = speech_openings(model, waveform, 50)
    assert mixed.shape == (50,) and np.isfinite(mixed).all()
    tone = (0.3 * np.sin(2 * np.pi * 2000 * np.arange(32000) / 16000)).astype(np.float32)
    tone[16000:] *= 0.1
    opening = speech_openings(model, tone, 50)
    assert opening[5:20].mean() > opening[30:45].mean()
    assert np.std(speech_openings(model, np.zeros(32000, np.float32), 50)) < 1e-3


def test_the_cue_opens_wider_as_the_first_formant_rises_at_the_same_loudness():
    seconds = np.arange(32000) / 16000.0
    loudness = 0.3 * np.sin(2 * np.pi * 2000 * seconds)  # the same 1-4 kHz loudness throughout
    formant = np.where(seconds < 1.0, np.sin(2 * np.pi * 300 * seconds), np.sin(2 * np.pi * 750 * seconds))
    cue = opening_cue((loudness + 0.3 * formant).astype(np.float32), 50)
    assert cue.shape == (50,) and cue[30:45].min() > 2 * cue[5:20].max()  # "a" against "i": (750 / 300)^2
    assert not opening_cue(np.zeros(32000, np.float32), 50).any()
