"""Audio front-end: loading, the MFCC of docs/design.md (the contract), and window slicing.

The MFCC is written once in TensorFlow with ops that convert to built-in TFLite
ops: framing, the Hann window and the DFT are one strided convolution with a
constant kernel, and the DCT is a matmul with a constant matrix. The same code
runs in tf.data, in the SavedModel's `from_audio` signature and in TFLite (as a Keras layer:
keras_s2v.media.mfcc_layer). TensorFlow is imported only when an MFCC is computed.
"""

import os

import av
import numpy as np

from keras_s2v.errors import AudioTooShortError, MediaError
from keras_s2v.geometry import (
    FRAME_LENGTH,
    HOP_LENGTH,
    NUM_MFCC,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    STEPS_PER_FRAME,
    WINDOW_FRAMES,
    WINDOW_SAMPLES,
    WINDOW_STEPS,
)

FFT_LENGTH = 512
NUM_MEL_BANDS = 40
MEL_FMIN = 20.0
MEL_FMAX = 7600.0
LOG_EPSILON = 1e-6

# The normalisation ships with the code, so no client needs a statistics file.
# Per-coefficient mean and spread of the synthetic corpus's speech (with its pauses),
# rounded; real speech lands in the same range and the first conv is followed by BatchNorm.
MFCC_MEAN = np.array([7.0, 0.6, 1.3, -1.9, -1.7, 0.3, -0.3, -1.1, -0.4, 0.0, -0.1, 0.2], np.float32)
MFCC_STD = np.array([7.1, 2.5, 2.9, 2.2, 2.5, 1.3, 1.3, 2.0, 1.4, 1.0, 1.0, 0.9], np.float32)


# --------------------------------------------------------------------------- loading
# What a file may declare and still be taken for speech. Below 4 kHz no vowel's formants fit; above
# 384 kHz (the highest rate studio gear records) or past 32 channels (22.2 surround has 24) a header is
# broken or hostile, and decoding it as declared could cost gigabytes: a 1 Hz file resampled to 16 kHz
# grows 16,000 times.
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 32


def load_audio(path, sr=SAMPLE_RATE):
    """Load any audio file, or the audio track of a video, as mono float32 at `sr`.

    Every command reads speech through here, so this is the one place that refuses bad audio, each
    with a one-line MediaError: no file, no samples, an absurd sample rate or channel count, NaN or
    infinite samples, and less than one 0.2 s window (AudioTooShortError). Silence is valid speech
    (a pause): it is dubbed with a closed mouth.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MediaError(path, "no such file")
    waveform, native_sr = _decode_with_pyav(path)
    if waveform is None:
        waveform, native_sr = _decode_with_librosa(path)
        require_format(path, native_sr, 1)
    if waveform.size == 0:
        raise MediaError(path, "the audio has no samples")
    bad = np.count_nonzero(~np.isfinite(waveform))
    if bad:
        # librosa's resampler would stop on them with its own error, and the MFCC would be NaN.
        raise MediaError(path, f"the audio holds {bad} samples that are not finite numbers (NaN or infinity)")
    if native_sr != sr:
        import librosa

        waveform = librosa.resample(waveform, orig_sr=native_sr, target_sr=sr)
    require_window(waveform, path, sr)
    return np.clip(waveform, -1.0, 1.0).astype(np.float32)


def require_format(path, rate, channels):
    """MediaError unless the declared sample rate and channel count are ones speech can have."""
    if not rate or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise MediaError(path, f"the audio's sample rate is {rate} Hz; keras-s2v reads {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz")
    if not channels:  # FFmpeg reports a header it cannot make sense of as none (1,000 channels, before FFmpeg 8.1.3)
        raise MediaError(path, "the audio's header gives no channel count that can be read")
    if channels > MAX_CHANNELS:
        raise MediaError(path, f"the audio has {channels} channels; keras-s2v reads 1 to {MAX_CHANNELS}")


def _decode_with_pyav(path):
    """Decode the first audio stream with PyAV: mono float32 at the native rate."""
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        return None, None
    with container:
        if not container.streams.audio:
            if container.streams.video:
                raise MediaError(path, "the file has no audio track")
            return None, None
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # a codec FFmpeg does not know
            raise MediaError(path, "the audio track's codec is not one that can be decoded")
        rate = stream.codec_context.sample_rate or stream.rate
        require_format(path, rate, stream.codec_context.channels)
        chunks = []
        try:
            chunks = [_mono(frame) for frame in container.decode(stream)]
        except av.error.FFmpegError as error:
            raise MediaError(path, f"cannot decode the audio ({error.strerror})") from None
    if not chunks:
        return np.zeros(0, np.float32), rate
    return np.concatenate(chunks).astype(np.float32), rate


def _mono(frame):
    """An av.AudioFrame as mono float32 samples: the mean of its channels.

    Mixed here rather than by FFmpeg's resampler, which refuses channel counts without a named
    layout (9, 11, 13, 17 to 23, ...) although a WAV header may declare any of them."""
    samples = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar:
        samples = samples.reshape(-1, channels).T
    if samples.dtype.kind == "u":
        samples = (samples.astype(np.float32) - 128.0) / 128.0
    elif samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / float(2 ** (8 * samples.dtype.itemsize - 1))
    with np.errstate(invalid="ignore", over="ignore"):  # inf and NaN samples are counted and refused by load_audio
        return samples.astype(np.float32).mean(axis=0)


def _decode_with_librosa(path):
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns on each fallback decoder it tries
            waveform, rate = librosa.load(path, sr=None, mono=True)
    except Exception:
        raise MediaError(path, "not an audio or video file that can be decoded") from None
    return waveform.astype(np.float32), rate


# --------------------------------------------------------------------------- constants
def hann_window(length=FRAME_LENGTH):
    """Periodic Hann window."""
    n = np.arange(length)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank():
    """(257, 40) HTK-scale triangular filters, no area normalisation."""
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, FFT_LENGTH // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(MEL_FMIN), _hz_to_mel(MEL_FMAX), NUM_MEL_BANDS + 2))
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (fft_freqs[None, :] - lower) / (center - lower)
    falling = (upper - fft_freqs[None, :]) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling)).T.astype(np.float32)


def dft_kernel():
    """(400, 1, 514) conv kernel: Hann-windowed real and imaginary DFT bases."""
    n = np.arange(FRAME_LENGTH)[:, None]
    k = np.arange(FFT_LENGTH // 2 + 1)[None, :]
    angle = 2.0 * np.pi * n * k / FFT_LENGTH
    window = hann_window()[:, None]
    basis = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window], axis=1)
    return basis[:, None, :].astype(np.float32)


def dct_matrix():
    """(40, 12) orthonormal DCT-II, keeping coefficients 1..12."""
    n = np.arange(NUM_MEL_BANDS)[:, None]
    k = np.arange(NUM_MEL_BANDS)[None, :]
    dct = np.cos(np.pi * k * (2 * n + 1) / (2 * NUM_MEL_BANDS)) * np.sqrt(2.0 / NUM_MEL_BANDS)
    dct[:, 0] /= np.sqrt(2.0)
    return dct[:, 1 : NUM_MFCC + 1].astype(np.float32)


# --------------------------------------------------------------------------- MFCC
def num_mfcc_steps(num_samples):
    return max(0, 1 + (num_samples - FRAME_LENGTH) // HOP_LENGTH)


def mfcc_tf(waveform, normalize=True):
    """(batch, samples) float32 tensor -> (batch, 12, T) MFCC map."""
    import tensorflow as tf  # here, not above: reading and probing media need no TensorFlow (5 s to import)

    waveform = tf.convert_to_tensor(waveform, tf.float32)
    spectrum = tf.nn.conv1d(
        waveform[:, :, None], tf.constant(dft_kernel()), stride=HOP_LENGTH, padding="VALID"
    )  # (batch, T, 514)
    real, imag = tf.split(spectrum, 2, axis=-1)
    power = real * real + imag * imag  # no complex ops, so TFLite needs no Flex
    mel = tf.matmul(power, tf.constant(mel_filterbank()))
    coefficients = tf.matmul(tf.math.log(mel + LOG_EPSILON), tf.constant(dct_matrix()))
    if normalize:
        coefficients = (coefficients - tf.constant(MFCC_MEAN)) / MFCC_STD
    return tf.transpose(coefficients, [0, 2, 1])


def mfcc(waveform, normalize=True):
    """Waveform (samples,) or (batch, samples) -> MFCC map (12, T) or (batch, 12, T).

    Numpy in, numpy out; a tensor in gives a tensor out.
    """
    is_numpy = isinstance(waveform, np.ndarray)
    batched = len(np.shape(waveform)) == 2
    if np.shape(waveform)[-1] < FRAME_LENGTH:
        raise ValueError(f"`waveform` needs at least {FRAME_LENGTH} samples; received shape {np.shape(waveform)}")
    import tensorflow as tf

    x = waveform if batched else tf.convert_to_tensor(waveform)[None]
    out = mfcc_tf(x, normalize=normalize)
    out = out if batched else out[0]
    return out.numpy() if is_numpy else out


def frame_power(waveform: np.ndarray, num_frames: int) -> tuple:
    """(power (num_frames, STEPS_PER_FRAME, bins), frequencies (bins,)): the STFT power of each video
    frame's STEPS_PER_FRAME Hann windows (the MFCC's own framing). Missing audio counts as silence."""
    padded = np.zeros(num_frames * SAMPLES_PER_FRAME + FRAME_LENGTH, np.float32)
    count = min(len(waveform), len(padded))
    padded[:count] = waveform[:count]
    starts = HOP_LENGTH * np.arange(num_frames * STEPS_PER_FRAME)
    frames = padded[starts[:, None] + np.arange(FRAME_LENGTH)] * hann_window()
    power = np.abs(np.fft.rfft(frames, FFT_LENGTH, axis=1)) ** 2
    return power.reshape(num_frames, STEPS_PER_FRAME, -1), np.fft.rfftfreq(FFT_LENGTH, 1.0 / SAMPLE_RATE)


def band_loudness(waveform: np.ndarray, num_frames: int, low_hz: float, high_hz: float) -> np.ndarray:
    """(num_frames,) loudness of each video frame's audio in the band [low_hz, high_hz): the square root
    of the mean STFT power there over the frame's windows (`frame_power`)."""
    power, frequencies = frame_power(waveform, num_frames)
    return np.sqrt(power[..., (frequencies >= low_hz) & (frequencies < high_hz)].sum(axis=-1).mean(axis=1))


def band_centroid(waveform: np.ndarray, num_frames: int, low_hz: float, high_hz: float) -> np.ndarray:
    """(num_frames,) mean over each video frame's windows of the power-weighted mean frequency (Hz) in
    [low_hz, high_hz); the band's middle where a window is silent there."""
    power, frequencies = frame_power(waveform, num_frames)
    band = (frequencies >= low_hz) & (frequencies < high_hz)
    weight = power[..., band]
    total = weight.sum(axis=-1)
    middle = (low_hz + high_hz) / 2.0
    centroid = np.where(total > 0, (weight * frequencies[band]).sum(axis=-1) / np.maximum(total, 1e-30), middle)
    return centroid.mean(axis=1)


def mfcc_window(mfcc_map, frame_index):
    """The (NUM_MFCC, WINDOW_STEPS, 1) window for the WINDOW_FRAMES video frames starting at `frame_index`.

    Window f covers [f/25, f/25 + 0.2) s: MFCC columns [4f, 4f + 20).
    """
    start = STEPS_PER_FRAME * int(frame_index)
    steps = np.shape(mfcc_map)[-1]
    if frame_index < 0 or start + WINDOW_STEPS > steps:
        raise ValueError(f"`frame_index` {frame_index} needs MFCC columns [{start}, {start + WINDOW_STEPS}); the map has {steps}")
    return mfcc_map[:, start : start + WINDOW_STEPS][..., None]


def mfcc_windows(mfcc_map, starts):
    """(len(starts), NUM_MFCC, WINDOW_STEPS, 1) float32: `mfcc_window` for each start frame."""
    return np.stack([mfcc_window(mfcc_map, f) for f in starts]).astype(np.float32)


def num_windows(num_mfcc_steps_, num_video_frames):
    """How many whole windows fit both the MFCC map and the video frames."""
    by_audio = (num_mfcc_steps_ - WINDOW_STEPS) // STEPS_PER_FRAME + 1
    by_video = num_video_frames - WINDOW_FRAMES + 1
    return max(0, min(by_audio, by_video))


def require_window(waveform, path, sr=SAMPLE_RATE):
    """Raise AudioTooShortError when `waveform` (at `sr`) holds less than one window."""
    if len(waveform) / sr < WINDOW_SAMPLES / SAMPLE_RATE:
        raise AudioTooShortError(
            path,
            f"audio is {len(waveform) / sr:.3f} s long; one window needs {WINDOW_SAMPLES / SAMPLE_RATE:.3f} s",
        )


def window_pcm(waveform, frame_index):
    """The WINDOW_SAMPLES of PCM whose MFCC is the window at `frame_index`."""
    start = frame_index * STEPS_PER_FRAME * HOP_LENGTH
    return waveform[start : start + WINDOW_SAMPLES]
