"""What a media file holds, as the pipeline will see it: frames, faces, audio windows."""

import os

import numpy as np

from keras_s2v import faces
from keras_s2v.errors import MediaError
from keras_s2v.media import audio, video

FACE_SAMPLES = 50  # frames searched for faces when describing a file


def describe(path, detector="cnn"):
    """A dict describing the file. Raises MediaError (or a subclass) for unusable input."""
    path = os.fspath(path)
    detector = faces.make_detector(detector) if isinstance(detector, str) else detector  # a bad spec fails first
    try:
        info = video.probe(path)
    except MediaError as error:
        if "no video stream" not in error.reason:
            raise
        waveform = audio.load_audio(path)
        return {"path": path, "kind": "audio", "duration_s": len(waveform) / audio.SAMPLE_RATE}
    frames = video.read_frames(path)
    picked = np.unique(np.linspace(0, len(frames) - 1, min(FACE_SAMPLES, len(frames))).astype(int))
    # Sampled frames are far apart: each is searched afresh, not tracked.
    found = [detector.detect(frame) for frame in frames[picked]]
    faces.require_faces(found, path)
    summary = {
        "path": path,
        "kind": "image" if info.is_image else "video",
        "size": f"{info.width}x{info.height}",
        "frames_at_25fps": len(frames),
        "faces_found": f"{sum(face is not None for face in found)} of {len(picked)} frames searched",
    }
    if not info.is_image:
        summary.update(source_fps=round(info.source_fps, 3), duration_s=round(info.duration, 3), audio_track=info.has_audio)
    return summary


def duration(path):
    """Seconds the file says it lasts, read from its headers without decoding: 0 for a still image,
    None when the headers do not say or the file does not open (its reader then says why)."""
    import av

    path = os.fspath(path)
    if video.is_image(path):
        return 0.0
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        return None
    with container:
        seconds = [float(s.duration * s.time_base) for s in container.streams if s.duration is not None and s.time_base]
        if container.duration is not None:
            seconds.append(container.duration / av.time_base)
    return max(seconds) if seconds else None
