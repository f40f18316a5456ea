"""Video front-end: frames at 25 fps by timestamp, still images, H.264 + AAC output."""

import dataclasses
import os
import tempfile

import av
import cv2
import numpy as np

from keras_s2v.errors import MediaError
from keras_s2v.geometry import SAMPLE_RATE, VIDEO_FPS

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
# Twice 8K UHD. A header may declare any size; one decoded frame past this is hundreds of megabytes.
MAX_PIXELS = 2**26
_TIME_EPSILON = 1e-6


@dataclasses.dataclass
class VideoInfo:
    path: str
    width: int
    height: int
    source_fps: float
    duration: float
    has_audio: bool
    is_image: bool = False

    @property
    def num_frames(self):
        """Frames at 25 fps."""
        return 1 if self.is_image else max(1, int(round(self.duration * VIDEO_FPS)))


def _to_rgb(frame):
    """An av.VideoFrame as (H, W, 3) uint8 RGB. OpenCV converts the common yuv420p case
    about twice as fast as swscale, off the GIL, so the decode thread leaves the others room."""
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


def is_image(path):
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


def require_file(path):
    if not os.path.isfile(path):
        raise MediaError(path, "no such file")


def require_output_folder(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise MediaError(path, f"the output folder {folder} does not exist")


def _open(path):
    require_file(path)
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise MediaError(path, "not a video or image file that can be decoded") from None
    if not container.streams.video:
        container.close()
        raise MediaError(path, "the file has no video stream")
    context = container.streams.video[0].codec_context
    if context is None or context.width <= 0 or context.height <= 0:  # a codec FFmpeg does not know, or a broken header
        container.close()
        raise MediaError(path, "the video stream has no codec or frame size that can be decoded")
    if context.width * context.height > MAX_PIXELS:
        container.close()
        raise MediaError(
            path,
            f"the video's frames are {context.width}x{context.height}; keras-s2v reads at most {MAX_PIXELS:,} pixels a frame",
        )
    return container


def read_image(path):
    """A still image as one (H, W, 3) uint8 RGB frame."""
    path = os.fspath(path)
    require_file(path)
    try:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
    except cv2.error:  # OpenCV asserts on some headers (e.g. one declaring more than 2**30 pixels) instead of failing
        image = None
    if image is None:
        raise MediaError(path, "not an image file that can be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def probe(path):
    """What the file holds: size, frame rate, duration, and whether it has an audio track."""
    path = os.fspath(path)
    if is_image(path):
        height, width = read_image(path).shape[:2]
        return VideoInfo(path, width, height, 0.0, 1.0 / VIDEO_FPS, False, is_image=True)
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or VIDEO_FPS)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = (stream.frames or 0) / rate
        return VideoInfo(
            path,
            stream.codec_context.width,
            stream.codec_context.height,
            rate,
            duration,
            bool(container.streams.audio),
        )


def iter_frames(path, fps=VIDEO_FPS):
    """Yield RGB uint8 frames resampled to `fps` by timestamp.

    Output frame i shows the source frame on screen at time i / fps, so constant
    and variable frame rates alike come out at `fps`. A still image yields one frame.
    """
    for _, frame in FrameSource(path, fps).frames():
        yield frame


class _SeekMissed(Exception):
    """The seek landed after the wanted frame."""


class FrameSource:
    """The frames of a video (at `fps`, by timestamp) or a still image, decoded on demand.

    `play(count)` loops the video forward and back (ping-pong) without holding it: the
    first pass decodes in order and counts the frames; a later forward pass decodes again
    from the start, a backward pass decodes chunks of at most `chunk_bytes` of raw frames
    (each from the keyframe before it) and plays them reversed. Looping thus costs decode
    time, not memory: a cache of every frame, even a compressed one, would grow with the video.
    """

    def __init__(self, path, fps=VIDEO_FPS, chunk_bytes=256 << 20):
        if chunk_bytes <= 0:
            raise ValueError(f"`chunk_bytes` must be positive; received {chunk_bytes}")
        self.path = os.fspath(path)
        self.fps = fps
        self.chunk_bytes = chunk_bytes
        self.is_image = is_image(self.path)
        self.count = None  # frames at `fps`, known after the first full pass
        self._start_time = None  # timestamp of the first frame: time 0 of the output

    def frames(self, start=0, stop=None):
        """Yield (index, frame) for output frames start..stop-1 (stop=None: to the end)."""
        if self.is_image:
            if start == 0 and stop != 0:
                self.count = 1
                yield 0, read_image(self.path)
            return
        seek = start > 0
        while True:
            with _open(self.path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                if seek:
                    # Any keyframe at or before the first wanted frame will do: decoding runs on from it.
                    target = self._start_time + start / self.fps - 1e-3
                    container.seek(max(0, int(target / stream.time_base)), stream=stream)
                try:
                    yield from self._resample(container, stream, start, stop)
                    return
                except _SeekMissed:
                    seek = False  # a file without a usable index: decode from the start instead

    def _resample(self, container, stream, start, stop):
        rate = float(stream.average_rate or stream.guessed_rate or self.fps)
        previous, image, last_time, emitted, decoded = None, None, 0.0, start, 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                time = frame.time if frame.time is not None else index / rate
                if self._start_time is None:
                    self._start_time = time
                time -= self._start_time
                if decoded == 0 and time > start / self.fps + _TIME_EPSILON:
                    raise _SeekMissed
                while previous is not None and emitted / self.fps < time - _TIME_EPSILON:
                    if emitted == stop:
                        return
                    image = _to_rgb(previous) if image is None else image
                    yield emitted, image
                    emitted += 1
                previous, image, last_time = frame, None, time
                decoded += 1
        except av.error.FFmpegError as error:
            if decoded == 0:
                raise MediaError(self.path, f"cannot decode the video ({error.strerror})") from None
            # A truncated file: keep the frames decoded so far.
        if previous is None:
            raise MediaError(self.path, "the video has no frames")
        if self.count is None:
            # Container timestamps are rounded (often to 1 ms): round the duration to whole frames.
            self.count = max(1, int(round((last_time + 1.0 / rate) * self.fps)))
        image = _to_rgb(previous) if image is None else image
        while emitted < (self.count if stop is None else min(stop, self.count)):
            yield emitted, image
            emitted += 1

    def play(self, count):
        """Yield `count` (source index, frame) pairs: the video forward, then backward, then forward, ..."""
        played = 0
        for index, frame in self.frames():
            if played == count:
                return
            yield index, frame
            played += 1
        length = self.count
        while played < count:
            if length == 1:
                yield 0, frame
                played += 1
                continue
            phase = played % (2 * length - 2)
            if phase < length:
                run = self.frames(phase)
            else:
                run = self._backward(2 * length - 2 - phase, max(1, self.chunk_bytes // frame.nbytes))
            for index, frame in run:
                if played == count:
                    return
                yield index, frame
                played += 1

    def _backward(self, top, chunk):
        """(index, frame) for frames top, top-1, ..., 1, decoded forward `chunk` frames at a time."""
        while top >= 1:
            low = max(1, top + 1 - chunk)
            yield from reversed(list(self.frames(low, top + 1)))
            top = low - 1


def read_frames(path, fps=VIDEO_FPS):
    """All frames at `fps` as one (N, H, W, 3) uint8 array."""
    return np.stack(list(iter_frames(path, fps)))


def mux_audio(container, stream, samples):
    """Encode mono float `samples` into `stream` (an audio stream of `container`) and mux them."""
    samples = np.asarray(samples, np.float32)
    chunk = stream.codec_context.frame_size or 1024
    for offset in range(0, len(samples), chunk):
        piece = samples[offset : offset + chunk]
        audio_frame = av.AudioFrame.from_ndarray(piece[None, :], format="fltp", layout="mono")
        audio_frame.sample_rate = stream.codec_context.sample_rate
        audio_frame.pts = offset
        container.mux(stream.encode(audio_frame))
    container.mux(stream.encode(None))


# x264's speed preset and quality for what keras-s2v writes. Encoding took as long as rendering in a
# dub: superfast at crf 23 encodes 1080x1920 in half the time of veryfast at crf 20 (15.7 against
# 30.2 ms a frame) at the same PSNR (43.0 dB), in 1.27 times the bytes (docs/experiments.md).
X264_PRESET = "superfast"
X264_CRF = 23


class VideoWriter:
    """Writes an H.264 + AAC mp4 to a temporary file and renames it on success.

    Use as a context manager; on an exception the partial file is removed.
    """

    def __init__(self, path, width, height, fps=VIDEO_FPS, audio=None, sample_rate=SAMPLE_RATE, crf=X264_CRF, preset=X264_PRESET):
        if not 0 <= crf <= 51:
            raise ValueError(f"`crf` must be in [0, 51] (x264's quality scale); received {crf}")
        self.path = os.fspath(path)
        require_output_folder(self.path)
        folder = os.path.dirname(os.path.abspath(self.path))
        self.width, self.height = width - width % 2, height - height % 2  # yuv420p needs even sizes
        handle, self._tmp_path = tempfile.mkstemp(suffix=".mp4", prefix=".s2v-", dir=folder)
        os.close(handle)
        self._container = av.open(self._tmp_path, "w", format="mp4")
        self._video = self._container.add_stream("libx264", rate=fps)
        self._video.width, self._video.height = self.width, self.height
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": str(crf), "preset": preset}
        self._audio = audio
        self._audio_stream = None
        if audio is not None:
            self._audio_stream = self._container.add_stream("aac", rate=sample_rate)
            self._audio_stream.layout = "mono"
        self.frames_written = 0

    def write(self, frame):
        # OpenCV's conversion to yuv420p is about 3x faster than swscale's and runs off the GIL.
        yuv = cv2.cvtColor(np.ascontiguousarray(frame[: self.height, : self.width]), cv2.COLOR_RGB2YUV_I420)
        video_frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        self._container.mux(self._video.encode(video_frame))
        self.frames_written += 1

    def close(self):
        self._container.mux(self._video.encode(None))
        if self._audio_stream is not None:
            mux_audio(self._container, self._audio_stream, self._audio)
        self._container.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp_path, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(self._tmp_path, self.path)

    def abort(self):
        try:
            self._container.close()
        except Exception:
            pass
        if os.path.exists(self._tmp_path):
            os.remove(self._tmp_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def write_video(path, frames, audio=None, fps=VIDEO_FPS, sample_rate=SAMPLE_RATE, crf=X264_CRF, preset=X264_PRESET):
    """Write RGB uint8 frames (and mono float32 audio) as an H.264 + AAC mp4.

    `crf` is x264's constant rate factor: 0 is lossless, 51 the worst; about 18 looks clean.
    `preset` is x264's speed preset (ultrafast ... veryslow): slower ones spend time to save bytes.
    """
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with VideoWriter(path, width, height, fps, audio, sample_rate, crf, preset) as writer:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    return path
