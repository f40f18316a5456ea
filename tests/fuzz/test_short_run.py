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
SECONDS_PER_HARNESS = 5
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
