"""tf.data pipelines over the preprocessed shards.

syncnet_dataset   -> ({"mfcc", "mouths"}, label), balanced positives and negatives
generator_dataset -> ({"mfcc", "identity", "reference"}, target)
"""

import math
import os

import tensorflow as tf

from keras_s2v.data.corpus import CLIP_SUBSETS
from keras_s2v.data.manifest import check_shards
from keras_s2v.data.records import parse_clip
from keras_s2v.errors import MediaError
from keras_s2v.geometry import FRAME_CHANNELS, MIN_REFERENCE_GAP, STEPS_PER_FRAME, WINDOW_CHANNELS, WINDOW_FRAMES, WINDOW_STEPS
from keras_s2v.media.audio import MFCC_MEAN, MFCC_STD
from keras_s2v.windows import mouths, stack_frames

AUTOTUNE = tf.data.AUTOTUNE

# tf.data's autotuning thread sleeps up to a minute between rounds, and deleting an iterator
# waits for it to wake (TF 2.21): Keras deletes the validation iterator before each evaluation,
# so every other generator epoch lost 35-38 s of 80 (measured). AUTOTUNE then means one
# worker per core, which is what autotuning chose on 2 cores anyway.
_NO_AUTOTUNE_THREAD = tf.data.Options()
_NO_AUTOTUNE_THREAD.autotune.enabled = False

MIN_NEGATIVE_SHIFT = 5  # frames: a negative's audio is at least this far from the mouths


def shard_files(shards_dir: str, split: str, clips: str = "all") -> list[str]:
    """The shards of one split, from a `s2v preprocess --out` folder (local or gs://...).

    `clips="even"` / `"odd"` keep every other clip in name order: two disjoint halves, so two
    SyncNets (the expert and the evaluation one) can be trained on different clips.
    Every reader of shards comes here, so here shards cut for other windows are refused (MediaError).
    """
    if clips not in CLIP_SUBSETS:
        raise ValueError(f"`clips` must be one of {CLIP_SUBSETS}; received {clips!r}")
    check_shards(shards_dir)
    files = sorted(tf.io.gfile.glob(os.path.join(shards_dir, "shards", split, "*.tfrecord")))
    files = files if clips == "all" else files[clips == "odd" :: 2]
    if not files:
        raise MediaError(shards_dir, f"no {split} shards (expected shards/{split}/*.tfrecord from `s2v preprocess`)")
    return files


def _clips(files, shuffle, seed, deterministic, decode_frames=True, reshuffle=True):
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=reshuffle)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset, cycle_length=min(4, len(files)), num_parallel_calls=AUTOTUNE, deterministic=deterministic
    )
    return dataset.map(lambda record: parse_clip(record, decode_frames), AUTOTUNE, deterministic=deterministic)


def _frame_window(frames, start):
    return tf.cast(stack_frames(frames[start : start + WINDOW_FRAMES]), tf.uint8)


def _mfcc_window(mfcc, start):
    return mfcc[:, STEPS_PER_FRAME * start : STEPS_PER_FRAME * start + WINDOW_STEPS, None]


def _shifted_starts(starts, max_start, seed, gap=MIN_NEGATIVE_SHIFT):
    """For each start f, a start g in [0, max_start] with |g - f| >= gap, uniform; and whether one exists."""
    lower = tf.maximum(0, starts - gap + 1)
    upper = tf.minimum(max_start, starts + gap - 1)
    excluded = upper - lower + 1
    allowed = max_start + 1 - excluded
    draw = tf.random.stateless_uniform(tf.shape(starts), seed, 0.0, 1.0)
    pick = tf.cast(tf.floor(draw * tf.cast(tf.maximum(allowed, 1), tf.float32)), tf.int32)
    shifted = tf.where(pick < lower, pick, pick + excluded)
    return shifted, allowed > 0


def _repeatable(deterministic, seed):
    """(deterministic, seed): a seeded dataset gives the same batches on every run unless told
    otherwise, since a training run must repeat to be judged (two demo runs of one seed read 0.93x
    and 0.47x when worker threads ordered the windows); a deterministic one without a seed takes 0."""
    if deterministic is None:
        deterministic = seed is not None
    return deterministic, 0 if deterministic and seed is None else seed


def _seeds(seed):
    """A stream of stateless-random seeds: fixed for a given `seed`, fresh when None."""
    return tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)


def augment(images, seed, max_shift=4):
    """Brightness and colour jitter and a small shift, the same for all frames of a window.

    images: (B, H, W, C) float32 in [0, 1], C a multiple of 3 (a window, or a window and its
    reference side by side); seed: a stateless-random seed of shape (2,).
    """
    brightness_seed, colour_seed, shift_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    batch = tf.shape(images)[0]
    brightness = tf.random.stateless_uniform([batch, 1, 1, 1], brightness_seed, -0.08, 0.08)
    frames = images.shape[-1] // FRAME_CHANNELS
    gains = tf.tile(tf.random.stateless_uniform([batch, 1, 1, FRAME_CHANNELS], colour_seed, 0.9, 1.1), [1, 1, 1, frames])
    images = tf.clip_by_value(images * gains + brightness, 0.0, 1.0)
    shifts = tf.cast(tf.round(tf.random.stateless_uniform([batch, 2], shift_seed, -max_shift, max_shift + 1e-3)), tf.int32)
    return shift_images(images, shifts)


def shift_images(images, shifts):
    """Each image moved by whole pixels, `shifts` (B, 2) int32 as (dx, dy), repeating its edge.

    Two gathers: the pixels of ImageProjectiveTransformV3 with nearest fill, at a quarter of its cost.
    """
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.clip_by_value(tf.range(height)[None] - shifts[:, 1:], 0, height - 1)
    columns = tf.clip_by_value(tf.range(width)[None] - shifts[:, :1], 0, width - 1)
    return tf.gather(tf.gather(images, rows, axis=1, batch_dims=1), columns, axis=2, batch_dims=1)


def standard_normal(shape, seed):
    """Standard normal noise by Box-Muller from stateless uniforms.

    On CPU it costs half of `tf.random.stateless_normal` (10 ms against 19 for a batch of 32
    mouth windows), which was half of the SyncNet's input pipeline (docs/experiments.md, "Recipe version 9").
    """
    size = tf.reduce_prod(shape)
    half = (size + 1) // 2
    uniform = tf.random.stateless_uniform([2, half], seed, minval=1e-7, maxval=1.0)
    radius = tf.sqrt(-2.0 * tf.math.log(uniform[0]))
    angle = 2.0 * math.pi * uniform[1]
    return tf.reshape(tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], 0)[:size], shape)


def degrade(images, seed, noise=0.03):
    """Per window: unchanged, or blurred by a 2x or 4x down-and-up resize, plus a little noise.

    A generator's mouths are blurrier than real ones; an expert that has only seen sharp
    mouths answers them with arbitrary gradients, which the generator learns to exploit.
    Only the windows picked are blurred, and average pooling is the area resize where the size
    divides, at a fifth of its cost.
    """
    level_seed, noise_seed, amount_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    batch, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    level = tf.random.stateless_uniform([batch], level_seed, 0, 3, tf.int32)
    for factor, blurred_level in ((2, 1), (4, 2)):
        picked = tf.where(level == blurred_level)
        small = tf.nn.avg_pool2d(tf.gather_nd(images, picked), factor, factor, "SAME")
        images = tf.tensor_scatter_nd_update(images, picked, tf.image.resize(small, [height, width], "bilinear"))
    amount = tf.random.stateless_uniform([batch, 1, 1, 1], amount_seed, 0.0, noise)
    return tf.clip_by_value(images + amount * standard_normal(tf.shape(images), noise_seed), 0.0, 1.0)


def _finish(dataset, batch_size, to_inputs, shuffle, shuffle_buffer, augment_frames, seed, repeat):
    if repeat:
        dataset = dataset.repeat()
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = tf.data.Dataset.zip(dataset, _seeds(None if seed is None else seed + 2))
    dataset = dataset.map(lambda batch, s: to_inputs(batch, s, augment_frames), AUTOTUNE).prefetch(AUTOTUNE)
    return dataset.with_options(_NO_AUTOTUNE_THREAD)


def syncnet_dataset(
    shards_dir: str,
    split: str = "train",
    batch_size: int = 32,
    shuffle: bool = True,
    augment_frames: bool = False,
    foreign_fraction: float = 0.25,
    deterministic: bool | None = None,
    seed: int | None = None,
    repeat: bool = False,
    shuffle_buffer: int = 1024,
    clips: str = "all",
) -> tf.data.Dataset:
    """({"mfcc", "mouths"}, label) batches, half positives (aligned windows) and half negatives.

    `augment_frames` jitters colour and position and degrades (blurs, adds noise to) the mouths.

    A negative pairs the mouths with audio of the same clip shifted by >= 5 frames or,
    with probability `foreign_fraction` (or when the clip is too short), audio of another clip.
    """
    if not 0.0 <= foreign_fraction <= 1.0:
        raise ValueError(f"`foreign_fraction` must be in [0, 1]; received {foreign_fraction}")
    deterministic, seed = _repeatable(deterministic, seed)
    files = shard_files(shards_dir, split, clips)

    def clip_windows(clip, clip_seed):
        starts = clip["windows"]
        max_start = (tf.shape(clip["mfcc"])[1] - WINDOW_STEPS) // STEPS_PER_FRAME
        shifted, has_shift = _shifted_starts(starts, max_start, clip_seed)

        def window(start, shift, ok):
            frames = _frame_window(clip["frames"], start)
            return _mfcc_window(clip["mfcc"], start), mouths(frames), _mfcc_window(clip["mfcc"], shift), ok

        return tf.data.Dataset.from_tensor_slices((starts, shifted, has_shift)).map(window)

    def foreign_windows(clip):
        return tf.data.Dataset.from_tensor_slices(clip["windows"]).map(lambda start: _mfcc_window(clip["mfcc"], start))

    clips = tf.data.Dataset.zip(_clips(files, shuffle, seed, deterministic), _seeds(seed))
    windows = clips.interleave(clip_windows, cycle_length=4, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    # Unshuffled (validation), the other clips' audio is drawn alike on every pass, so that its figures depend on
    # the weights alone: drawn anew, a SyncNet's validation loss at one epoch depended on how many came before.
    foreign_seed = None if seed is None else seed + 1
    foreign = _clips(files, True, foreign_seed, deterministic, decode_frames=False, reshuffle=shuffle)
    foreign = foreign.flat_map(foreign_windows).repeat().shuffle(256, seed=foreign_seed, reshuffle_each_iteration=shuffle)

    def pair(window, other, pick_seed):
        mfcc, mouth_frames, shifted_mfcc, has_shift = window
        use_foreign = tf.logical_or(tf.random.stateless_uniform([], pick_seed) < foreign_fraction, tf.logical_not(has_shift))
        negative = tf.where(use_foreign, other, shifted_mfcc)
        return tf.stack([mfcc, negative]), tf.stack([mouth_frames, mouth_frames]), tf.constant([1.0, 0.0])

    pairs = tf.data.Dataset.zip(windows, foreign, _seeds(None if seed is None else seed + 3))
    examples = pairs.map(pair, AUTOTUNE, deterministic=deterministic).unbatch()

    def to_inputs(batch, batch_seed, augment_frames):
        mfcc, mouth_frames, label = batch
        mouth_frames = tf.cast(mouth_frames, tf.float32) / 255.0
        if augment_frames:
            jitter_seed, degrade_seed = tf.unstack(tf.random.experimental.stateless_split(batch_seed, 2))
            mouth_frames = degrade(augment(mouth_frames, jitter_seed), degrade_seed)
        return {"mfcc": mfcc, "mouths": mouth_frames}, label[:, None]

    return _finish(examples, batch_size, to_inputs, shuffle, shuffle_buffer, augment_frames, seed, repeat)


def quiet_frames(clip):
    """(N,) bool: the clip's frames whose audio is nearest silence, the quietest quarter and ties.

    Silence is the MFCC of a silent frame (every coefficient at its normalized zero); a frame's
    distance is the largest of its 4 steps' coefficients from it. Where the audio has silences,
    these are the frames with the mouth shut.
    """
    frames = tf.minimum(tf.shape(clip["frames"])[0], tf.shape(clip["mfcc"])[1] // STEPS_PER_FRAME)
    silence = tf.constant(-MFCC_MEAN / MFCC_STD)[:, None]
    steps = tf.abs(clip["mfcc"][:, : frames * STEPS_PER_FRAME] - silence)
    distance = tf.reduce_max(tf.reshape(tf.reduce_max(steps, axis=0), [frames, STEPS_PER_FRAME]), axis=1)
    quarter = tf.sort(distance)[frames // 4]
    quiet = tf.logical_and(distance <= quarter, clip["has_face"][:frames])
    return tf.pad(quiet, [[0, tf.shape(clip["frames"])[0] - frames]])


def _still_references(starts, candidates, seed):
    """For each window start, a frame among `candidates` (N,) bool at least MIN_REFERENCE_GAP
    frames from every frame of the window, uniform; and whether one exists."""
    frame = tf.range(tf.shape(candidates)[0])[None]
    far = tf.logical_or(
        frame <= starts[:, None] - MIN_REFERENCE_GAP, frame >= starts[:, None] + WINDOW_FRAMES - 1 + MIN_REFERENCE_GAP
    )
    allowed = tf.logical_and(far, candidates[None])
    draw = tf.random.stateless_uniform(tf.shape(allowed), seed)
    return tf.argmax(tf.where(allowed, draw, -1.0), axis=1, output_type=tf.int32), tf.reduce_any(allowed, axis=1)


def generator_dataset(
    shards_dir: str,
    split: str = "train",
    batch_size: int = 16,
    shuffle: bool = True,
    augment_frames: bool = False,
    deterministic: bool | None = None,
    seed: int | None = None,
    repeat: bool = False,
    shuffle_buffer: int = 512,
    still_reference_rate: float = 0.0,
) -> tf.data.Dataset:
    """({"mfcc", "identity", "reference"}, target) batches.

    identity is the target window itself (the generator masks it); reference is a window of
    the same clip whose start is at least MIN_REFERENCE_GAP frames away, drawn at random as
    Wav2Lip does, so its mouth is in another state; a clip too short for one uses the window
    itself, as a still image does. With probability `still_reference_rate` the reference is
    instead one frame shown 5 times, as a still photo's is, drawn among the clip's quiet
    frames (`quiet_frames`: mouth shut, as most photos have it) at least MIN_REFERENCE_GAP
    frames from the window. Augmentation treats the two alike, as one video.
    """
    if not 0.0 <= still_reference_rate <= 1.0:
        raise ValueError(f"`still_reference_rate` must be in [0, 1]; received {still_reference_rate}")
    deterministic, seed = _repeatable(deterministic, seed)
    files = shard_files(shards_dir, split)

    def clip_windows(clip, clip_seed):
        starts = clip["windows"]
        max_start = tf.shape(clip["frames"])[0] - WINDOW_FRAMES
        references, has_reference = _shifted_starts(starts, max_start, clip_seed, MIN_REFERENCE_GAP)
        references = tf.where(has_reference, references, starts)
        if still_reference_rate:
            still_seed, rate_seed = tf.unstack(tf.random.experimental.stateless_split(clip_seed, 2))
            stills, has_still = _still_references(starts, quiet_frames(clip), still_seed)
            use_still = tf.logical_and(has_still, tf.random.stateless_uniform(tf.shape(starts), rate_seed) < still_reference_rate)
        else:  # no quiet frames to find
            stills, use_still = starts, tf.zeros_like(starts, tf.bool)

        def example(start, reference, still, use_still):
            reference_frames = tf.cond(
                use_still,
                lambda: tf.cast(stack_frames(tf.repeat(clip["frames"][still][None], WINDOW_FRAMES, axis=0)), tf.uint8),
                lambda: _frame_window(clip["frames"], reference),
            )
            return _mfcc_window(clip["mfcc"], start), _frame_window(clip["frames"], start), reference_frames

        return tf.data.Dataset.from_tensor_slices((starts, references, stills, use_still)).map(example)

    clips = tf.data.Dataset.zip(_clips(files, shuffle, seed, deterministic), _seeds(None if seed is None else seed + 4))
    examples = clips.interleave(clip_windows, cycle_length=4, num_parallel_calls=AUTOTUNE, deterministic=deterministic)

    def to_inputs(batch, batch_seed, augment_frames):
        mfcc, frames, reference = batch
        both = tf.cast(tf.concat([frames, reference], axis=-1), tf.float32) / 255.0
        if augment_frames:
            both = augment(both, batch_seed)
        target, reference = both[..., :WINDOW_CHANNELS], both[..., WINDOW_CHANNELS:]
        return {"mfcc": mfcc, "identity": target, "reference": reference}, target

    return _finish(examples, batch_size, to_inputs, shuffle, shuffle_buffer, augment_frames, seed, repeat)
