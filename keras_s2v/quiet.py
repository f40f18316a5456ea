"""Keep a command's output to its own messages.

TensorFlow, absl, oneDNN and LiteRT print from C++ straight to file descriptor 2, some of it
before absl's logging is initialised, so neither `TF_CPP_MIN_LOG_LEVEL` nor Python's logging
can stop it (on CPUs with AVX-512, TF 2.21 prints the oneDNN notice twice at import). The
filter below routes descriptor 2 through a pipe and drops only lines in those libraries' log
formats; every other line written there still reaches the terminal.
"""

import atexit
import logging
import os
import re
import sys
import threading
import warnings

NATIVE_LOG_LINE = re.compile(
    rb"^(?:"
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called"  # absl, before initialisation
    rb"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-]+:\d+\] "  # absl / glog: I0000 00:00:1795542000.49 123 port.cc:153]
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # TensorFlow's older C++ logger
    rb"|To enable the following instructions: .* rebuild TensorFlow"  # second line of cpu_feature_guard's notice
    rb"|(?:INFO|WARNING): (?:Created TensorFlow Lite|Initialized TensorFlow Lite|TfLite|XNNPACK)"  # LiteRT
    rb")"
)

_installed = False


def is_native_log_line(line):
    """True for a line (bytes) that TensorFlow, absl, oneDNN or LiteRT logged from C++."""
    return NATIVE_LOG_LINE.match(line) is not None


def _forward(read_end, terminal):
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            if not is_native_log_line(line):
                os.write(terminal, line)


def silence_native_logs():
    """Filter descriptor 2 for the rest of the process and quiet TF's Python-side loggers.

    Python's own `sys.stderr` is moved to a copy of the real descriptor, so tracebacks,
    progress bars and error messages bypass the filter and keep their order.
    """
    global _installed
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if _installed:
        return
    _installed = True
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = os.fdopen(os.dup(terminal), "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    forwarder = threading.Thread(target=_forward, args=(read_end, terminal), name="native-log-filter", daemon=True)
    forwarder.start()

    def drain():
        # Closing our write end lets the forwarder pass on what C++ wrote last, then stop.
        os.dup2(terminal, 2)
        forwarder.join(timeout=2.0)

    atexit.register(drain)
