"""Run each fuzz harness for a set time, in its own process, and report what it tried and found.

    python -m fuzz.run --seconds 300              # every harness for 5 minutes (`make fuzz`)
    python -m fuzz.run --only media --seconds 60
    python -m fuzz.run --replay media FILE...     # run saved inputs once (a finding, to reproduce it)

A harness process writes its seeds (fuzz.seeds) on first use, fuzzes from them and from the corpus it
grew before, and stops at the first finding: an exception other than a keras_s2v error, a crash, an
input slower than --timeout seconds, or memory past --rss-limit-mb. The input is saved under
WORK/findings/HARNESS/. Exit code 1 when any harness found something.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time

HARNESS_NAMES = ("media", "audio", "manifest", "shard", "model")


def _child(name, work, libfuzzer_args):
    """In the harness's own process: set atheris up on the harness and fuzz (never returns)."""
    import atheris

    from fuzz import seeds, targets

    seed_folder = os.path.join(work, "seeds", name)
    if not os.path.isdir(seed_folder) or not os.listdir(seed_folder):
        seeds.write_seeds(name, seed_folder)
    with atheris.instrument_imports(include=["keras_s2v"]):
        target = targets.HARNESSES[name](targets.Workspace(os.path.join(work, "scratch", name)))
    slowest_file = os.path.join(work, "logs", f"{name}.slowest")
    slowest = [0.0]

    def timed(data):
        start = time.monotonic()
        target(data)
        elapsed = time.monotonic() - start
        if elapsed > slowest[0]:  # written when it grows, which is rare: libFuzzer may exit without Python's atexit
            slowest[0] = elapsed
            with open(slowest_file, "w") as handle:
                handle.write(f"{elapsed:.3f}\n")

    atheris.Setup([sys.argv[0], *libfuzzer_args], timed)
    atheris.Fuzz()


def _libfuzzer_args(name, work, seconds, timeout, rss_limit_mb):
    corpus = os.path.join(work, "corpus", name)
    findings = os.path.join(work, "findings", name) + os.sep
    for folder in (corpus, findings):
        os.makedirs(folder, exist_ok=True)
    return [
        corpus,
        os.path.join(work, "seeds", name),
        f"-max_total_time={seconds}",
        f"-timeout={timeout}",
        f"-rss_limit_mb={rss_limit_mb}",
        "-max_len=65536",
        f"-artifact_prefix={findings}",
        "-print_final_stats=1",
    ]


def _report(name, log_text, work, wall):
    executed = re.search(r"stat::number_of_executed_units: (\d+)", log_text)
    counted = int(executed[1]) if executed else max([int(n) for n in re.findall(r"^#(\d+)", log_text, re.M)] or [0])
    slowest_file = os.path.join(work, "logs", f"{name}.slowest")
    slowest = float(open(slowest_file).read()) if os.path.exists(slowest_file) else 0.0
    saved = re.search(r"Test unit written to (\S*/(?:crash|timeout|oom|leak)-\S+)", log_text)  # not slow-unit-
    finding = None
    if saved:
        exception = re.search(r"=== Uncaught Python exception: ===\n(.+)", log_text)
        kind = next((word for word in ("timeout", "out-of-memory", "deadly signal") if word in log_text), "crash")
        finding = f"{exception[1] if exception else kind}; input saved as {saved[1]}"
    if finding is None and "stat::number_of_executed_units" not in log_text and not re.search(r"^#\d+\s+DONE", log_text, re.M):
        finding = "the harness stopped before it fuzzed: " + (log_text.strip().splitlines() or ["no output"])[-1]
    return {"harness": name, "inputs": counted, "wall_s": wall, "slowest_s": slowest, "finding": finding}


def run_harness(name, work, seconds, timeout=20, rss_limit_mb=4096, nice=0):
    """Fuzz one harness for `seconds` in a child process; returns its report dict."""
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    args = _libfuzzer_args(name, work, seconds, timeout, rss_limit_mb)
    log_path = os.path.join(work, "logs", f"{name}.log")
    start = time.monotonic()
    with open(log_path, "w") as log:
        subprocess.run(
            [sys.executable, "-m", "fuzz.run", "--child", name, "--work", work, "--", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            timeout=seconds + 10 * timeout + 300,  # start-up, seeds and the last input, never forever
        )
    with open(log_path) as log:
        return _report(name, log.read(), work, time.monotonic() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fuzz keras-s2v's readers with atheris.")
    parser.add_argument("--seconds", type=float, default=300, help="fuzzing time per harness (default 300)")
    parser.add_argument("--only", choices=HARNESS_NAMES, action="append", help="fuzz only these harnesses")
    parser.add_argument(
        "--work", default=os.path.join("fuzz", "work"), help="seeds, grown corpus, findings and logs (default fuzz/work)"
    )
    parser.add_argument(
        "--timeout", type=int, default=20, help="seconds one input may take before it counts as a hang (default 20)"
    )
    parser.add_argument(
        "--rss-limit-mb", type=int, default=4096, help="memory past which an input counts as a finding (default 4096)"
    )
    parser.add_argument("--nice", type=int, default=0, help="niceness of the harness processes (e.g. 19 on a shared machine)")
    parser.add_argument("--jobs", type=int, default=1, help="harness processes at once (default 1)")
    parser.add_argument("--replay", nargs="+", metavar=("HARNESS", "FILE"), help="run saved inputs once through a harness")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    work = os.path.abspath(args.work)
    if args.child:
        _child(args.child, work, [arg for arg in rest if arg != "--"])
    if args.replay:
        name, *files = args.replay
        return subprocess.call(
            [sys.executable, "-m", "fuzz.run", "--child", name, "--work", work, "--", "-runs=1", *map(os.path.abspath, files)]
        )
    names = args.only or HARNESS_NAMES
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        reports = pool.map(lambda name: run_harness(name, work, args.seconds, args.timeout, args.rss_limit_mb, args.nice), names)
    failed = False
    for name, report in zip(names, reports):
        failed |= report["finding"] is not None
        print(
            f"{name:9s} {report['inputs']:8d} inputs in {report['wall_s']:6.1f} s, slowest input {report['slowest_s']:.2f} s: "
            + (f"FOUND {report['finding']}" if report["finding"] else "nothing found"),
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
