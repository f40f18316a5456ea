from keras_s2v.lab.benchmarks import runner as benchmarks


def test_only_rewrites_its_own_section(tmp_path, monkeypatch):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nold header\n\n## Data: input pipelines\n\nold data\n\n## Dubbing end to end\n\nold dub\n")
    monkeypatch.setattr(
        benchmarks,
        "BENCHMARKS",
        {
            "data": lambda work, repeats: ["## Data: input pipelines", "", "new data"],
            "export": lambda work, repeats: ["## Export", "", "new export"],
            "dub": lambda work, repeats: ["## Dubbing end to end", "", "new dub"],
        },
    )
    benchmarks.main(["--out", str(out), "--only", "data", "--repeats", "1"])
    text = out.read_text()
    assert "new data" in text and "old data" not in text
    assert "old dub" in text and "new export" not in text
    assert text.index("new data") < text.index("old dub")
    assert text.count("Measured ") == 1  # the new section says where and when; the kept one is left as it was
    assert text.index("Measured ") < text.index("new data")


def test_the_soak_reads_a_straight_line_and_how_far_a_run_bends_from_it():
    from keras_s2v.lab.benchmarks.soak import linearity

    straight = [(frames, 5.0 + frames / 50.0, 900.0, 950.0, 1.0) for frames in range(0, 10_001, 100)]
    fps, deviation = linearity(straight)
    assert abs(fps - 50.0) < 1e-6 and deviation < 1e-9
    slowing = [(frames, wall * (1 + 0.2 * (frames > 5000)), *rest) for frames, wall, *rest in straight]
    fps, deviation = linearity(slowing)
    assert fps < 50.0 and deviation > 0.02


def test_the_dub_benchmarks_portrait_video_has_a_face_of_the_size_asked_at_the_size_asked(tmp_path):
    import numpy as np

    from keras_s2v import faces
    from keras_s2v.lab.benchmarks.dubbing import PORTRAIT, _moving_photo
    from keras_s2v.media import video

    path = str(tmp_path / "portrait.mp4")
    count = _moving_photo(path, 0.4, PORTRAIT, face_px=130)
    frames = video.read_frames(path)
    assert len(frames) == count == 10 and frames[0].shape == (1920, 1080, 3)
    detector = faces.CNNDetector()
    heights = [np.ptp(detector.detect(frame).landmarks[:, 1]) for frame in frames[::3]]
    assert all(110 < height < 150 for height in heights), heights
