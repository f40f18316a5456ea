import subprocess
import sys
import textwrap

import pytest

from keras_s2v.quiet import is_native_log_line
from tests.helpers import s2v

# Lines as TensorFlow 2.21, absl and LiteRT print them on CPUs with and without AVX-512.
NATIVE_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795542459.600446    2156 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "I0000 00:00:1795542668.299601    7928 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "E0000 00:00:1732.5 123 cuda_dnn.cc:8310] Unable to register cuDNN factory",
    "2026-11-24 17:46:49.123456: I tensorflow/core/platform/cpu_feature_guard.cc:182] AVX512F AVX512_BF16",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
OWN_LINES = ["s2v: error: clip.mp4: no face found in any frame", "dub:  40%|####      | 60/150", "WARNING: disk almost full"]


@pytest.mark.parametrize("line", NATIVE_LINES)
def test_native_log_lines_are_recognised(line):
    assert is_native_log_line(line.encode())


@pytest.mark.parametrize("line", OWN_LINES)
def test_other_lines_are_kept(line):
    assert not is_native_log_line(line.encode())


def test_filter_drops_native_lines_written_to_descriptor_2_and_keeps_the_rest():
    # Writes go straight to file descriptor 2, as C++ code does, so this holds whatever the CPU.
    script = textwrap.dedent(f"""
        import os, sys
        from keras_s2v.quiet import silence_native_logs
        silence_native_logs()
        for line in {NATIVE_LINES + OWN_LINES[2:]!r}:
            os.write(2, (line + "\\n").encode())
        print("python's own message", file=sys.stderr)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert sorted(result.stderr.splitlines()) == sorted(["WARNING: disk almost full", "python's own message"])


def test_cli_is_quiet_and_verbose_shows_tensorflow():
    quiet = s2v("info")
    assert quiet.returncode == 0 and quiet.stderr == ""
    verbose = s2v("-v", "info")
    assert verbose.returncode == 0
    assert verbose.stdout == quiet.stdout
    # -v lowers TF_CPP_MIN_LOG_LEVEL to 0 and filters nothing, so TensorFlow's start-up lines show.
    assert any(is_native_log_line(line.encode()) for line in verbose.stderr.splitlines()), verbose.stderr
