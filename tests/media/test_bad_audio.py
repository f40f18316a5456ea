"""The audio front-end's one check: each class of bad audio is refused by `load_audio` with one line."""

import av
import numpy as np
import pytest

from keras_s2v.errors import AudioTooShortError, MediaError
from keras_s2v.media import audio
from tests.helpers import speech_like, write_raw_wav

SPEECH = (speech_like(1.0) * 20000).astype(np.int16)


def _with(values, at):
    samples = speech_like(1.0)
    samples[at] = values
    return samples


def _too_many_channels(path):
    """What a header declaring 1,000 channels is refused with: FFmpeg 8.1.2 and before read that count as none,
    8.1.3 (PyAV 18.1.1) reads it."""
    with av.open(str(path)) as container:
        channels = container.streams.audio[0].codec_context.channels
    return f"the audio has {channels} channels; keras-s2v reads 1 to 32" if channels else NO_CHANNEL_COUNT


def expected_message(message, path):
    """The message after "NAME.wav: " that BAD_AUDIO gives for the file at `path`."""
    return message(path) if callable(message) else message


NO_CHANNEL_COUNT = "the audio's header gives no channel count"
# (name, how the WAV is written, the error class, the message after "NAME.wav: ", or what gives it for the file)
BAD_AUDIO = [
    (
        "nan",
        lambda p: write_raw_wav(p, _with(np.nan, slice(100, 103))),
        MediaError,
        "the audio holds 3 samples that are not finite numbers (NaN or infinity)",
    ),
    ("inf", lambda p: write_raw_wav(p, _with(np.inf, 5000)), MediaError, "the audio holds 1 samples that are not finite numbers"),
    ("one-sample", lambda p: write_raw_wav(p, SPEECH[:1]), AudioTooShortError, "audio is 0.000 s long; one window needs 0.215 s"),
    ("under-a-window", lambda p: write_raw_wav(p, SPEECH[:3000]), AudioTooShortError, "audio is 0.188 s long"),
    (
        "rate-1-hz",
        lambda p: write_raw_wav(p, SPEECH, rate=1),
        MediaError,
        "the audio's sample rate is 1 Hz; keras-s2v reads 4000 to 384000 Hz",
    ),
    ("rate-10-mhz", lambda p: write_raw_wav(p, SPEECH, rate=10_000_000), MediaError, "the audio's sample rate is 10000000 Hz"),
    (
        "64-channels",
        lambda p: write_raw_wav(p, SPEECH[: 64 * 200], channels=64),
        MediaError,
        "the audio has 64 channels; keras-s2v reads 1 to 32",
    ),
    (
        "1000-channels",
        lambda p: write_raw_wav(p, SPEECH[:16000], channels=1000),
        MediaError,
        _too_many_channels,
    ),
    ("no-channels", lambda p: write_raw_wav(p, SPEECH, channels=0), MediaError, NO_CHANNEL_COUNT),
]


@pytest.mark.parametrize("name, write, error, message", BAD_AUDIO, ids=[case[0] for case in BAD_AUDIO])
def test_each_class_of_bad_audio_is_one_line(tmp_path, name, write, error, message):
    path = write(tmp_path / f"{name}.wav")
    with pytest.raises(error) as raised:
        audio.load_audio(path)
    assert str(raised.value).startswith(f"{path}: {expected_message(message, path)}"), raised.value
    assert "\n" not in str(raised.value)


def test_silence_and_the_edges_of_the_accepted_formats_load(tmp_path):
    silent = audio.load_audio(write_raw_wav(tmp_path / "silent.wav", np.zeros(16000, np.float32)))
    assert len(silent) == 16000 and not silent.any()  # a pause is speech too: dubbed with a closed mouth
    low = audio.load_audio(write_raw_wav(tmp_path / "low.wav", SPEECH[:4000], rate=audio.MIN_SAMPLE_RATE))
    assert abs(len(low) - 16000) <= 1
    high = audio.load_audio(write_raw_wav(tmp_path / "high.wav", np.tile(SPEECH, 24), rate=audio.MAX_SAMPLE_RATE))
    assert abs(len(high) - 16000) <= 1
    many = audio.load_audio(write_raw_wav(tmp_path / "32.wav", np.repeat(SPEECH, 32), channels=audio.MAX_CHANNELS))
    assert abs(len(many) - 16000) <= 1 and np.isfinite(many).all()
