import librosa
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_s2v.errors import AudioTooShortError, MediaError
from keras_s2v.media import audio, mfcc_layer
from tests.helpers import make_video, speech_like, write_audio


def librosa_mfcc(waveform):
    """librosa with the front-end's parameters; librosa centres the 400-sample window
    inside the 512-sample frame, so pad by the difference to start frame k at 160k."""
    pad = (audio.FFT_LENGTH - audio.FRAME_LENGTH) // 2
    power = (
        np.abs(librosa.stft(np.pad(waveform, (pad, pad)), n_fft=512, hop_length=160, win_length=400, window="hann", center=False))
        ** 2
    )
    mel = librosa.feature.melspectrogram(S=power, sr=16000, n_mels=40, fmin=20, fmax=7600, htk=True, norm=None)
    return librosa.feature.mfcc(S=np.log(mel + audio.LOG_EPSILON), n_mfcc=13, dct_type=2, norm="ortho")[1:13]


@pytest.mark.parametrize(
    "waveform",
    [speech_like(1.3), 0.3 * np.random.default_rng(1).standard_normal(16000).astype(np.float32)],
    ids=["speech-like", "noise"],
)
def test_mfcc_matches_librosa(waveform):
    ours = audio.mfcc(waveform, normalize=False)
    reference = librosa_mfcc(waveform)
    assert ours.shape == reference.shape == (12, audio.num_mfcc_steps(len(waveform)))
    assert np.corrcoef(ours.ravel(), reference.ravel())[0, 1] >= 0.999


def test_mfcc_has_100_steps_per_second_and_batches():
    waveform = speech_like(2.0)
    single = audio.mfcc(waveform)
    batch = audio.mfcc(np.stack([waveform, waveform[::-1].copy()]))
    assert single.shape == (12, 1 + (32000 - 400) // 160)
    np.testing.assert_allclose(batch[0], single, atol=1e-5)


def test_window_f_covers_columns_4f_to_4f_plus_20():
    waveform = speech_like(1.0)
    mfcc_map = audio.mfcc(waveform)
    for frame_index in (0, 3, 10):
        window = audio.mfcc_window(mfcc_map, frame_index)
        assert window.shape == (12, 20, 1)
        np.testing.assert_array_equal(window[..., 0], mfcc_map[:, 4 * frame_index : 4 * frame_index + 20])
    with pytest.raises(ValueError, match="frame_index"):
        audio.mfcc_window(mfcc_map, mfcc_map.shape[1] // 4)


def test_window_pcm_gives_the_window_mfcc():
    """Column k starts at sample 160k: the PCM slice of window f alone yields exactly its MFCC block."""
    waveform = speech_like(1.0)
    mfcc_map = audio.mfcc(waveform)
    for frame_index in (0, 7):
        pcm = audio.window_pcm(waveform, frame_index)
        assert len(pcm) == audio.WINDOW_SAMPLES
        np.testing.assert_allclose(audio.mfcc(pcm), audio.mfcc_window(mfcc_map, frame_index)[..., 0], atol=1e-4)


def test_an_event_at_time_t_lands_in_column_100t():
    waveform = np.zeros(16000, np.float32)
    waveform[8000:8160] = 0.5 * np.sin(np.arange(160) * 0.3)  # a click at 0.5 s
    mfcc_map = audio.mfcc(waveform, normalize=False)
    changed = np.linalg.norm(mfcc_map - mfcc_map[:, :1], axis=0) > 1.0
    # Column k covers samples [160k, 160k + 400): it overlaps the click for k = 48..50.
    np.testing.assert_array_equal(np.flatnonzero(changed), [48, 49, 50])


def test_num_windows_fits_audio_and_video():
    # 1 s gives 98 columns: window 20 would need columns 80..99, so 20 windows fit.
    assert audio.num_windows(audio.num_mfcc_steps(16000), 25) == 20
    assert audio.num_windows(audio.num_mfcc_steps(16000 + 240), 25) == 21
    assert audio.num_windows(audio.num_mfcc_steps(16000), 10) == 6
    assert audio.num_windows(19, 25) == 0


def test_mfcc_layer_round_trips(tmp_path):
    import keras

    inputs = keras.Input((audio.WINDOW_SAMPLES,))
    model = keras.Model(inputs, mfcc_layer.MFCC(name="mfcc")(inputs))
    pcm = speech_like(0.3)[None, : audio.WINDOW_SAMPLES]
    assert model.output.shape == (None, 12, 20, 1)
    path = tmp_path / "front_end.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(pcm, verbose=0), model.predict(pcm, verbose=0))
    with pytest.raises(ValueError, match="received 'yes'"):
        mfcc_layer.MFCC(normalize="yes")


def test_front_end_converts_to_builtin_tflite_ops_and_matches_tf():
    @tf.function(input_signature=[tf.TensorSpec([1, audio.WINDOW_SAMPLES], tf.float32)])
    def front_end(pcm):
        return audio.mfcc_tf(pcm)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([front_end.get_concrete_function()], front_end)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # fails on any Flex op
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    pcm = speech_like(0.3)[None, : audio.WINDOW_SAMPLES]
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pcm)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(lite, front_end(pcm).numpy(), atol=1e-4)


@pytest.mark.parametrize("extension", ["wav", "flac", "ogg", "mp3"])
def test_load_audio_resamples_and_downmixes(tmp_path, extension):
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)).astype(np.float32)
    path = write_audio(tmp_path / f"tone.{extension}", tone, sr=44100, channels=2)
    waveform = audio.load_audio(path)
    assert waveform.dtype == np.float32 and waveform.ndim == 1
    assert abs(len(waveform) - 16000) < 2000  # mp3/ogg add codec padding
    spectrum = np.abs(np.fft.rfft(waveform[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 440) < 5


def test_load_audio_reads_the_track_of_a_video(tmp_path):
    speech = speech_like(1.0)
    path = make_video(tmp_path / "talk.mp4", num_frames=25, audio=speech)
    waveform = audio.load_audio(path)
    assert abs(len(waveform) - 16000) < 2048


def test_bad_audio_inputs_raise_one_line_errors(tmp_path):
    with pytest.raises(MediaError, match="missing.wav: no such file"):
        audio.load_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio" * 100)
    with pytest.raises(MediaError, match="junk.wav: not an audio or video file"):
        audio.load_audio(junk)
    silent_video = make_video(tmp_path / "silent.mp4", num_frames=5)
    with pytest.raises(MediaError, match="no audio track"):
        audio.load_audio(silent_video)
    short = write_audio(tmp_path / "short.wav", np.zeros(1000, np.float32))
    with pytest.raises(AudioTooShortError, match=r"short.wav: audio is 0.062 s long"):
        audio.require_window(audio.load_audio(short), short)


def test_band_loudness_hears_only_its_band_in_proportion_and_per_frame():
    seconds = np.arange(17600) / 16000.0  # longer than the 25 frames asked: no edge where the sound stops
    inside, below = np.sin(2 * np.pi * 2000 * seconds), np.sin(2 * np.pi * 300 * seconds)
    loud = audio.band_loudness(inside.astype(np.float32), 25, 1000, 4000)
    assert loud.shape == (25,) and loud.min() > 0
    np.testing.assert_allclose(audio.band_loudness(0.5 * inside, 25, 1000, 4000), 0.5 * loud, rtol=1e-5)
    assert audio.band_loudness(below, 25, 1000, 4000).max() < 0.01 * loud.min()
    half = inside.copy()
    half[8000:] = 0  # sound for the first 12.5 frames, then silence; missing audio is silence too
    profile = audio.band_loudness(half, 30, 1000, 4000)
    assert profile[:12].min() > 0.9 * loud.min() and profile[14:].max() == 0


def test_band_centroid_finds_the_frequency_that_sounds_in_its_band_per_frame():
    seconds = np.arange(17600) / 16000.0
    low, high = np.sin(2 * np.pi * 300 * seconds), np.sin(2 * np.pi * 750 * seconds)
    both = np.where(seconds < 0.5, low, high).astype(np.float32)  # 300 Hz for 12.5 frames, then 750 Hz
    centroid = audio.band_centroid(both, 25, 200, 1000)
    assert centroid.shape == (25,)
    np.testing.assert_allclose(centroid[:12], 300, atol=25)
    np.testing.assert_allclose(centroid[14:], 750, atol=25)
    # Silent: the band's middle, never a division by zero.
    assert np.allclose(audio.band_centroid(np.zeros(17600, np.float32), 25, 200, 1000), 600)
