"""eSpeak NG speech and its mouth track: real audio, a track aligned with it, reproducible clips."""

import numpy as np
import pytest

espeak_speech = pytest.importorskip("keras_s2v.speech.espeak")
pytest.importorskip("espeakng_loader")

SENTENCE = "The quick brown fox jumps over the lazy dog."


def _rms(waveform, step=160):
    frames = len(waveform) // step
    return np.sqrt((waveform[: frames * step].astype(np.float64).reshape(frames, step) ** 2).mean(axis=1))


def test_a_sentence_is_audible_16khz_speech_with_a_track_in_range():
    waveform, track = espeak_speech.synthesize(SENTENCE)
    assert waveform.dtype == np.float32 and np.isfinite(waveform).all() and np.abs(waveform).max() <= 1.0
    assert 1.5 < len(waveform) / 16000 < 5.0  # nine words at 175 words per minute
    assert _rms(waveform).max() > 0.05
    assert track.shape == (len(waveform) // 160, 2)
    assert track[:, 0].min() >= 0 and track[:, 0].max() <= 0.75 + 1e-9
    assert track[:, 1].min() >= 0 and track[:, 1].max() <= 1.0 + 1e-9
    assert track[:, 0].max() > 0.3


def test_phoneme_events_are_in_order_and_span_the_audio():
    # Checks the ctypes espeak_EVENT layout: a wrong one gives garbage sample positions.
    waveform, _ = espeak_speech.synthesize(SENTENCE)
    samples = np.array([sample for sample, _ in espeak_speech._state["events"]])
    native = len(waveform) * espeak_speech.ESPEAK_RATE / 16000
    assert len(samples) > 20 and (np.diff(samples) >= 0).all()
    assert samples[0] >= 0 and 0.9 * native <= samples[-1] <= native + 1


def test_the_mouth_is_closed_in_the_pauses_between_sentences():
    waveform, track = espeak_speech.synthesize("Good morning. Good evening. Thank you, my friend.", rate=140)
    silent = _rms(waveform)[: len(track)] < 1e-3
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(int), [0]])))
    runs = [(start, end) for start, end in zip(edges[::2], edges[1::2]) if end - start >= 20]  # >= 200 ms
    assert runs, "no pause between the sentences"
    for start, end in runs:
        assert track[start + 8 : end - 8, 0].max() < 0.05  # inside, beyond the ~30 ms smoothing
    assert track[~silent, 0].max() > 0.3


def test_open_vowels_and_bilabials_move_the_mouth_more_than_close_vowels():
    _, mama = espeak_speech.synthesize("Papa, mama, baba, mama.")
    _, see = espeak_speech.synthesize("See me, see me, see me.")
    assert mama[:, 0].std() > 2 * see[:, 0].std()
    assert mama[:, 0].max() > 0.6 and see[:, 0].max() < 0.35


def test_mouth_opening_follows_the_loudness():
    for seed in (0, 1):
        waveform, track = espeak_speech.random_utterance(np.random.default_rng(seed), 4.0)
        assert np.corrcoef(track[:, 0], _rms(waveform))[0, 1] > 0.2


def test_random_utterance_is_exactly_as_long_as_asked_and_reproducible():
    first = espeak_speech.random_utterance(np.random.default_rng(3), 2.5)
    espeak_speech.random_utterance(np.random.default_rng(4), 1.3)  # state left in eSpeak must not matter
    again = espeak_speech.random_utterance(np.random.default_rng(3), 2.5)
    waveform, track = first
    assert waveform.dtype == np.float32 and waveform.shape == (40000,) and track.shape == (250, 2)
    assert np.abs(waveform).max() <= 0.95 + 1e-6 and np.isfinite(waveform).all()
    np.testing.assert_array_equal(waveform, again[0])
    np.testing.assert_array_equal(track, again[1])
    other = espeak_speech.random_utterance(np.random.default_rng(5), 2.5)
    assert not np.array_equal(waveform, other[0])


def test_threads_share_the_one_library_safely():
    from concurrent.futures import ThreadPoolExecutor

    def clip(seed):
        return espeak_speech.random_utterance(np.random.default_rng(seed), 1.0)

    alone = [clip(seed) for seed in range(8)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(clip, range(8)))
    for (waveform, track), (waveform2, track2) in zip(alone, together):
        np.testing.assert_array_equal(waveform, waveform2)
        np.testing.assert_array_equal(track, track2)


def test_voices_differ_and_each_speaks():
    same = [espeak_speech.synthesize("Hello there, my friend.", voice="en")[0] for _ in range(2)]
    np.testing.assert_array_equal(*same)  # so the difference below is the voice's
    for voice in espeak_speech.espeak_voices():
        waveform, _ = espeak_speech.synthesize("Hello there, my friend.", voice=voice)
        assert _rms(waveform).max() > 0.02, voice
        if voice != "en":
            assert len(waveform) != len(same[0]) or np.abs(waveform - same[0]).max() > 0.1, voice
    with pytest.raises(ValueError):
        espeak_speech.synthesize("Hello.", voice="no-such-voice")


def test_random_text_and_augment():
    rng = np.random.default_rng(0)
    text = espeak_speech.random_text(rng, 30)
    assert len(text.split()) == 30 and text.endswith(".")
    assert set(espeak_speech.random_text(rng, 10, "de").lower().strip(".").replace(",", "").split()) <= set(
        espeak_speech.WORDS["de"]
    )
    waveform, _ = espeak_speech.synthesize(SENTENCE)
    for seed in range(6):
        out = espeak_speech.augment(waveform, np.random.default_rng(seed))
        assert out.dtype == np.float32 and out.shape == waveform.shape and np.abs(out).max() <= 0.95 + 1e-6
