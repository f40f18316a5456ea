"""Real videos -> TFRecord shards: decode at 25 fps, track the face, crop it aligned, MFCC.

Resumable: each clip ends in a result file (clips/<id>.json) written after its
shard, so a second run skips what is done and a killed run loses at most the
clips in progress. Unusable files are skipped with their reason, never fatal.
"""

import hashlib
import json
import multiprocessing
import os
import tempfile

import numpy as np

from keras_s2v import audio, faces, video
from keras_s2v.errors import MediaError
from keras_s2v.synth import SPLITS, sidecar_path

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}


def find_videos(folder):
    found = []
    for root, _, names in os.walk(folder):
        found += [os.path.join(root, n) for n in names if os.path.splitext(n)[1].lower() in VIDEO_EXTENSIONS]
    return sorted(found)


def clip_id_for(path, root):
    return os.path.splitext(os.path.relpath(path, root))[0].replace(os.sep, "__")


def split_for(path, root, sidecar=None):
    """A train/val/test folder in the path wins, then the sidecar's split, then a stable hash (90/5/5)."""
    for part in os.path.relpath(path, root).split(os.sep)[:-1]:
        if part in SPLITS:
            return part
    if sidecar and sidecar.get("split") in SPLITS:
        return sidecar["split"]
    bucket = int(hashlib.sha1(clip_id_for(path, root).encode()).hexdigest(), 16) % 20
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def _read_sidecar(path):
    try:
        with open(sidecar_path(path)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _atomic_write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())
    os.replace(tmp, path)


def alignment_for(detector):
    """How `detector`'s crops are aligned: by the landmarks (cnn) or by the box (the others)."""
    return faces.ALIGN_LANDMARKS if detector == "cnn" else faces.ALIGN_BOX


def clip_alignment(result):
    """Clips written before alignments were recorded were cropped by their boxes."""
    return result.get("alignment", faces.ALIGN_BOX)


def process_clip(path, root, out, detector="cnn"):
    """Preprocess one video; returns its result dict (with `skipped` set if it was unusable)."""
    from keras_s2v.data.records import encode_clip, window_starts

    clip_id = clip_id_for(path, root)
    sidecar = _read_sidecar(path)
    result = {"clip_id": clip_id, "source": os.path.relpath(path, root), "split": split_for(path, root, sidecar)}
    try:
        frames = video.read_frames(path)
        waveform = audio.load_audio(path)
        audio.require_window(waveform, path)
        if detector == "sidecar":
            if not sidecar or "boxes" not in sidecar:
                raise MediaError(path, "no sidecar JSON with face boxes")
            found = faces.track_faces(frames, faces.FixedBoxDetector(sidecar["boxes"]))
        else:
            found = faces.track_faces(frames, faces.make_detector(detector))
        faces.require_faces(found, path)
    except MediaError as error:
        return {**result, "skipped": error.reason}
    has_face = np.array([face is not None for face in found])
    crops = np.zeros((len(frames), faces.CROP_SIZE, faces.CROP_SIZE, 3), np.uint8)
    for index in np.flatnonzero(has_face):
        crops[index] = faces.crop_face(frames[index], found[index])[0]
    mfcc_map = audio.mfcc(waveform)
    windows = len(window_starts(has_face, mfcc_map.shape[1]))
    if windows == 0:
        return {**result, "skipped": "no 0.2 s window with a face in all 5 frames"}
    shard = os.path.join("shards", result["split"], clip_id + ".tfrecord")
    _write_record(os.path.join(out, shard), encode_clip(clip_id, result["split"], crops, has_face, mfcc_map))
    return {
        **result,
        "shard": shard,
        "frames": int(len(frames)),
        "frames_without_face": int((~has_face).sum()),
        "windows": windows,
        "seconds": round(len(frames) / audio.VIDEO_FPS, 3),
        "alignment": alignment_for(detector),
    }


def _write_record(path, record):
    import tensorflow as tf

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with tf.io.TFRecordWriter(tmp) as writer:
        writer.write(record)
    os.replace(tmp, path)


def _result_path(out, clip_id):
    return os.path.join(out, "clips", clip_id + ".json")


def _read_result(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _process_and_record(job):
    path, root, out, detector = job
    result = process_clip(path, root, out, detector)
    _atomic_write(_result_path(out, result["clip_id"]), json.dumps(result))  # marks the clip done
    return result


def _init_worker():
    import cv2
    import tensorflow as tf

    cv2.setNumThreads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)  # one clip per core
    tf.config.threading.set_inter_op_parallelism_threads(1)


def preprocess(videos, out, workers=1, detector="cnn", progress=True):
    """Preprocess every video under `videos` into shards under `out`; returns the manifest."""
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"`workers` must be >= 1; received {workers}")
    if not os.path.isdir(videos):
        raise MediaError(videos, "no such folder")
    if detector != "sidecar":
        try:
            faces.make_detector(detector)  # a bad spec or cascade fails here, once, not per clip
        except ValueError:
            raise ValueError(f"face detector must be {faces.DETECTOR_SPECS} or 'sidecar'; received {detector!r}") from None
    paths = find_videos(videos)
    results, pending = [], []
    for path in paths:
        done = _result_path(out, clip_id_for(path, videos))
        result = _read_result(done)
        # A clip cropped another way is done again: one folder holds one alignment.
        if result is not None and ("skipped" in result or clip_alignment(result) == alignment_for(detector)):
            results.append(result)
        else:
            pending.append((path, videos, out, detector))
    bar = tqdm(total=len(paths), initial=len(results), desc="preprocess", unit="clip", disable=not progress)
    if workers == 1 or len(pending) < 2:
        outcomes = map(_process_and_record, pending)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(min(workers, len(pending)), initializer=_init_worker)
        outcomes = pool.imap_unordered(_process_and_record, pending)
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
    skipped = sorted(({"source": r["source"], "reason": r["skipped"]} for r in results if "skipped" in r), key=lambda r: r["source"])
    manifest = {
        "clips": clips,
        "skipped": skipped,
        "windows": {split: sum(c["windows"] for c in clips if c["split"] == split) for split in SPLITS},
        "clips_per_split": {split: sum(c["split"] == split for c in clips) for split in SPLITS},
        # Resumed runs redo clips cropped another way, so every clip here is aligned alike.
        "alignment": clip_alignment(clips[0]) if clips else None,
    }
    _atomic_write(os.path.join(out, "manifest.json"), json.dumps(manifest, indent=1))
    return manifest
