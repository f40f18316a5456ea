import dataclasses

import cv2
import numpy as np
import pytest

from keras_s2v.faces import mouth_bank, mouth_masks, mouth_warp
from keras_s2v.faces.landmarks import (
    FACE_BOTTOM,
    LOWER_INNER_LIP,
    LOWER_JAW,
    MOUTH_CORNERS,
    NOSE_BASE,
    STABLE,
    UPPER_INNER_LIP,
    UPPER_LIP,
    face_height,
    lip_gap,
    mouth_axes,
    mouth_width,
)
from keras_s2v.faces.mouth_bank import MIN_DISTANCE, MouthBank, choose_bank
from keras_s2v.faces.mouth_masks import fill_hull, lips_mask
from keras_s2v.faces.mouth_warp import MouthSource, render_mouth
from keras_s2v.media.photos import real_photos


def _lips(shape, landmarks, grow=1.0):
    """Boolean mask of the outer lips' polygon, grown by `grow` about its centre."""
    points = landmarks[list(UPPER_LIP) + [375, 321, 405, 314, 17, 84, 181, 91, 146]]
    points = points.mean(axis=0) + grow * (points - points.mean(axis=0))
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def _opened(landmarks, *openings):
    """A copy of `landmarks` for each of `openings`: the jaw lowered by that many face heights."""
    lower = mouth_warp.jaw_weights(landmarks) > 0.5
    copies = [landmarks.copy() for _ in openings]
    for points, opening in zip(copies, openings):
        points[lower, 1] += opening * face_height(landmarks)
    return copies


def _turned(landmarks, right, left=1.0):
    """A copy of `landmarks` with the right half of the face scaled about its middle by `right` and the left by
    `left`: a head turned (below 1, that half turns away)."""
    centre = landmarks[:, 0].mean()
    points = landmarks.copy()
    points[:, 0] = centre + np.where(points[:, 0] > centre, right, left) * (points[:, 0] - centre)
    return points


def _with_link(source, below):
    """`source` with a bright chain link `below` face heights under its chin."""
    chain = source.image.copy()
    height = face_height(source.landmarks)
    centre = np.round(source.landmarks[FACE_BOTTOM] + [0.0, below * height]).astype(int)
    cv2.circle(chain, tuple(int(v) for v in centre), int(0.015 * height), (235, 235, 235), -1)
    return dataclasses.replace(source, image=chain)


def _with_neck_shade(source, gains):
    """(`source` with its neck under the chin scaled by `gains`, per channel: the shade under a chin; that region)."""
    shade = source.image.copy()
    under = np.mgrid[0 : shade.shape[0], 0 : shade.shape[1]][0] > source.landmarks[FACE_BOTTOM, 1] + 2
    shade[under] = (shade[under] * np.asarray(gains)).astype(np.uint8)
    return dataclasses.replace(source, image=shade), under


def test_no_motion_gives_back_the_frame_exactly(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    assert np.array_equal(render_mouth(photo, landmarks, source, source.gap), photo)


def test_a_smile_splits_below_its_upper_teeth_and_a_plain_mouth_at_its_midline(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    upper, lower = (source.landmarks[list(points[1:-1])] for points in (UPPER_INNER_LIP, LOWER_INNER_LIP))
    shares = ((source.split_line - upper) / (lower - upper))[:, 1]
    # The mesh's inner lips hold the astronaut's teeth between them: the split lies at the teeth's lower
    # edge, well below the midline, so an opening mouth keeps its upper teeth whole.
    assert shares[3:6].min() > 0.65 and source.shows_teeth
    flat = dataclasses.replace(source, image=np.full_like(source.image, 128))
    np.testing.assert_allclose(flat.split_line, (upper + lower) / 2)
    assert not flat.shows_teeth
    # Lips parted on their own shadow: between them the lips' colour with a dark line across, no teeth. The line
    # darkens as sharply as teeth end, but from the lips' colour: the mouth shows no teeth and splits at its midline.
    image = source.image.copy()
    cv2.fillPoly(
        image, [np.round(np.concatenate([upper, lower[::-1]])).astype(np.int32)], mouth_masks.lip_colour(image, source.landmarks)
    )
    midline = np.round((upper + lower) / 2).astype(np.int32)
    cv2.polylines(image, [midline], False, (40, 10, 15), thickness=3)
    parted = dataclasses.replace(source, image=image)
    assert not parted.shows_teeth
    np.testing.assert_allclose(parted.split_line, (upper + lower) / 2)


def test_the_frames_own_mouth_never_reaches_the_output(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    other = photo.copy()
    lips = _lips(photo.shape, landmarks, grow=1.2)
    other[lips] = 255 - other[lips]  # another mouth, wherever the lips are
    for gap in (source.gap, source.gap + 0.06):
        assert np.array_equal(render_mouth(other, landmarks, source, gap), render_mouth(photo, landmarks, source, gap))


def test_a_closed_mouth_opens_to_the_gap_asked_for(detector):
    photo = real_photos()["grace_hopper"]
    landmarks = np.asarray(detector.detect(photo).landmarks, np.float64)
    source = MouthSource.from_frame(photo, landmarks)
    opened = render_mouth(photo, landmarks, source, source.gap + 0.08)
    # The mesh, run on the picture afresh, sees the mouth open by most of what was asked.
    assert lip_gap(detector.detect(opened).landmarks) > source.gap + 0.04


def test_a_mouth_closed_shuts_in_every_column_without_its_lips_crossing(astronaut_mesh, detector):
    # The astronaut's smile is open wider towards its corners than a lens: closed as a lens it shut past closed
    # there, and the crossed lips drew a tangle of teeth and cavity.
    photo, landmarks = astronaut_mesh
    smile = MouthSource.from_frame(photo, landmarks)
    down = mouth_axes(landmarks)[2]
    pairs = [list(UPPER_INNER_LIP[1:-1]), list(LOWER_INNER_LIP[1:-1])]
    parting = 1.0 + mouth_warp.UPPER_LIP_SHARE  # the lips part by this times a change of gap, either way
    for gap, share in ((0.0, 0.0), (smile.gap * (1.0 - 0.5 / parting), 0.5)):
        targets = mouth_warp.target_landmarks(smile, landmarks, gap)[0]
        openings = (targets[pairs[1]] - targets[pairs[0]]) @ down
        assert openings.min() > 0  # never crossed
        expected = max(share * smile.gap, mouth_warp.MIN_CLOSED_PIXELS / face_height(targets))
        assert lip_gap(targets) == pytest.approx(expected, rel=0.05)
        # Each column keeps its share of its own opening.
        own = (landmarks[pairs[1]] - landmarks[pairs[0]]) @ down
        assert np.abs(openings - share * own).max() < 0.1 * own.max()
    # Shut, what of her teeth was squeezed between the lips is their shadow: nothing between them is as light.
    shut = render_mouth(photo, landmarks, smile, 0.0)
    targets = mouth_warp.target_landmarks(smile, landmarks, 0.0)[0]
    between = mouth_masks.cavity_mask(photo.shape[:2], np.zeros(2), targets, feather=0.5) > 0.5
    grey = cv2.cvtColor(shut, cv2.COLOR_RGB2GRAY)
    assert between.sum() > 5 and grey[between].max() < np.median(
        cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[mouth_masks.lip_ring(photo.shape[:2], landmarks)]
    )
    assert lip_gap(detector.detect(shut).landmarks) < 0.5 * smile.gap  # and the mesh sees it shut


def test_a_wider_gap_changes_the_mouth_and_leaves_the_rest(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    opened = render_mouth(photo, landmarks, source, source.gap + 0.08)
    changed = np.abs(opened.astype(int) - photo).max(axis=2) > 0
    top = int(landmarks[[33, 263], 1].max())  # the eye line and above stay the photo's own
    assert not changed[:top].any()
    assert changed[_lips(photo.shape, landmarks)].mean() > 0.5
    # The inside of the new opening is dark, as a mouth's is.
    middle = np.round((landmarks[13] + mouth_warp.target_landmarks(source, landmarks, source.gap + 0.08)[0][14]) / 2).astype(int)
    assert opened[middle[1], middle[0]].mean() < photo[middle[1], middle[0]].mean() - 40


def test_a_source_whose_nose_sits_lower_is_placed_with_its_nose_on_the_frames(astronaut_mesh):
    # A head tilted otherwise: the similarity on the stable points cannot bring the source's nostrils onto the
    # frame's, and the lower face showed a second pair under them. The base of the nose is put on the frame's, the
    # lips kept where the similarity puts them.
    photo, landmarks = astronaut_mesh
    height = face_height(landmarks)
    lower = landmarks[:, 1] >= landmarks[list(NOSE_BASE), 1].min() - 1.0  # the nose's base and all below it,
    lower[list(STABLE)] = False  # but not the other points the pose is fitted on
    lower[list(NOSE_BASE)] = True
    tilted = landmarks.copy()
    tilted[lower, 1] += 0.03 * height
    source = MouthSource(photo, tilted)
    targets, matrix = mouth_warp.target_landmarks(source, landmarks, source.gap)
    placed = mouth_warp.apply_matrix(matrix, tilted)
    assert np.abs(targets[list(NOSE_BASE)] - landmarks[list(NOSE_BASE)]).max() < 0.002 * height
    lips = list(UPPER_LIP) + list(LOWER_INNER_LIP) + list(UPPER_INNER_LIP)
    np.testing.assert_allclose(targets[lips], placed[lips], atol=1e-6)
    assert np.abs(placed[list(NOSE_BASE), 1] - landmarks[list(NOSE_BASE), 1]).min() > 0.02 * height  # it was low


def test_nothing_above_the_frames_nose_changes_however_high_its_upper_lip(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    raised = landmarks.copy()  # a frame whose upper lip, pulled up by a wide mouth, nears the nose
    nose = landmarks[list(NOSE_BASE), 1].min()
    raised[list(UPPER_LIP), 1] = nose + 0.3 * (landmarks[list(UPPER_LIP), 1] - nose)
    changed = np.abs(render_mouth(photo, raised, source, source.gap + 0.06).astype(int) - photo).max(axis=2) > 0
    # The mask's edge on the nose's base is a pixel or two soft.
    assert changed.any() and not changed[: int(nose - 0.02 * face_height(landmarks))].any()


def _drawn_in(photo, landmarks, source, gap, layer, colours):
    """The mouth rendered with `layer`'s colour (tongue, teeth) each of two `colours`, and where the two differ:
    what that layer drew."""
    first, second = (render_mouth(photo, landmarks, source, gap, **{f"{layer}_colour": colour}).astype(int) for colour in colours)
    return first, second, np.abs(first - second).max(axis=2) > 20


def test_a_drawn_opening_holds_a_tongue_below_the_dark(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    gap = source.gap + 0.08
    red, _, tongue = _drawn_in(photo, landmarks, source, gap, "tongue", ((200, 0, 0), (0, 0, 200)))
    targets = mouth_warp.target_landmarks(source, landmarks, gap)[0]
    assert tongue.sum() > 20 and not tongue[~_lips(photo.shape, targets)].any()  # drawn, and only inside the mouth
    # In the opening's lower part, and in the colour asked for: the cavity above it stays dark.
    rows = np.nonzero(tongue)[0]
    assert rows.mean() > (targets[13, 1] + targets[14, 1]) / 2
    assert (red[tongue, 0] > red[tongue, 2] + 20).mean() > 0.9
    column = int(round((targets[13, 0] + targets[14, 0]) / 2))
    between = np.arange(int(targets[13, 1]), int(targets[14, 1]) + 1)
    darkest = between[np.argmin(red[between, column].max(axis=1))]
    assert red[darkest, column].max() < 60 and darkest < rows.mean() and not tongue[darkest, column]


def test_a_drawn_tongue_is_the_lips_in_the_shade_and_never_grey(astronaut_mesh):
    # The astronaut's pale lips, darkened, made a grey tongue: it keeps their red, with less green and blue.
    source = MouthSource.from_frame(*astronaut_mesh)
    lips = np.asarray(mouth_masks.lip_colour(source.image, source.landmarks))
    tongue = np.asarray(mouth_bank.tongue_colour([source]))
    assert lips[1] > mouth_masks.TONGUE_GREEN_BLUE * lips[0]  # pale: their green is most of their red
    assert tongue[0] == pytest.approx(mouth_masks.TONGUE_SHADE * lips[0])
    assert tongue[1:].max() <= mouth_masks.TONGUE_GREEN_BLUE * tongue[0] + 1e-6


def test_a_drawn_opening_shows_upper_teeth_only_where_the_source_has_none_of_its_own(astronaut_mesh, detector):
    # Grace Hopper's closed mouth shows no teeth: opened, upper teeth are drawn under her upper lip. The astronaut's
    # smile brings its own teeth up with the upper lip, and nothing is drawn over them.
    photo = real_photos()["grace_hopper"]
    landmarks = np.asarray(detector.detect(photo).landmarks, np.float64)
    source = MouthSource.from_frame(photo, landmarks)
    assert not source.shows_teeth and MouthSource.from_frame(*astronaut_mesh).shows_teeth
    gap = source.gap + 0.06
    green, _, teeth = _drawn_in(photo, landmarks, source, gap, "teeth", ((0, 200, 0), (200, 0, 200)))
    targets = mouth_warp.target_landmarks(source, landmarks, gap)[0]
    assert teeth.sum() > 20 and not teeth[~_lips(photo.shape, targets)].any()  # drawn, and only inside the mouth
    rows, cols = np.nonzero(teeth)
    assert rows.mean() < (targets[13, 1] + targets[14, 1]) / 2  # in the opening's upper part, under the upper lip
    # In the middle they take the colour asked for.
    middle = np.abs(cols - targets[13, 0]) < 0.1 * np.ptp(targets[[78, 308], 0])
    assert green[rows[middle], cols[middle], 1].max() > 150
    # Below them, over the lower lip, the tips of the lower teeth, in the upper lip's shade.
    lower = rows > (targets[13, 1] + targets[14, 1]) / 2
    assert lower.sum() > 10 and rows[lower].mean() > targets[14, 1] - 0.03 * face_height(targets)
    astronaut, astronaut_landmarks = astronaut_mesh
    smile = MouthSource.from_frame(astronaut, astronaut_landmarks)
    assert not smile.shows_lower_teeth
    gap = smile.gap + 0.06
    _, _, teeth = _drawn_in(astronaut, astronaut_landmarks, smile, gap, "teeth", ((0, 200, 0), (200, 0, 200)))
    targets = mouth_warp.target_landmarks(smile, astronaut_landmarks, gap)[0]
    rows, cols = np.nonzero(teeth)
    middle = np.abs(cols - targets[13, 0]) < 0.1 * np.ptp(targets[[78, 308], 0])
    assert middle.sum() > 5 and rows[middle].min() > (targets[13, 1] + targets[14, 1]) / 2  # the lower teeth only
    # Only in the middle of the mouth: as wide as the upper teeth, two rows of them read as a mouthguard.
    assert not (np.abs(cols - targets[13, 0]) > 0.3 * np.ptp(targets[[78, 308], 0])).any()
    # A bank takes the colour of the person's own teeth where a source shows them; where none does, teeth in the
    # light of the face: warm on Grace Hopper's warm face, as bright as its brightest channel.
    assert min(mouth_bank.teeth_colour([smile])) > 150
    drawn, face = np.asarray(mouth_bank.teeth_colour([source])), np.asarray(source.face_colour)
    assert drawn[0] > drawn[1] > drawn[2] and face[0] > face[1] > face[2]
    assert np.ptp(drawn) < 0.5 * np.ptp(face) and drawn.max() == pytest.approx(face.max())


@pytest.mark.parametrize("wider", [0.03, 0.06])  # 3 and 6 pixels: an opening of one still darkens their last pixel
def test_a_smile_opened_keeps_its_upper_teeth_whole(astronaut_mesh, wider):
    # The upper teeth go up with the upper lip as they are: their lit lower part is neither cut off nor darkened
    # by the opening below them (before, it lost up to 114 grey levels within a pixel above their edge).
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    offset = np.asarray(source.offset, np.float64)
    targets = mouth_warp.target_landmarks(source, landmarks, source.gap + wider)[0]
    upper = list(UPPER_INNER_LIP[4:7])  # the middle three pairs, where the teeth are tallest
    photo_grey, dubbed_grey = (
        cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        for image in (photo, render_mouth(photo, landmarks, source, source.gap + wider))
    )

    def profile(image, start, end):  # from the lip's inner edge down to the teeth's lower edge
        points = (start + np.linspace(0.0, 1.0, 9)[:, None] * (end - start)).astype(np.float32)
        return cv2.remap(image, points[None, :, 0], points[None, :, 1], cv2.INTER_LINEAR)[0]

    for point, edge, moved in zip(source.landmarks[upper] + offset, source.split_line[3:6] + offset, targets[upper]):
        before, after = profile(photo_grey, point, edge), profile(dubbed_grey, moved, moved + edge - point)
        assert before[-3:-1].min() > 200  # the teeth's lit lower part, above the edge itself
        np.testing.assert_allclose(after[:-1], before[:-1], atol=20)


def test_a_source_with_lower_teeth_of_its_own_gets_none_drawn(astronaut_mesh):
    # The astronaut's smile with teeth painted between its upper teeth and its lower lip: opened, its own lower
    # teeth go down with the lower lip, and nothing is drawn over them or above them.
    photo, landmarks = astronaut_mesh
    smile = MouthSource.from_frame(photo, landmarks)
    offset = np.asarray(smile.offset, np.float64)
    lower = smile.landmarks[list(LOWER_INNER_LIP[2:-2])] + offset
    painted = photo.copy()
    for point, edge in zip(lower, smile.split_line[1:-1] + offset):
        column = int(round(point[0]))
        painted[int(np.ceil(edge[1])) + 1 : int(point[1]), column - 1 : column + 2] = 230
    source = MouthSource.from_frame(painted, landmarks)
    assert source.shows_teeth and source.shows_lower_teeth
    green, purple, _ = _drawn_in(painted, landmarks, source, source.gap + 0.06, "teeth", ((0, 200, 0), (200, 0, 200)))
    assert np.array_equal(green, purple)


def test_a_bank_spans_the_openings_and_never_gives_a_frame_its_own_mouth(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    lower = np.zeros(468, bool)
    lower[mouth_warp.jaw_weights(landmarks) > 0.5] = True
    sequence = []
    for opening in np.linspace(0.0, 0.06, 40):  # a mouth that opens over 40 frames
        points = landmarks.copy()
        points[lower, 1] += opening * face_height(landmarks)
        sequence.append(points)
    chosen = choose_bank(sequence, lip_gap(sequence[0]), size=8)
    gaps = [lip_gap(sequence[index]) for index in chosen]
    # One head pose throughout: only the half of the bank that spans the openings has anything to choose, and the
    # shut frame at that pose (the most shut) is already among them.
    assert len(chosen) == 4 and 0 in chosen and min(gaps) < lip_gap(sequence[4]) and max(gaps) >= lip_gap(sequence[30])
    bank = MouthBank([MouthSource(photo, sequence[index], index=index) for index in chosen])
    for index in range(40):
        picked = bank.pick(sequence[index], lip_gap(sequence[index]), index)
        assert abs(picked.index - index) >= MIN_DISTANCE
    # With the whole clip allowed (a photo's frames have index -1), the nearest opening wins.
    wanted = lip_gap(sequence[20])
    best = MouthBank([MouthSource(photo, sequence[index]) for index in chosen]).pick(sequence[20], wanted)
    assert abs(best.gap - wanted) == min(abs(gap - wanted) for gap in gaps)


def test_the_trackings_noise_does_not_make_a_pick_flicker_between_sources(astronaut_mesh):
    photo, landmarks = astronaut_mesh

    def turned(amount):
        return _turned(landmarks, 1.0 - amount, 1.0 + amount)

    # Two sources turned a little either way, and a still head between them whose mesh turns by the tracking's
    # noise: one frame moves the two sources' cost difference by 0.7 (median) and 1.9 (90th percentile), as on
    # real clips (docs/experiments.md). Each change of source is a jump in the lips.
    bank = MouthBank([MouthSource(photo, turned(0.02), index=0), MouthSource(photo, turned(-0.02), index=100)])
    rng = np.random.default_rng(0)
    picks = [bank.pick(turned(rng.normal(0.0, 0.01)), lip_gap(landmarks), 50) for _ in range(60)]
    switches = sum(a is not b for a, b in zip(picks, picks[1:]))
    assert switches <= 3, f"{switches} changes of source in 60 frames of a still head"


def test_a_pick_follows_the_head_when_a_frame_comes_round_again_turned(astronaut_mesh):
    photo, landmarks = astronaut_mesh
    turned = _turned(landmarks, 0.7)  # the right half turned away
    sources = [MouthSource(photo, landmarks, index=0), MouthSource(photo, turned, index=100)]
    bank = MouthBank(sources)
    gap = lip_gap(landmarks)
    # Played forward and back, the same meshes come round again: each pick is the one a new bank makes.
    for points in (landmarks, turned, landmarks, turned):
        assert bank.pick(points, gap, 50) is MouthBank(sources).pick(points, gap, 50) is sources[points is turned]


def test_a_bank_has_a_shut_mouth_at_each_pose_it_spans(astronaut_mesh):
    # A silent frame turned as only open sources are would be given one pressed shut: its teeth show as a crack.
    photo, landmarks = astronaut_mesh
    turned = _turned(landmarks, 0.7)
    facing = _opened(landmarks, *np.linspace(0.0, 0.06, 30))  # most of the clip, so the openings' half faces front
    turned_open = _opened(turned, *np.linspace(0.03, 0.06, 10))
    sequence = facing + turned_open[:5] + _opened(turned, 0.0) + turned_open[5:]
    shut_turned = 35
    closed = lip_gap(sequence[0])
    chosen = choose_bank(sequence, closed, size=4)
    assert shut_turned in chosen
    bank = MouthBank([MouthSource(photo, sequence[index], index=index) for index in chosen])
    assert bank.pick(turned, closed).index == shut_turned


def test_a_clip_with_fewer_frames_than_the_bank_gives_each_frame_once(astronaut_mesh, monkeypatch):
    # A frame's pose residual to itself comes out near 0, not 0: the pose half of the bank must still stop.
    _, landmarks = astronaut_mesh
    rng = np.random.default_rng(0)
    sequence = [landmarks + rng.normal(0.0, 1.5, landmarks.shape) for _ in range(40)]
    assert any(mouth_bank.pose_residual(points, points) > 0 for points in sequence)  # what made the loop endless
    real, calls = mouth_bank.pose_residual, []

    def counted(*args):
        calls.append(1)
        if len(calls) > 20000:  # a few thousand suffice for 40 frames
            raise RuntimeError("choose_bank does not stop")
        return real(*args)

    monkeypatch.setattr(mouth_bank, "pose_residual", counted)
    assert choose_bank(sequence, lip_gap(landmarks), 48) == list(range(40))


def test_a_source_too_shut_costs_more_than_one_as_much_too_open(astronaut_mesh):
    # An opening wider than the source's is drawn without teeth; a narrower one presses real lips together.
    photo, landmarks = astronaut_mesh
    shut, open_ = _opened(landmarks, 0.0, 0.04)
    wanted = (lip_gap(shut) + lip_gap(open_)) / 2
    sources = [MouthSource(photo, points) for points in (shut, open_)]
    assert abs(sources[0].gap - wanted) == abs(sources[1].gap - wanted)
    assert MouthBank(sources).pick(landmarks, wanted) is sources[1]
    assert MouthBank(sources[::-1]).pick(landmarks, wanted) is sources[1]


def test_a_source_whose_lips_do_not_show_is_never_picked(astronaut_mesh):
    # Lips rolled in or pressed out of sight leave skin between the mesh's lip lines: a mouth drawn from them has none.
    photo, landmarks = astronaut_mesh
    shut, parted, opened = _opened(landmarks, 0.0, 0.01, 0.03)
    ring = mouth_masks.lip_ring(photo.shape[:2], parted)
    lipless = photo.copy()
    lipless[ring] = np.median(photo[_lips(photo.shape, landmarks, grow=1.6) & ~_lips(photo.shape, landmarks, grow=1.2)], axis=0)
    hidden = MouthSource(lipless, parted)
    shown = [MouthSource(photo, shut), MouthSource(photo, opened)]
    assert hidden.lip_contrast < mouth_bank.LIPS_SHOWN * min(source.lip_contrast for source in shown)
    bank = MouthBank([hidden, *shown])
    assert bank.sources == shown
    # Its opening is the one asked for, and the pick is still one that shows its lips.
    assert bank.pick(parted, hidden.gap) in shown
    assert MouthBank([hidden, MouthSource(photo, parted)]).pick(parted, hidden.gap).image is photo
    assert mouth_bank.with_lips_shown([hidden]) == [hidden]  # a photo whose lips do not show still speaks


def test_a_grin_is_picked_only_when_no_plain_mouth_comes_near(astronaut_mesh):
    # A mouth far wider than the person's usual brings its raised, creased cheeks onto a face that does not smile.
    photo, landmarks = astronaut_mesh
    shut, parted, grin = _opened(landmarks, 0.0, 0.02, 0.01)
    corners = list(MOUTH_CORNERS)
    grin[corners] += (grin[corners] - grin[corners].mean(axis=0)) * 0.3  # 30% wider
    sources = [MouthSource(photo, points) for points in (shut, parted, grin)]
    assert mouth_width(grin) > 1.25 * mouth_width(shut)
    # The grin's opening is the one asked for; a plain mouth a little too open or too shut costs less.
    assert MouthBank(sources).pick(landmarks, sources[2].gap) is not sources[2]
    assert MouthBank(sources[:2] + sources[2:] * 3).pick(landmarks, sources[2].gap) is sources[2]  # the usual width


def test_pressing_a_mouth_shut_costs_more_than_pressing_it_part_way():
    # Pressed shut, a source's teeth are squeezed into a crack; pressed part-way they still show.
    from keras_s2v.faces.mouth_bank import gap_cost

    assert gap_cost(0.05, 0.0) > gap_cost(0.10, 0.05)  # the same 0.05 pressed, shut against part-way
    assert gap_cost(0.08, 0.06) < gap_cost(0.04, 0.06)  # a little pressed still costs less than as much drawn
    assert gap_cost(0.04, 0.04) == 0.0


def test_near_its_outline_a_sources_face_is_only_skin(astronaut_mesh):
    # On a head turned aside the mesh reaches past the cheek's edge onto the background: paint the outer
    # band of the mesh's outline beside the mouth a background's grey. It is not the source's face, the lips
    # and the rest of the band are, and no grey comes out of the renderer.
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    hull = fill_hull(source.image.shape[:2], source.landmarks, np.zeros(2)) > 0.5  # the mesh's, without the neck
    radius = int(mouth_warp.SKIN_BAND * face_height(source.landmarks)) - 2  # within the band that is checked
    band = hull & ~(cv2.erode(hull.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)) > 0)
    rows, cols = np.nonzero(band)
    # The side past one mouth corner, away from the lips and their margin (which count as face whatever their colour).
    lips = lips_mask(source.image.shape[:2], np.zeros(2), source.landmarks, margin=0.04 * face_height(source.landmarks)) > 0
    beside = (cols > source.landmarks[291, 0]) & ~lips[rows, cols]
    grey = source.image.copy()
    grey[rows[beside], cols[beside]] = (128, 128, 128)
    painted = dataclasses.replace(source, image=grey)
    assert painted.face_mask(1.0)[rows[beside], cols[beside]].max() == 0.0
    # The lips, whatever their colour, and the unpainted skin of the band stay the face's.
    assert painted.face_mask(1.0)[_lips(painted.image.shape, painted.landmarks)].min() == 1.0
    assert painted.face_mask(1.0)[rows[~beside], cols[~beside]].mean() > 0.8
    for gap in (source.gap, source.gap + 0.06):
        out = render_mouth(photo, landmarks, painted, gap).astype(int)
        near_grey = (np.abs(out - 128).max(axis=2) < 6) & (np.abs(photo.astype(int) - 128).max(axis=2) >= 6)
        assert not near_grey.any(), gap


def test_a_dark_spot_on_a_sources_neck_does_not_shade_the_skin_around_it(astronaut_mesh):
    # A link of a chain on the neck, where only skin is taken from a source: the mask that leaves it out is blurred,
    # and its soft edge must not reach the link itself (such edges drew grey lines down turned cheeks).
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    height = face_height(source.landmarks)
    centre = source.landmarks[FACE_BOTTOM] + [0.0, 0.07 * height]
    rows, cols = np.mgrid[0 : source.image.shape[0], 0 : source.image.shape[1]]
    spot = np.hypot(cols - centre[0], rows - centre[1]) < 0.02 * height
    dark = source.image.copy()
    dark[spot] = (60, 60, 60)
    painted = dataclasses.replace(source, image=dark)
    assert painted.face_mask(1.0)[spot].max() == 0.0  # not skin, and not deep inside the face: left out
    # At the source's own gap the plain source gives back the photo, so any shade is the spot's.
    out = render_mouth(photo, landmarks, painted, source.gap).astype(int)
    assert (photo.astype(int) - out).max() <= 3


def test_a_photo_as_its_own_source_is_not_tinted_by_its_moving_chin(astronaut_mesh, monkeypatch):
    # One image, one light: the colour match has nothing to mend. It reads the mask's soft edge, which under the
    # chin crosses the jaw that moved; taken from there, its offset had tinted the lower face by up to 14 grey levels.
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    for gap in (source.gap - 0.02, source.gap + 0.06):
        matched = render_mouth(photo, landmarks, source, gap).astype(int)
        with monkeypatch.context() as patch:
            patch.setattr(mouth_warp, "match_colour", lambda image, reference, band: image)
            unmatched = render_mouth(photo, landmarks, source, gap).astype(int)
        assert np.abs(matched - unmatched).max() <= 3, gap


def test_a_chin_raised_or_lowered_leaves_no_step_under_it(astronaut_mesh):
    # The jaw's motion fades out over the neck: below the chin the warp samples the source ever lower,
    # without jumping over its neck (a step) or back onto its chin (a second chin).
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    height = face_height(source.landmarks)
    for change in (-0.04, 0.06):
        targets, matrix = mouth_warp.target_landmarks(source, landmarks, source.gap + change)
        chin = targets[FACE_BOTTOM]
        box = (int(chin[0]) - 2, int(chin[1] - 0.05 * height), int(chin[0]) + 3, int(chin[1] + 0.4 * height))
        _, mapy, _ = mouth_warp.warp_map(source, targets, matrix, source.gap + change, box)
        steps = np.diff(mapy[:, 2])
        assert steps.min() > 0.3 and steps.max() < 1.0 + 2 * abs(change) / mouth_warp.NECK, change


def test_the_frames_own_chin_is_replaced(astronaut_mesh):
    # A frame whose mouth was open wider than the dub's has its chin lower: that chin is replaced, or the
    # dub shows two. (Dropped by less than the astronaut's neck shows above her suit, 0.06 face heights.)
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    height = face_height(landmarks)
    (frame_landmarks,) = _opened(landmarks, 0.03)  # its jaw dropped
    chin = frame_landmarks[FACE_BOTTOM]
    rows, cols = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    near = (np.abs(cols - chin[0]) < 0.06 * height) & (np.abs(rows - chin[1]) < 0.02 * height)
    other = photo.copy()
    other[near] = 255 - other[near]
    # The same with the source's neck in the shade of its chin, darker than any skin of its face: it is still what
    # lies under the chin.
    shaded, under = _with_neck_shade(source, 0.35)
    assert shaded.face_mask(1.0)[under].mean() < 0.5 * source.face_mask(1.0)[under].mean()  # not the face's colour
    for used in (source, shaded):
        difference = render_mouth(other, frame_landmarks, used, used.gap).astype(int) - render_mouth(
            photo, frame_landmarks, used, used.gap
        )
        # The mask's soft edge lies further down: what is left of the frame's chin is a few grey levels at most.
        assert np.abs(difference).max() <= 0.05 * 255, used is shaded


def test_a_jaw_lower_only_by_the_pose_takes_nothing_but_skin_from_under_the_sources_chin(astronaut_mesh):
    # The frame's jaw line lies lower than the dub's, its lips as far apart: a head nodded otherwise, not a mouth
    # open wider, so the frame has no chin of its own to hide there. A bright chain link just under the source's
    # chin is not skin, and stays out: only a chin lowered by its opening takes the source's neck whatever its colour.
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    frame_landmarks = landmarks.copy()
    frame_landmarks[list(LOWER_JAW), 1] += 0.02 * face_height(landmarks)
    lips = list(UPPER_INNER_LIP) + list(LOWER_INNER_LIP)
    assert np.array_equal(frame_landmarks[lips], landmarks[lips])
    out = render_mouth(photo, frame_landmarks, _with_link(source, 0.01), source.gap).astype(int)
    near_white = (out.min(axis=2) > 215) & (photo.min(axis=2) <= 215)
    assert not near_white.any()


def test_under_a_dropped_chin_a_chain_on_the_sources_neck_is_painted_over_with_skin(astronaut_mesh):
    # The frame's chin hangs lower than the dub's, so the source's neck must cover it, shade and all (the test
    # above). A chain link lying there on the source, grey where skin is not, is not carried along: the skin
    # around it is painted over it.
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    (frame_landmarks,) = _opened(landmarks, 0.03)  # its jaw dropped
    out = render_mouth(photo, frame_landmarks, _with_link(source, 0.015), source.gap).astype(int)
    plain = render_mouth(photo, frame_landmarks, source, source.gap).astype(int)
    near = np.abs(out - plain).max(axis=2)
    assert ((out.min(axis=2) > 215) & (plain.min(axis=2) <= 215)).sum() == 0 and np.percentile(near[near > 0], 90) < 40
    # A shade there as red as the close-up's, more saturated than the face, is the neck's own: it stays.
    shaded = render_mouth(photo, frame_landmarks, _with_neck_shade(source, [0.6, 0.35, 0.35])[0], source.gap).astype(int)
    darker = plain.sum(axis=2) - shaded.sum(axis=2)
    chin = frame_landmarks[FACE_BOTTOM].astype(int)
    assert darker[chin[1] + 1 : chin[1] + 6, chin[0] - 5 : chin[0] + 6].mean() > 100


def test_beside_a_mouth_corner_nothing_past_the_sources_face_comes_out(astronaut_mesh, monkeypatch):
    # A head turned aside: the source's face ends just past its mouth corner, within the lips' margin, and what
    # lies beyond is the background's grey. However the mouth moves, none of that grey reaches the output.
    photo, landmarks = astronaut_mesh
    source = MouthSource.from_frame(photo, landmarks)
    edge = source.landmarks[291, 0] + 0.06 * face_height(source.landmarks)  # a feather and a half past the corner
    past = np.arange(source.image.shape[1]) >= edge
    grey = source.image.copy()
    grey[:, past] = 128
    painted = dataclasses.replace(source, image=grey)
    face_mask = MouthSource.face_mask
    monkeypatch.setattr(MouthSource, "face_mask", lambda self, feather, skin=True: face_mask(self, feather, skin) * ~past)
    for gap in (source.gap - 0.01, source.gap + 0.03):  # wider, the drawn opening's shade may be grey itself
        out = render_mouth(photo, landmarks, painted, gap).astype(int)
        near_grey = (np.abs(out - 128).max(axis=2) < 12) & (np.abs(photo.astype(int) - 128).max(axis=2) >= 12)
        assert not near_grey.any(), gap
