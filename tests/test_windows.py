import numpy as np
import pytest
import tensorflow as tf

from keras_s2v.geometry import MIN_REFERENCE_GAP, MOUTH_ROW, REFERENCE_GAP, WINDOW_FRAMES
from keras_s2v.windows import (
    REFERENCE_REACH,
    frame_changes,
    image_gradients,
    mouths,
    pick_reference,
    reference_indices,
    stack_frames,
    unstack_frames,
    window_plan,
)
from tests.helpers import ping_pong


def test_stacking_frames_on_channels_round_trips():
    frames = tf.random.uniform((2, 5, 8, 8, 3))
    stacked = stack_frames(frames)
    assert stacked.shape == (2, 8, 8, 15)
    np.testing.assert_array_equal(stacked[..., 3:6], frames[:, 1])
    np.testing.assert_array_equal(unstack_frames(stacked), frames)


@pytest.mark.parametrize("static", [True, False])
def test_the_parts_the_losses_take_are_the_slices_in_value_and_in_gradient(static):
    def parts(x):
        return mouths(x), frame_changes(x), *image_gradients(x)

    def slices(x):
        down, across = x[..., 1:, :, :] - x[..., :-1, :, :], x[..., :, 1:, :] - x[..., :, :-1, :]
        return x[..., MOUTH_ROW:, :, :], x[..., 3:] - x[..., :-3], down, across

    # Not static: every length unknown until the call, as in a graph traced for any window size.
    @tf.function(input_signature=[tf.TensorSpec((2, 112, 112, 15) if static else (None,) * 4, tf.float32)])
    def taken_and_gradients(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            taken = [part_of(x) for part_of in (parts, slices)]
            # A loss that weighs each part differently and each value non-linearly: a misplaced gradient shows.
            losses = [tf.add_n([(k + 1) * tf.reduce_sum(tf.sin(part)) for k, part in enumerate(each)]) for each in taken]
        return taken, [tape.gradient(loss, x) for loss in losses]

    (taken, sliced), (taken_gradient, sliced_gradient) = taken_and_gradients(tf.random.uniform((2, 112, 112, 15), seed=1))
    for part, want in zip(taken, sliced):
        np.testing.assert_array_equal(part, want)
    # The same terms, which the tape may add up in another order: equal to float32's rounding.
    np.testing.assert_allclose(taken_gradient, sliced_gradient, rtol=0, atol=1e-5)
    assert float(tf.reduce_max(tf.abs(taken_gradient))) > 0


def test_a_forward_video_takes_the_frame_10_away_never_closer_than_5():
    picks = reference_indices(200)
    gaps = np.abs(np.array(picks) - np.arange(200))
    assert gaps.min() >= MIN_REFERENCE_GAP and (gaps == REFERENCE_GAP).all()
    assert picks[:3] == [10, 11, 12] and picks[-1] == 189


@pytest.mark.parametrize("count", [6, 7, 10, 12])
def test_in_a_short_video_a_frame_without_one_5_away_is_its_own_reference(count):
    picks = np.array(reference_indices(count))
    frames = np.arange(count)
    has_one = np.maximum(frames, count - 1 - frames) >= MIN_REFERENCE_GAP
    assert (np.abs(picks - frames)[has_one] >= MIN_REFERENCE_GAP).all()
    assert (picks[~has_one] == frames[~has_one]).all()


@pytest.mark.parametrize("count", [1, 3, 5])
def test_a_still_image_or_a_video_too_short_for_a_reference_is_its_own_reference(count):
    assert reference_indices(count) == list(range(count))


@pytest.mark.parametrize("count", [6, 9, 13, 25, 60])
def test_a_looped_video_finds_a_reference_within_reach_at_every_turn(count):
    """dub plays the video forward and back; references are picked among REFERENCE_REACH frames on either side."""
    played = ping_pong(count, 5 * count).tolist()
    gaps = []
    for position in range(len(played)):
        low = max(0, position - REFERENCE_REACH)
        nearby = played[low : position + REFERENCE_REACH + 1]
        reference, source = nearby[pick_reference(nearby, position - low)], played[position]
        if max(source, count - 1 - source) < MIN_REFERENCE_GAP:  # no frame of the video is 5 away
            assert reference == source
            continue
        gaps.append(abs(reference - source))
    assert min(gaps) >= MIN_REFERENCE_GAP
    if count > 2 * REFERENCE_GAP:
        assert np.mean(np.array(gaps) == REFERENCE_GAP) > 0.8


def test_frames_without_a_face_are_never_picked():
    sources = list(range(30))
    sources[20] = None  # no face there
    assert pick_reference(sources, 10) == 0
    assert pick_reference([None, 1, 2], 1) == 1


@pytest.mark.parametrize("count", [1, 3, 5, 7, 23])
@pytest.mark.parametrize("step", [1, 2, 3, 4, 5])
def test_a_window_plan_gives_every_frame_once_in_order_from_a_window_that_holds_it(count, step):
    starts, outputs = window_plan(count, step)
    given = np.concatenate([np.arange(first, stop) for first, stop in outputs])
    assert given.tolist() == list(range(count))
    assert all(start <= first and stop <= start + WINDOW_FRAMES for start, (first, stop) in zip(starts, outputs))
    assert starts.min() == 0 and starts.max() + WINDOW_FRAMES <= max(count, WINDOW_FRAMES)  # inside the clip
    assert len(starts) == -(-count // step)


def test_windows_keep_their_middle_frames_except_near_the_ends():
    starts, outputs = window_plan(12, 1)  # every frame from the window centred on it
    assert starts.tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 7, 7]
    assert (outputs[:, 1] - outputs[:, 0] == 1).all()
    starts, outputs = window_plan(12, 3)  # frames 1..3 of each window
    assert starts.tolist() == [0, 2, 5, 7] and outputs.tolist() == [[0, 3], [3, 6], [6, 9], [9, 12]]
    starts, outputs = window_plan(12, 5)  # every frame of a window; the last one shifts inward
    assert starts.tolist() == [0, 5, 7] and outputs.tolist() == [[0, 5], [5, 10], [10, 12]]


@pytest.mark.parametrize("step", [0, 6, 2.5])
def test_a_bad_window_step_or_no_frames_is_refused(step):
    with pytest.raises(ValueError, match=f"received {step}"):
        window_plan(10, step)
    with pytest.raises(ValueError, match="received 0"):
        window_plan(0)
