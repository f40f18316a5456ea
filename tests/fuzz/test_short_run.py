"""The short fuzz run of `make test`: every harness of fuzz/ for a few seconds from its seed corpus.

`make fuzz` runs the same harnesses for minutes each; a finding there is a bug to fix in the reader.
"""

import os
import re
import subprocess
import sys
import time

import pytest

from fuzz.run import HARNESS_NAMES

pytest.importorskip("atheris", reason="atheris is in the test extra: make install")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECONDS_PER_HARNESS = 4
BUDGET_S = 60  # the whole short run, process start-ups and seed corpora included; the harnesses run side by side


def test_every_harness_ends_each_input_in_success_or_a_keras_s2v_error(tmp_path):
    start = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuzz.run",
            "--seconds",
            str(SECONDS_PER_HARNESS),
            "--jobs",
            str(len(HARNESS_NAMES)),
            "--work",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=5 * BUDGET_S,
    )
    elapsed = time.monotonic() - start
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(HARNESS_NAMES), result.stdout + result.stderr
    for line in lines:
        found = re.fullmatch(r"(\w+) +(\d+) inputs in .*: nothing found", line)
        assert found and int(found[2]) > 0, "\n".join(lines)  # else the log in WORK/logs/ tells what it found
    assert result.returncode == 0
    for name in HARNESS_NAMES:
        assert len(os.listdir(tmp_path / "seeds" / name)) >= 10  # the broken files were written and read
    assert elapsed < BUDGET_S, f"the short fuzz run took {elapsed:.0f} s"


# The ends of real libFuzzer logs of this project's harnesses: a finding must be told from a clean run.
UNCAUGHT = """INFO: seed corpus: files: 42 min: 1b max: 14035b total: 68100b rss: 103Mb

 === Uncaught Python exception: ===
AttributeError: 'NoneType' object has no attribute 'width'
Traceback (most recent call last):
==12919== ERROR: libFuzzer: fuzz target exited
artifact_prefix='/w/findings/media/'; Test unit written to /w/findings/media/crash-cf33d6a2
stat::number_of_executed_units: 62
"""
TIMEOUT = """ALARM: working on the last Unit for 21 seconds
artifact_prefix='/w/findings/model/'; Test unit written to /w/findings/model/timeout-4200b43c
==7638== ERROR: libFuzzer: timeout after 21 seconds
stat::number_of_executed_units: 298
"""
SLOW_BUT_DONE = """artifact_prefix='/w/findings/media/'; Test unit written to /w/findings/media/slow-unit-c5cdeb89
#34565\tDONE   cov: 90 ft: 230 corp: 41/110Kb lim: 14035 exec/s: 95 rss: 1175Mb
stat::number_of_executed_units: 34565
"""


def test_the_runner_tells_a_finding_from_a_clean_run(tmp_path):
    from fuzz.run import _report

    (tmp_path / "logs").mkdir()
    found = _report("media", UNCAUGHT, str(tmp_path), 1.0)
    assert found["inputs"] == 62
    assert (
        found["finding"]
        == "AttributeError: 'NoneType' object has no attribute 'width'; input saved as /w/findings/media/crash-cf33d6a2"
    )
    assert _report("model", TIMEOUT, str(tmp_path), 1.0)["finding"].startswith(
        "timeout; input saved as /w/findings/model/timeout-"
    )
    clean = _report("media", SLOW_BUT_DONE, str(tmp_path), 1.0)
    assert clean["finding"] is None and clean["inputs"] == 34565  # a slow input is reported as the slowest, not as a bug
    assert _report("audio", "Traceback ...\nstruct.error: bad seed\n", str(tmp_path), 1.0)["finding"].endswith(
        "struct.error: bad seed"
    )


def test_an_input_picks_its_file_kind_or_a_folder_in_its_place(tmp_path):
    from fuzz import targets

    workspace = targets.Workspace(str(tmp_path / "scratch"))
    path, kind = workspace.place(targets.MEDIA_KINDS, targets.frame(targets.MEDIA_KINDS, ".png", b"abc"))
    assert kind == ".png" and path.endswith("input.png") and open(path, "rb").read() == b"abc"
    path, kind = workspace.place(targets.MEDIA_KINDS, targets.frame(targets.MEDIA_KINDS, "folder", b""))
    assert kind == "folder" and os.path.isdir(path) and path.endswith("input.mp4")
    assert workspace.place(targets.MEDIA_KINDS, b"")[1] == ".mp4"  # the empty input is a zero-byte file
