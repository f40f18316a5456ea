"""`s2v preprocess --runner ...`: the local preprocessing as an Apache Beam pipeline.

One element per video, each given to `preprocess_video`, the function the local path
runs, so shards, clips/<id>.json results and manifest.json are the local ones:
`keras_s2v.data` reads either. Runs on Beam's local Python runner, Dataflow, Flink or Spark.

Needs `pip install keras-s2v[beam]`; apache_beam is imported only here, only when used.
"""

import json
import os

from keras_s2v.data.preprocess import check_inputs, find_videos, preprocess_video, write_manifest

# "direct" is Beam's Python runner itself: Beam's DirectRunner first tries Prism, a Go binary it
# downloads at run time (and, offline, leaves a beam-temp folder in /tmp on each run before it falls back).
RUNNERS = {"direct": "FnApiRunner", "dataflow": "DataflowRunner", "flink": "FlinkRunner", "spark": "SparkRunner"}


def _beam():
    try:
        import apache_beam
    except ImportError:
        raise ValueError("--runner needs Apache Beam: pip install 'keras-s2v[beam]'") from None
    return apache_beam


def pipeline_options(runner, beam_args=()):
    """PipelineOptions for `runner` (a RUNNERS key) from Beam's own flags, e.g. `--direct_num_workers=2`.

    Beam only logs and drops a flag it does not know; here it is a ValueError, so a typo
    in `--temp_location` fails at once rather than on a cluster an hour later.
    """
    if runner not in RUNNERS:
        raise ValueError(f"`runner` must be one of {sorted(RUNNERS)}; received {runner!r}")
    _beam()
    from apache_beam.options import pipeline_options as beam_options

    # The parser PipelineOptions itself uses: private in Beam, so the extra pins 2.77.x.
    class Parser(beam_options._BeamArgumentParser):
        def error(self, message):
            raise ValueError(f"beam option: {message}")

    parser = Parser(allow_abbrev=False)
    for options_class in {str(cls): cls for cls in beam_options.PipelineOptions.__subclasses__()}.values():
        options_class._add_argparse_args(parser)
    flags = list(beam_args)
    _, unknown = parser.parse_known_args(flags)
    if unknown:
        raise ValueError(f"unknown beam option(s): {' '.join(unknown)} (see the options of `{RUNNERS[runner]}` in Beam's docs)")
    if any(flag == "--runner" or flag.startswith("--runner=") for flag in flags):
        raise ValueError("give the runner once, as --runner direct|dataflow|flink|spark")
    return beam_options.PipelineOptions(flags, runner=RUNNERS[runner])


def _manifest_of(results, out):
    return write_manifest(out, results)


def build_pipeline(pipeline, videos, out, detector="cnn"):
    """Add the preprocessing steps to `pipeline`; its last step writes manifest.json."""
    beam = _beam()
    return (
        pipeline
        | "Folder" >> beam.Create([videos])
        | "FindVideos" >> beam.FlatMap(find_videos)  # listed on a worker: a million paths stay out of the job graph
        | "Spread" >> beam.Reshuffle()  # the listing is one element; spread its videos over the workers
        | "Preprocess" >> beam.Map(preprocess_video, videos, out, detector)
        | "Collect" >> beam.combiners.ToList()
        | "WriteManifest" >> beam.Map(_manifest_of, out)
    )


def preprocess_beam(videos, out, runner="direct", beam_args=(), detector="cnn"):
    """Preprocess every video under `videos` into shards under `out` with Beam; returns the manifest.

    Paths may be local or gs://...; on a cluster both must be paths every worker can reach.
    """
    import tensorflow as tf

    options = pipeline_options(runner, beam_args)
    check_inputs(videos, detector)
    with _beam().Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, videos, out, detector)
    with tf.io.gfile.GFile(os.path.join(out, "manifest.json")) as handle:
        return json.load(handle)
