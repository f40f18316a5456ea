import json
import os
import re
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_s2v import geometry
from keras_s2v.data.datasets import degrade, generator_dataset, quiet_frames, shift_images, standard_normal, syncnet_dataset
from keras_s2v.data.manifest import read_manifest
from keras_s2v.data.preprocess import preprocess
from keras_s2v.data.records import parse_clip
from keras_s2v.errors import MediaError
from keras_s2v.lab import synth
from keras_s2v.media import audio


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """3 speakers (train/val/test) x 2 clips of 2 s, a corrupt file and a silent video, preprocessed."""
    root = tmp_path_factory.mktemp("data")
    videos, out = root / "videos", root / "out"
    synth.write_corpus(videos, speakers=3, seconds=2.0, clips_per_speaker=2, seed=1, progress=False)
    (videos / "train" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(3000))
    from tests.helpers import make_video

    make_video(videos / "train" / "silent.mp4", num_frames=20)
    manifest = preprocess(str(videos), str(out), workers=1, detector="sidecar", progress=False)
    return videos, out, manifest


def test_preprocess_writes_shards_and_a_manifest(corpus):
    _, out, manifest = corpus
    assert len(manifest["clips"]) == 6
    assert manifest["clips_per_split"] == {"train": 2, "val": 2, "test": 2}
    for clip in manifest["clips"]:
        assert clip["frames"] == 50
        record = parse_clip(next(iter(tf.data.TFRecordDataset(str(out / clip["shard"])))))
        assert clip["windows"] == audio.num_windows(record["mfcc"].shape[1], 50) >= 45  # AAC pads a little audio
        np.testing.assert_array_equal(record["windows"], np.arange(clip["windows"]))
    assert manifest["geometry"] == {
        "face_size": 112,
        "window_frames": 5,
        "num_mfcc": 12,
        "steps_per_frame": 4,
        "sample_rate": 16000,
        "video_fps": 25,
    }
    assert json.load(open(out / "manifest.json")) == manifest


def _with_manifest(corpus, folder, edit):
    """A copy of the corpus's shards whose manifest.json went through `edit`."""
    shutil.copytree(corpus[1], folder)
    manifest = json.load(open(folder / "manifest.json"))
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_shards_made_for_another_geometry_are_refused(corpus, tmp_path):
    shards = _with_manifest(corpus, tmp_path / "old", lambda m: m["geometry"].update(face_size=96, window_frames=7))
    message = "shards made for 96x96 crops and 7-frame windows; this keras-s2v reads 112x112 crops and 5-frame windows: run `s2v preprocess` again"
    for read in (read_manifest, generator_dataset, syncnet_dataset):
        with pytest.raises(MediaError, match=re.escape(message)):
            read(str(shards))


def test_a_manifest_from_before_the_geometry_record_reads_as_today(corpus, tmp_path):
    shards = _with_manifest(corpus, tmp_path / "older", lambda m: m.pop("geometry"))
    assert "geometry" not in read_manifest(str(shards))
    (inputs, target) = next(iter(generator_dataset(str(shards), batch_size=2, deterministic=True)))
    assert target.shape == (2, 112, 112, 15)


def test_unusable_files_are_skipped_with_their_reasons(corpus):
    reasons = {s["source"]: s["reason"] for s in corpus[2]["skipped"]}
    assert reasons == {
        "train/corrupt.mp4": "not a video or image file that can be decoded",
        "train/silent.mp4": "the file has no audio track",
    }


def test_windows_decode_to_the_shapes_of_the_contract(corpus):
    (inputs, label) = next(iter(syncnet_dataset(corpus[1], batch_size=8, deterministic=True)))
    assert inputs["mfcc"].shape == (8, 12, 20, 1) and inputs["mouths"].shape == (8, 56, 112, 15)
    assert label.shape == (8, 1)
    (inputs, target) = next(iter(generator_dataset(corpus[1], batch_size=4, deterministic=True)))
    assert inputs["mfcc"].shape == (4, 12, 20, 1)
    assert inputs["identity"].shape == target.shape == (4, 112, 112, 15)
    assert 0.0 <= float(tf.reduce_min(target)) and float(tf.reduce_max(target)) <= 1.0
    np.testing.assert_array_equal(inputs["identity"], target)  # raw: the generator masks it itself
    assert inputs["reference"].shape == target.shape


def test_a_reference_is_a_window_of_the_same_clip_at_least_5_frames_away(corpus):
    from keras_s2v.evaluation.metrics import frame_windows
    from keras_s2v.evaluation.protocol import load_clips

    clips = [frame_windows(clip["frames"]) for clip in load_clips(corpus[1], "train")]
    gaps = []
    for inputs, _ in generator_dataset(corpus[1], batch_size=8, deterministic=True).take(4):
        for identity, reference in zip(inputs["identity"].numpy(), inputs["reference"].numpy()):
            ((clip, start),) = [
                (c, i) for c, windows in enumerate(clips) for i in np.flatnonzero((windows == identity).all(axis=(1, 2, 3)))
            ]
            starts = np.flatnonzero((clips[clip] == reference).all(axis=(1, 2, 3)))
            assert len(starts) == 1  # found in the same clip
            gaps.append(abs(int(starts[0]) - int(start)))
    assert min(gaps) >= 5 and len(set(gaps)) > 3  # drawn at random, never closer than one window


def test_a_still_reference_is_one_quiet_frame_5_times_at_least_5_frames_from_the_window(corpus):
    from keras_s2v.evaluation.metrics import frame_windows
    from keras_s2v.evaluation.protocol import load_clips
    from keras_s2v.windows import unstack_frames

    clips = list(load_clips(corpus[1], "train"))
    windows = [frame_windows(clip["frames"]) for clip in clips]
    gaps = []
    for inputs, _ in generator_dataset(corpus[1], batch_size=8, deterministic=True, still_reference_rate=1.0).take(4):
        for identity, reference in zip(inputs["identity"].numpy(), unstack_frames(inputs["reference"]).numpy()):
            ((clip, start),) = [
                (c, i) for c, w in enumerate(windows) for i in np.flatnonzero((w == identity).all(axis=(1, 2, 3)))
            ]
            assert (reference == reference[:1]).all()  # one frame, shown 5 times
            frames = np.flatnonzero((np.abs(clips[clip]["frames"] / 255.0 - reference[0]) < 1e-6).all(axis=(1, 2, 3)))
            assert len(frames) and quiet_frames({k: tf.constant(v) for k, v in clips[clip].items()}).numpy()[frames].all()
            gaps.append(min(abs(int(frame) - (start + offset)) for frame in frames for offset in range(5)))
    assert min(gaps) >= 5 and len(set(gaps)) > 3
    with pytest.raises(ValueError, match="still_reference_rate.*1.5"):
        generator_dataset(corpus[1], still_reference_rate=1.5)


def test_quiet_frames_are_the_silent_ones_with_a_face():
    rng = np.random.default_rng(0)
    mfcc = rng.normal(size=(audio.NUM_MFCC, 40 * geometry.STEPS_PER_FRAME)).astype(np.float32)
    silent = np.arange(10, 25)
    for frame in silent:
        mfcc[:, frame * geometry.STEPS_PER_FRAME : (frame + 1) * geometry.STEPS_PER_FRAME] = (-audio.MFCC_MEAN / audio.MFCC_STD)[
            :, None
        ]
    has_face = np.ones(40, bool)
    has_face[12] = False
    clip = {"frames": tf.zeros([40, 4, 4, 3], tf.uint8), "mfcc": tf.constant(mfcc), "has_face": tf.constant(has_face)}
    np.testing.assert_array_equal(np.flatnonzero(quiet_frames(clip).numpy()), np.setdiff1d(silent, [12]))


def test_syncnet_dataset_is_balanced_and_negatives_are_shifted(corpus):
    labels = []
    shard_dir = corpus[1]
    for _, label in syncnet_dataset(shard_dir, batch_size=16, deterministic=True, foreign_fraction=0.0):
        labels.append(label.numpy())
    labels = np.concatenate(labels)
    assert abs(labels.mean() - 0.5) < 0.03
    # Positives carry the window's own audio; with foreign_fraction=0 negatives come from
    # the same clip, >= 5 frames (20 MFCC columns) away, so their audio is never the aligned one.
    clip = next(iter(tf.data.TFRecordDataset(sorted(shard_dir.glob("shards/train/*.tfrecord"))[:1]).map(parse_clip)))
    from keras_s2v.data.datasets import _shifted_starts

    starts = tf.range(40)
    shifted, ok = _shifted_starts(starts, 45, tf.constant([1, 2]))
    assert bool(tf.reduce_all(ok)) and int(tf.reduce_min(tf.abs(shifted - starts))) >= 5
    assert int(tf.reduce_max(shifted)) <= 45 and int(tf.reduce_min(shifted)) >= 0
    shifted, ok = _shifted_starts(tf.constant([2]), 5, tf.constant([1, 2]))  # a clip too short to shift
    assert not bool(ok[0])
    assert clip["frames"].shape[1:] == (112, 112, 3)


def test_syncnet_validation_windows_are_the_same_on_every_pass_and_training_draws_anew(corpus):
    def passes(dataset):
        return [np.concatenate([inputs["mfcc"].numpy() for inputs, _ in dataset.take(4)]) for _ in range(2)]

    # Every negative from another clip, so the other clips' audio drawn is all that could differ.
    first, second = passes(syncnet_dataset(corpus[1], batch_size=8, shuffle=False, foreign_fraction=1.0, deterministic=True))
    np.testing.assert_array_equal(first, second)
    first, second = passes(syncnet_dataset(corpus[1], batch_size=8, seed=0, foreign_fraction=1.0))
    assert not np.array_equal(first, second)


def test_deterministic_mode_repeats_and_augmentation_switches(corpus):
    def first(**kwargs):
        return next(iter(generator_dataset(corpus[1], batch_size=4, deterministic=True, **kwargs)))[1].numpy()

    np.testing.assert_array_equal(first(), first())
    augmented = first(augment_frames=True)
    np.testing.assert_array_equal(augmented, first(augment_frames=True))
    assert np.abs(augmented - first()).mean() > 0.005


def test_datasets_run_without_the_autotune_thread_that_stalls_iterator_deletion(corpus):
    # Deleting an iterator waits for tf.data's autotuning thread, which sleeps up to a minute:
    # Keras deletes the validation iterator every epoch (TRAINING.md, "speed").
    for dataset in (generator_dataset(corpus[1], "val", 4, shuffle=False), syncnet_dataset(corpus[1], batch_size=4)):
        assert dataset.options().autotune.enabled is False
        assert next(iter(dataset))[1].shape[0] == 4


def test_degrade_blurs_some_windows_and_keeps_others():
    images = tf.constant(np.random.default_rng(0).random((64, 56, 112, 15)), tf.float32)
    degraded = degrade(images, tf.constant([1, 2], tf.int64), noise=0.0).numpy()
    change = np.abs(degraded - images.numpy()).mean(axis=(1, 2, 3))
    assert degraded.shape == images.shape
    assert (change == 0).sum() > 5, "about a third of the windows stay sharp"
    assert (change > 0.1).sum() > 5, "blurring white noise changes it a lot"
    # A blurred window is smooth: neighbouring pixels differ far less than in the original.
    blurred = degraded[change > 0.1]
    assert np.abs(np.diff(blurred, axis=2)).mean() < 0.5 * np.abs(np.diff(images.numpy(), axis=2)).mean()
    # Each blurred window is the area resize down by 2 or 4 and bilinear back up.
    for was_blurred, original, window in zip(change > 0.1, images, degraded):
        if was_blurred:
            versions = [
                tf.image.resize(tf.image.resize(original[None], [56 // f, 112 // f], "area"), [56, 112], "bilinear")[0].numpy()
                for f in (2, 4)
            ]
            assert min(np.abs(window - version).max() for version in versions) < 1e-5


def test_shift_images_moves_whole_pixels_and_repeats_the_edge_like_nearest_fill():
    images = tf.constant(np.random.default_rng(1).random((9, 20, 30, 6)), tf.float32)
    shifts = tf.constant([[dx, dy] for dx in (-4, 0, 3) for dy in (-2, 0, 4)], tf.int32)
    ones, zeros = tf.ones([9]), tf.zeros([9])
    offsets = -tf.cast(shifts, tf.float32)
    transforms = tf.stack([ones, zeros, offsets[:, 0], zeros, ones, offsets[:, 1], zeros, zeros], axis=1)
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[20, 30], fill_value=0.0, interpolation="NEAREST", fill_mode="NEAREST"
    )
    np.testing.assert_array_equal(shift_images(images, shifts).numpy(), expected.numpy())
    # (dx, dy) = (3, 4): pixel (y, x) comes from (y - 4, x - 3), the first rows and columns repeat the edge.
    moved, original = shift_images(images, shifts).numpy()[8], images.numpy()[8]
    np.testing.assert_array_equal(moved[10, 10], original[6, 7])
    np.testing.assert_array_equal(moved[0, 0], original[0, 0])


def test_standard_normal_has_the_moments_and_tails_of_a_gaussian():
    noise = standard_normal(tf.constant([301, 7, 11]), tf.constant([5, 6], tf.int64)).numpy()
    assert noise.shape == (301, 7, 11)
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 1.0) < 0.02
    assert abs(np.mean(np.abs(noise) > 1.96) - 0.05) < 0.006
    np.testing.assert_array_equal(noise, standard_normal(tf.constant([301, 7, 11]), tf.constant([5, 6], tf.int64)).numpy())


def test_missing_shards_are_a_clear_error(tmp_path):
    with pytest.raises(MediaError, match="no train shards"):
        syncnet_dataset(tmp_path)


def test_a_second_run_skips_finished_clips_and_resumes_after_a_kill(corpus, tmp_path):
    videos, out, manifest = corpus
    resumed = tmp_path / "out"
    shutil.copytree(out, resumed)
    # A killed run: one clip's result and shard never got written.
    victim = manifest["clips"][0]
    os.remove(resumed / "clips" / f"{victim['clip_id']}.json")
    os.remove(resumed / victim["shard"])
    stamps = {c["clip_id"]: os.path.getmtime(resumed / c["shard"]) for c in manifest["clips"][1:]}
    again = preprocess(str(videos), str(resumed), workers=1, detector="sidecar", progress=False)
    assert again == manifest
    assert all(os.path.getmtime(resumed / c["shard"]) == stamps[c["clip_id"]] for c in manifest["clips"][1:])


def test_shards_record_their_alignment_and_another_detector_redoes_them(corpus, tmp_path):
    videos, out, manifest = corpus
    assert manifest["alignment"] == "box-v1" and all(c["alignment"] == "box-v1" for c in manifest["clips"])
    resumed = tmp_path / "out"
    shutil.copytree(out, resumed)
    # A clip written before alignments were recorded was cropped by its box: it stays.
    old = manifest["clips"][0]
    result_path = resumed / "clips" / f"{old['clip_id']}.json"
    result_path.write_text(json.dumps({k: v for k, v in old.items() if k != "alignment"}))
    stamp = os.path.getmtime(resumed / old["shard"])
    preprocess(str(videos), str(resumed), workers=1, detector="sidecar", progress=False)
    assert os.path.getmtime(resumed / old["shard"]) == stamp
    # The CNN crops by the landmarks: every clip is done again, so the folder holds one alignment.
    again = preprocess(str(videos), str(resumed), workers=1, detector="cnn", progress=False)
    assert again["alignment"] == "landmarks-v1" and len(again["clips"]) == 6
    assert all(c["alignment"] == "landmarks-v1" for c in again["clips"])


def test_parallel_workers_give_the_same_shards(corpus, tmp_path):
    videos, out, manifest = corpus
    parallel = preprocess(str(videos), str(tmp_path / "p"), workers=2, detector="sidecar", progress=False)
    assert parallel == manifest
    for clip in manifest["clips"]:
        serial_clip, parallel_clip = (
            parse_clip(next(iter(tf.data.TFRecordDataset(str(root / clip["shard"]))))) for root in (out, tmp_path / "p")
        )
        np.testing.assert_array_equal(serial_clip["frames"], parallel_clip["frames"])
        # Workers run TF on one thread: the MFCC sums in another order.
        np.testing.assert_allclose(serial_clip["mfcc"], parallel_clip["mfcc"], atol=1e-4)


def test_haar_detector_finds_the_synthetic_faces(corpus, tmp_path):
    videos = tmp_path / "v"
    (videos / "train").mkdir(parents=True)
    shutil.copy(corpus[0] / "train" / "spk000_clip0.mp4", videos / "train")
    manifest = preprocess(str(videos), str(tmp_path / "haar"), detector="haar", progress=False)
    assert len(manifest["clips"]) == 1 and manifest["clips"][0]["windows"] > 20


def test_alignment_end_to_end_mouth_and_mfcc_energy_coincide(tmp_path):
    """A clip silent for 1 s, then an open vowel: both modalities switch on at frame 25."""
    videos = tmp_path / "videos" / "train"
    videos.mkdir(parents=True)
    speaker = synth.sample_speaker(0, "train", seed=3)
    script = [("pause", 1.0), ("a", 0.6), ("pause", 0.6)]
    synth.write_clip(str(videos / "onset.mp4"), speaker, script, seed=4)
    preprocess(str(tmp_path / "videos"), str(tmp_path / "out"), detector="sidecar", progress=False)
    record = next(iter(tf.data.TFRecordDataset(str(tmp_path / "out" / "shards" / "train" / "train__onset.tfrecord"))))
    clip = parse_clip(record)
    first = 23  # window 23 holds frames 23..27 and MFCC columns 92..111
    mfcc_window = audio.mfcc_window(clip["mfcc"].numpy(), first)[..., 0]
    change = np.linalg.norm(mfcc_window - mfcc_window[:, :1], axis=0)
    column = first * 4 + np.flatnonzero(change > 0.5 * change.max())[0]
    # Column k spans samples [160k, 160k + 400): place it at its centre.
    sound_frame = int((column * audio.HOP_LENGTH + audio.FRAME_LENGTH / 2) / audio.SAMPLE_RATE * geometry.VIDEO_FPS)

    lower = np.stack([cv2.GaussianBlur(f, (7, 7), 0) for f in clip["frames"].numpy()[first : first + 5, 56:]]).astype(float)
    opening = np.abs(lower - lower[0]).mean(axis=(1, 2, 3))
    mouth_frame = first + np.flatnonzero(opening > 0.5 * opening.max())[0]
    assert sound_frame == mouth_frame == 25


def test_even_and_odd_clips_are_disjoint_halves(corpus):
    from keras_s2v.data.datasets import shard_files

    every, even, odd = (shard_files(corpus[1], "train", clips) for clips in ("all", "even", "odd"))
    assert sorted(even + odd) == every and not set(even) & set(odd) and len(even) == len(odd) == 1
    with pytest.raises(ValueError, match="`clips` must be one of"):
        shard_files(corpus[1], "train", "half")


def test_a_seeded_training_dataset_gives_the_same_batches_every_time(corpus):
    # Worker threads used to order the windows as they finished: two demo runs of one seed
    # trained different generators (docs/experiments.md, fifteenth entry).
    def batches(make):
        return [batch[1].numpy() for batch in make().take(6)]

    for make in (
        lambda: syncnet_dataset(corpus[1], batch_size=8, augment_frames=True, seed=3, repeat=True),
        lambda: generator_dataset(corpus[1], batch_size=4, augment_frames=True, seed=3, repeat=True),
    ):
        first, again = batches(make), batches(make)
        for one, other in zip(first, again, strict=True):
            np.testing.assert_array_equal(one, other)
