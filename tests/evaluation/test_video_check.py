import json
import re

import numpy as np

from keras_s2v.evaluation import video_measures
from keras_s2v.evaluation.video_check import SILENT_CLIP_SILENCE, TARGETS, _face_crops, check_video, format_video_check
from keras_s2v.lab import synth
from keras_s2v.media import video
from keras_s2v.models.mouth_motion import build_mouth_motion
from keras_s2v.speech import formant


def test_a_talking_clip_is_dubbed_three_ways_and_measured(tmp_path, capsys):
    rng = np.random.default_rng(0)
    speaker = synth.sample_speaker(0, "test", seed=5)
    clip = tmp_path / "face.mp4"
    synth.write_clip(clip, speaker, formant.random_script(rng, 1.6), seed=1)
    model = tmp_path / "motion.keras"
    build_mouth_motion("tiny").save(model)
    report = check_video(str(clip), str(model), str(tmp_path / "check"))
    # One progress bar, the check's own, counting to its end from the start: not one for each dub's face tracking
    # and frames.
    shown = capsys.readouterr().err
    assert "video check" in shown and "0/5" in shown and "5/5" in shown, shown
    assert re.search(r"video check: +\d+step", shown) is None, shown  # a bar without its total counts bare steps
    assert "faces:" not in shown and "dub:" not in shown, shown
    assert set(report["dubs"]) == {"own", "other", "silence", "renderer"} and report["frames"] == 40
    for measures in report["dubs"].values():
        assert measures["frames"] > 30  # the mesh finds the synthetic face in the dubs too
        assert measures["psnr_outside_db"] > 30  # only the lower face changes
        assert -1.0 <= measures["gap_r"] <= 1.0 and measures["sharpness_ratio"] > 0
    assert len(report["targets"]) == len(TARGETS) and all(isinstance(target["met"], bool) for target in report["targets"])
    assert json.loads((tmp_path / "check" / "video_check.json").read_text())["frames"] == 40
    assert (tmp_path / "check" / "contact_sheet.png").stat().st_size > 0
    assert (tmp_path / "check" / "other.mp4").exists()
    # Moved to the clip's own lip gaps, the dub's mouth opens as the source's did: the renderer alone.
    assert report["dubs"]["renderer"]["gap_r"] > 0.8, report["dubs"]["renderer"]
    lines = format_video_check(report)
    assert len(lines) == 1 + 4 + len(TARGETS) and "silence" in lines[3] and "renderer" in lines[4]

    # The check keeps only the face of each frame, and measures it as it would the whole frame.
    frames = video.read_frames(str(clip))
    crops, landmarks, boxes = _face_crops(str(clip), None)
    assert len(crops) == len(frames) == 40 and all(crop.size < frames[0].size for crop in crops)
    np.testing.assert_allclose(video_measures.lip_gaps(landmarks), video_measures.lip_gaps(video_measures.mesh_track(frames)))
    for crop, (x0, y0, x1, y1), frame in zip(crops, boxes, frames):
        np.testing.assert_array_equal(crop, frame[y0:y1, x0:x1])


def test_a_clip_without_speech_judges_silence_against_the_dub_with_other_speech(tmp_path):
    # A silent clip's own lip gap barely moves: its std is the mesh's jitter, which a still dubbed mouth has too.
    speaker = synth.sample_speaker(0, "test", seed=5)
    talking = tmp_path / "talking.mp4"
    synth.write_clip(talking, speaker, formant.random_script(np.random.default_rng(0), 1.2), seed=1)
    clip = tmp_path / "silent.mp4"
    video.write_video(clip, video.read_frames(str(talking)))  # no audio
    model = tmp_path / "motion.keras"
    build_mouth_motion("tiny").save(model)
    report = check_video(str(clip), str(model), str(tmp_path / "check"), progress=False)
    assert set(report["dubs"]) == {"other", "silence"}
    silence, other = report["dubs"]["silence"], report["dubs"]["other"]
    judged = {(target["measure"], target["dub"]): target for target in report["targets"]}
    assert ("gap_std_ratio", "silence") not in judged
    target = judged[SILENT_CLIP_SILENCE[:2]]
    assert target["value"] == silence["gap_std_to_other"] == silence["dubbed_gap_std"] / other["dubbed_gap_std"]
    assert target["met"] == (target["value"] <= SILENT_CLIP_SILENCE[2])
    assert len(report["targets"]) == len(TARGETS) - 2  # no own-speech rows
    assert any("gap_std_to_other" in line for line in format_video_check(report))
