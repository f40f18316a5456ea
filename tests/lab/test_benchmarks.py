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
