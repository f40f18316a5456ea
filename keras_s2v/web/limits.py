"""What `s2v web` lets in: each upload's size, how many jobs wait, the media's duration, the work folder's size.

Each limit is checked as early as it can be: the queue's length and the work folder's room before a
byte of the upload is read, the durations from the files' headers before the speech is decoded (a
100 MB file of low-rate MP3 holds hours), and the decoded speech's length again after, since a header
can lie.
"""

import dataclasses
import os

from keras_s2v.errors import MediaError

BUSY = "the server is busy, try again in a minute"
RETRY_AFTER_S = 60


@dataclasses.dataclass(frozen=True)
class Limits:
    max_upload_mb: float = 100.0  # each file
    max_queued: int = 8  # jobs waiting, besides the one running
    max_minutes: float = 10.0  # of the face video and of the speech
    max_work_mb: float = 2048.0  # uploads and results on disk together

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"{field.name} must be > 0; received {getattr(self, field.name)}")

    @property
    def max_seconds(self):
        return 60.0 * self.max_minutes


class TooLongError(MediaError):
    """The media lasts longer than the server dubs."""


def _clock(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def require_duration(path, seconds, limits, what):
    """TooLongError when `seconds` (None: not known yet) is past the limit."""
    if seconds is not None and seconds > limits.max_seconds:
        raise TooLongError(path, f"{what} lasts {_clock(seconds)}; this server dubs at most {_clock(limits.max_seconds)}")


def check_media(face, audio, limits):
    """Cheap checks before queueing: the face decodes, neither file is too long, the speech passes the audio checks."""
    from keras_s2v.geometry import SAMPLE_RATE
    from keras_s2v.media import audio as audio_lib
    from keras_s2v.media import probe, video

    info = video.probe(face)
    if not info.is_image:
        require_duration(face, info.duration, limits, "the face video")
    require_duration(audio, probe.duration(audio), limits, "the speech")
    waveform = audio_lib.load_audio(audio)
    require_duration(audio, len(waveform) / SAMPLE_RATE, limits, "the speech")


def folder_bytes(folder):
    """Bytes of every file under `folder`; files removed while it looks are skipped."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
