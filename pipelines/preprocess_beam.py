"""Preprocess a corpus with Apache Beam: the recipe of `s2v preprocess --runner`, as a script.

    python pipelines/preprocess_beam.py --videos corpus --out shards --face-detector sidecar \
        --direct_num_workers=2 --direct_running_mode=multi_processing

    python pipelines/preprocess_beam.py --videos gs://B/lrs2 --out gs://B/lrs2-shards --runner dataflow \
        --project P --region europe-west4 --temp_location gs://B/tmp --sdk_container_image IMAGE

Options this script does not know are Beam pipeline options (see README, distributed preprocessing).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_s2v.data.beam import RUNNERS, preprocess_beam  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--videos", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--face-detector", default="haar")
parser.add_argument("--runner", choices=sorted(RUNNERS), default="direct")
args, beam_args = parser.parse_known_args()

manifest = preprocess_beam(args.videos, args.out, args.runner, beam_args, args.face_detector)
print(f"{len(manifest['clips'])} clips, {len(manifest['skipped'])} skipped; windows: {manifest['windows']}")
