"""Run the benchmarks chosen and write their sections into BENCHMARKS.md, keeping the others."""

import argparse
import datetime
import os
import re
import shutil
import tempfile

from keras_s2v.lab.benchmarks.beam import bench_beam
from keras_s2v.lab.benchmarks.data import bench_data
from keras_s2v.lab.benchmarks.dubbing import bench_dub
from keras_s2v.lab.benchmarks.export import bench_export
from keras_s2v.lab.benchmarks.faces import bench_faces
from keras_s2v.lab.benchmarks.live import bench_live
from keras_s2v.lab.benchmarks.precision import bench_precision
from keras_s2v.lab.benchmarks.soak import bench_soak
from keras_s2v.lab.benchmarks.timing import describe_machine
from keras_s2v.quiet import silence_native_logs

BENCHMARKS = {
    "data": bench_data,
    "export": bench_export,
    "precision": bench_precision,
    "dub": bench_dub,
    "live": bench_live,
    "faces": bench_faces,
    "beam": bench_beam,
    "soak": bench_soak,
}


ONE_RUN = {"live", "soak"}  # sections whose one run is minutes long: they take no repeats


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the keras-s2v benchmarks and write BENCHMARKS.md.")
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only these sections")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--soak-minutes", type=float, default=60.0, help="length of the soak section's one dub (default 60)")
    args = parser.parse_args(argv)
    options = {"soak": {"minutes": args.soak_minutes}}  # what a section takes besides its folder and repeats
    silence_native_logs()
    lines = [
        "# Benchmarks",
        "",
        "Each section says on which machine and day it was measured; medians of its repeats (more for short steps), "
        "ratios from one run. Regenerate with `make bench`, or one section with "
        "`python -m keras_s2v.lab.benchmarks --only NAME`.",
        "",
    ]
    sections = _read_sections(args.out) if args.only else {}
    work = tempfile.mkdtemp(prefix="s2v-bench-")
    try:
        for name in args.only or BENCHMARKS:
            print(f"benchmark: {name}", flush=True)
            heading, *body = BENCHMARKS[name](os.path.join(work, name), args.repeats, **options.get(name, {}))
            runs = "one run each" if name in ONE_RUN or args.repeats == 1 else f"medians of {args.repeats} repeats"
            measured = f"Measured {datetime.date.today().isoformat()} on {describe_machine()}, {runs}."
            sections[name] = [heading, "", measured, *body]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in BENCHMARKS:
        if name in sections:
            lines += sections[name] + [""]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    print(f"wrote {args.out}")


def _read_sections(path):
    """The sections of an existing BENCHMARKS.md by benchmark name, so `--only` keeps the others."""
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        blocks = re.split(r"\n(?=## )", handle.read().strip())
    sections = {}
    for block in blocks[1:]:
        heading = block.splitlines()[0].lower()
        name = next((name for name in BENCHMARKS if heading.startswith(f"## {name}")), None)
        if name:
            sections[name] = block.splitlines()
    return sections
