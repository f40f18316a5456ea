import numpy as np
import pytest
import tensorflow as tf

from keras_s2v.dubbing import ping_pong
from keras_s2v.geometry import MIN_REFERENCE_GAP, REFERENCE_GAP
from keras_s2v.windows import REFERENCE_REACH, pick_reference, reference_indices, stack_frames, unstack_frames


def test_stacking_frames_on_channels_round_trips():
    frames = tf.random.uniform((2, 5, 8, 8, 3))
    stacked = stack_frames(frames)
    assert stacked.shape == (2, 8, 8, 15)
    np.testing.assert_array_equal(stacked[..., 3:6], frames[:, 1])
    np.testing.assert_array_equal(unstack_frames(stacked), frames)


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
