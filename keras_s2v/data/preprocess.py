"""Real videos -> TFRecord shards: decode at 25 fps, track the face, crop it aligned, MFCC.

Resumable: each clip ends in a result file (clips/<id>.json) written after its
shard, so a second run skips what is done and a killed run loses at most the
clips in progress. Unusable files are skipped with their reason, never fatal.

`preprocess_video` is the per-video work of both the local path (`preprocess`,
worker processes) and the Apache Beam pipeline (keras_s2v.data.beam). Paths go
through tf.io.gfile, so inputs and outputs may be local or remote (gs://...).
"""

import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import uuid

import numpy as np

from keras_s2v import faces
from keras_s2v.data.corpus import SPLITS, sidecar_path
from keras_s2v.data.manifest import is_remote
from keras_s2v.errors import MediaError
from keras_s2v.faces.alignment import ALIGN_BOX
from keras_s2v.faces.detectors import DETECTOR_SPECS
from keras_s2v.geometry import FACE_SIZE, FRAME_CHANNELS, GEOMETRY, VIDEO_FPS
from keras_s2v.media import audio, video

SIDECAR = "sidecar"  # the detector spec that takes the boxes from each video's sidecar
VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def find_videos(folder: str) -> list[str]:
    found = []
    for root, _, names in _gfile().walk(folder):
        found += [os.path.join(root, n) for n in names if os.path.splitext(n)[1].lower() in VIDEO_EXTENSIONS]
    return sorted(found)


def relative_path(path, root):
    """`path` below `root`; for URLs by prefix, since os.path would fold their `//`."""
    if is_remote(root):
        return path[len(root.rstrip("/")) + 1 :]
    return os.path.relpath(path, root)


def clip_id_for(path, root):
    return os.path.splitext(relative_path(path, root))[0].replace(os.sep, "__")


def split_for(path, root, sidecar=None):
    """A train/val/test folder in the path wins, then the sidecar's split, then a stable hash (90/5/5).

    A pure function of the path and its sidecar: every runner and worker count gives the same splits.
    """
    for part in relative_path(path, root).split(os.sep)[:-1]:
        if part in SPLITS:
            return part
    if sidecar and sidecar.get("split") in SPLITS:
        return sidecar["split"]
    bucket = int(hashlib.sha1(clip_id_for(path, root).encode()).hexdigest(), 16) % 20
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def check_inputs(videos, detector):
    """Fail once, before any clip, on a missing folder or a bad face detector spec (a local path is
    checked without TensorFlow, 5 s to import, so a mistyped one fails at once)."""
    if not (_gfile().isdir(videos) if is_remote(videos) else os.path.isdir(videos)):
        raise MediaError(videos, "no such folder")
    if detector != SIDECAR:
        try:
            faces.make_detector(detector)  # a bad spec or cascade fails here, once, not per clip
        except ValueError:
            raise ValueError(f"face detector must be {DETECTOR_SPECS} or {SIDECAR!r}; received {detector!r}") from None


def _read_json(path):
    """The parsed file, or None if it is missing or not JSON."""
    import tensorflow as tf

    try:
        with tf.io.gfile.GFile(path) as handle:
            return json.load(handle)
    except (OSError, ValueError, tf.errors.OpError):
        return None


def _atomic_write(path, data):
    gfile = _gfile()
    gfile.makedirs(os.path.dirname(path))
    tmp = os.path.join(os.path.dirname(path), f".tmp-{uuid.uuid4().hex}")
    with gfile.GFile(tmp, "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())
    gfile.rename(tmp, path, overwrite=True)


@contextlib.contextmanager
def _local_copy(path):
    """`path` itself if local, else a temporary local copy: the decoders read local files only."""
    if not is_remote(path):
        yield path
        return
    folder = tempfile.mkdtemp(prefix="s2v-")
    try:
        local = os.path.join(folder, os.path.basename(path))
        _gfile().copy(path, local)
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _describe(path, root):
    sidecar = _read_json(sidecar_path(path))
    return {
        "clip_id": clip_id_for(path, root),
        "source": relative_path(path, root),
        "split": split_for(path, root, sidecar),
    }, sidecar


def alignment_for(detector):
    """How `detector`'s crops are aligned: by the landmarks (cnn) or by the box (the others)."""
    return ALIGN_BOX if detector == SIDECAR else faces.detector_alignment(detector)


def clip_alignment(result):
    """Clips written before alignments were recorded were cropped by their boxes."""
    return result.get("alignment", ALIGN_BOX)


def process_clip(path: str, root: str, out: str, detector: str = "cnn") -> dict:
    """Preprocess one video; returns its result dict (with `skipped` set if it was unusable)."""
    from keras_s2v.data.records import encode_clip, window_starts

    result, sidecar = _describe(path, root)
    try:
        with _local_copy(path) as local:
            frames = video.read_frames(local)
            waveform = audio.load_audio(local)
        if detector == SIDECAR:
            if not sidecar or "boxes" not in sidecar:
                raise MediaError(path, "no sidecar JSON with face boxes")
            found = faces.track_faces(frames, faces.FixedBoxDetector(sidecar["boxes"]))
        else:
            found = faces.track_faces(frames, faces.make_detector(detector))
        faces.require_faces(found, path)
    except MediaError as error:
        return {**result, "skipped": error.reason}
    has_face = np.array([face is not None for face in found])
    crops = np.zeros((len(frames), FACE_SIZE, FACE_SIZE, FRAME_CHANNELS), np.uint8)
    for index in np.flatnonzero(has_face):
        crops[index] = faces.crop_face(frames[index], found[index])[0]
    mfcc_map = audio.mfcc(waveform)
    windows = len(window_starts(has_face, mfcc_map.shape[1]))
    if windows == 0:
        return {**result, "skipped": "no 0.2 s window with a face in all 5 frames"}
    shard = os.path.join("shards", result["split"], result["clip_id"] + ".tfrecord")
    _write_record(os.path.join(out, shard), encode_clip(result["clip_id"], result["split"], crops, has_face, mfcc_map))
    return {
        **result,
        "shard": shard,
        "frames": int(len(frames)),
        "frames_without_face": int((~has_face).sum()),
        "windows": windows,
        "seconds": round(len(frames) / VIDEO_FPS, 3),
        "alignment": alignment_for(detector),
    }


def _write_record(path, record):
    import tensorflow as tf

    tf.io.gfile.makedirs(os.path.dirname(path))
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"  # unique: a runner may retry a clip while its first try still runs
    with tf.io.TFRecordWriter(tmp) as writer:
        writer.write(record)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def _result_path(out, clip_id):
    return os.path.join(out, "clips", clip_id + ".json")


def finished_result(out, clip_id, detector):
    """The result an earlier run recorded for this clip, or None.

    A clip cropped another way counts as not done: one folder holds one alignment.
    """
    result = _read_json(_result_path(out, clip_id))
    if result is None or ("skipped" not in result and clip_alignment(result) != alignment_for(detector)):
        return None
    return result


def preprocess_video(path: str, root: str, out: str, detector: str = "cnn") -> dict:
    """The per-video work of every path: an earlier run's result, or the clip processed and marked done.

    Any error on one file makes it a skip with its reason; an unexpected one (not a
    MediaError) is not marked done, so a re-run tries that file again.
    """
    done = finished_result(out, clip_id_for(path, root), detector)
    if done is not None:
        return done
    try:
        result = process_clip(path, root, out, detector)
    except Exception as error:  # noqa: BLE001 - one bad file must not end a run of thousands
        return {**_describe(path, root)[0], "skipped": f"unexpected error: {type(error).__name__}: {error}"}
    _atomic_write(_result_path(out, result["clip_id"]), json.dumps(result))  # marks the clip done
    return result


def _preprocess_job(job):
    return preprocess_video(*job)


def _init_worker():
    import cv2
    import tensorflow as tf

    cv2.setNumThreads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)  # one clip per core
    tf.config.threading.set_inter_op_parallelism_threads(1)


def preprocess(videos: str, out: str, workers: int = 1, detector: str = "cnn", progress: bool = True) -> dict:
    """Preprocess every video under `videos` into shards under `out`; returns the manifest."""
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"`workers` must be >= 1; received {workers}")
    check_inputs(videos, detector)
    paths = find_videos(videos)
    results, pending = [], []
    for path in paths:
        done = finished_result(out, clip_id_for(path, videos), detector)
        if done is not None:
            results.append(done)
        else:
            pending.append((path, videos, out, detector))
    bar = tqdm(total=len(paths), initial=len(results), desc="preprocess", unit="clip", disable=not progress)
    if workers == 1 or len(pending) < 2:
        outcomes = map(_preprocess_job, pending)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(min(workers, len(pending)), initializer=_init_worker)
        outcomes = pool.imap_unordered(_preprocess_job, pending)
    try:
        for result in outcomes:
            results.append(result)
            bar.update(1)
            bar.set_postfix(skipped=sum("skipped" in r for r in results))
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    return write_manifest(out, results)


def write_manifest(out, results):
    clips = sorted((r for r in results if "skipped" not in r), key=lambda r: r["clip_id"])
    skipped = sorted(
        ({"source": r["source"], "reason": r["skipped"]} for r in results if "skipped" in r), key=lambda r: r["source"]
    )
    manifest = {
        "clips": clips,
        "skipped": skipped,
        "windows": {split: sum(c["windows"] for c in clips if c["split"] == split) for split in SPLITS},
        "clips_per_split": {split: sum(c["split"] == split for c in clips) for split in SPLITS},
        # Resumed runs redo clips cropped another way, so every clip here is aligned alike.
        "alignment": clip_alignment(clips[0]) if clips else None,
        "geometry": dict(GEOMETRY),  # the window numbers the shards were cut for; readers refuse others
    }
    _atomic_write(os.path.join(out, "manifest.json"), json.dumps(manifest, indent=1))
    return manifest
