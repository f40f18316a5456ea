"""`score`: LSE-D, LSE-C and the AV offset of one dubbed video, with its own or another audio track."""

import json
import os

import numpy as np

from keras_s2v import faces
from keras_s2v.evaluation.metrics import OFFSETS, clip_embeddings, offset_distances, sync_loss, sync_scores
from keras_s2v.evaluation.plots import plot_offsets
from keras_s2v.geometry import STEPS_PER_FRAME, VIDEO_FPS, WINDOW_FRAMES


def longest_face_run(has_face: np.ndarray) -> tuple[int, int]:
    """(start, stop) of the longest run of consecutive frames with a face."""
    best, start = (0, 0), None
    for index, found in enumerate([*np.asarray(has_face, bool), False]):
        if found and start is None:
            start = index
        elif not found and start is not None:
            best, start = max(best, (start, index), key=lambda run: run[1] - run[0]), None
    return best


def score(video_path: str, evaluator, audio: str | None = None, out: str | None = None, detector: str = "cnn") -> dict:
    """LSE-D, LSE-C and AV offset of any talking-face video, as SyncNet's evaluation defines them.

    The face is tracked and cropped by the same front-end as `dub` (use the detector that made
    the evaluator's training shards, so the crops are aligned alike); the audio is the video's own
    track unless `audio` names another file. The longest run of frames with a face is scored at
    offsets -15..+15 (it must hold 1.4 s). `evaluator` is the evaluation SyncNet (path or model).
    With `out`, writes score.json and offsets.png there. Returns the report dict.
    """
    from keras_s2v.errors import MediaError
    from keras_s2v.media import audio as audio_lib
    from keras_s2v.media import video
    from keras_s2v.saving import load_model

    if isinstance(evaluator, (str, os.PathLike)):
        evaluator = load_model(evaluator, "SyncNet")
    frames = video.read_frames(video_path)
    waveform = audio_lib.load_audio(audio or video_path)
    found = faces.track_faces(frames, faces.make_detector(detector))
    faces.require_faces(found, video_path)
    start, stop = longest_face_run([face is not None for face in found])
    needed = 2 * OFFSETS.max() + WINDOW_FRAMES
    if stop - start < needed:
        raise MediaError(
            video_path,
            f"the longest stretch with a face is {stop - start} frames; scoring needs {needed} "
            f"({needed / VIDEO_FPS:.1f} s) for offsets -{OFFSETS.max()}..+{OFFSETS.max()}",
        )
    crops = np.stack([faces.crop_face(frames[index], found[index])[0] for index in range(start, stop)])
    mfcc_map = audio_lib.mfcc(waveform)[:, start * STEPS_PER_FRAME :]
    video_embeddings, audio_embeddings = clip_embeddings(evaluator, crops, mfcc_map)
    distances = offset_distances(video_embeddings, audio_embeddings)
    report = {
        "video": os.fspath(video_path),
        "audio": os.fspath(audio or video_path),
        "frames": int(len(frames)),
        "frames_scored": [int(start), int(stop)],
        **sync_scores(distances),
        "e_sync": sync_loss(video_embeddings, audio_embeddings),
        "offsets": OFFSETS.tolist(),
        "mean_distance_per_offset": distances.round(5).tolist(),
    }
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "score.json"), "w") as handle:
            json.dump(report, handle, indent=2)
        plot_offsets({os.path.basename(os.fspath(video_path)): distances}, os.path.join(out, "offsets.png"))
    return report


def format_score(report: dict) -> str:
    """The one line `s2v score` prints."""
    start, stop = report["frames_scored"]
    return (
        f"LSE-D {report['lse_d']:.3f}  LSE-C {report['lse_c']:.3f}  AV offset {report['av_offset']:+d}  "
        f"E_sync {report['e_sync']:.3f}  ({stop - start} of {report['frames']} frames scored)"
    )
