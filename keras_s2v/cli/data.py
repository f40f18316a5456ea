"""Commands about data: `info`, `probe`, `synth`, `preprocess`."""

import os

from keras_s2v.cli.registry import (
    UsageError,
    add_face_detector_argument,
    arguments,
    command,
)


# --------------------------------------------------------------------------- info
@command("info", "versions of keras-s2v and its runtime, and the model presets")
def run_info(args):
    """List package versions and every preset with its parameter count."""
    import importlib.metadata as metadata

    from keras_s2v.models import (
        QUALITY_DISCRIMINATOR_PRESETS,
        SPEECH2VID_PRESETS,
        SYNCNET_PRESETS,
        build_quality_discriminator,
        build_speech2vid,
        build_syncnet,
    )

    print("keras-s2v", metadata.version("keras-s2v"))
    for package in (
        "tensorflow-cpu",
        "tensorflow",
        "keras",
        "numpy",
        "av",
        "opencv-python-headless",
        "librosa",
        "ai-edge-litert",
    ):
        try:
            print(f"  {package:24s} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    for title, presets, build in (
        ("speech2vid presets (generator)", SPEECH2VID_PRESETS, build_speech2vid),
        ("syncnet presets (expert discriminator)", SYNCNET_PRESETS, build_syncnet),
        (
            "quality discriminator presets (Wav2Lip+GAN; `s2v train --gan-weight` trains `small`)",
            QUALITY_DISCRIMINATOR_PRESETS,
            build_quality_discriminator,
        ),
    ):
        print(f"\n{title}:")
        for name, preset in presets.items():
            print(f"  {name:10s} {build(name).count_params():>12,d} parameters  {preset['description']}")
    return 0


def _add_probe_arguments(parser):
    parser.add_argument("path", help="a video, still image or audio file")
    add_face_detector_argument(parser)


@command("probe", "show what a media file holds as keras-s2v sees it")
@arguments(_add_probe_arguments)
def run_probe(args):
    """Show what a video, image or audio file holds as keras-s2v sees it: size, frames at
    25 fps, faces found, audio track. Exits with code 2 if the file cannot be used."""
    from keras_s2v.media.probe import describe

    for key, value in describe(args.path, args.face_detector).items():
        print(f"{key:16s} {value}")
    return 0


# --------------------------------------------------------------------------- synth
def _add_synth_arguments(parser):
    parser.add_argument("--out", required=True, help="folder for the clips (created; split into train/val/test)")
    parser.add_argument("--speakers", type=int, default=12, help="number of identities (default 12)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each clip in seconds (default 8)")
    parser.add_argument("--clips-per-speaker", type=int, default=2, help="clips per identity (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same files (default 0)")


@command("synth", "write the built-in synthetic talking-face corpus")
@arguments(_add_synth_arguments)
def run_synth(args):
    """Write procedurally drawn talking faces with matching speech-like audio as H.264 + AAC
    mp4 files, each with a JSON sidecar (face box per frame, mouth shapes, phone script).
    Speakers are split into train/val/test by identity."""
    from keras_s2v.lab.synth.corpus import write_corpus

    paths = write_corpus(args.out, args.speakers, args.seconds, args.clips_per_speaker, args.seed)
    print(f"wrote {len(paths)} clips to {args.out}")
    return 0


# --------------------------------------------------------------------------- preprocess
def _add_preprocess_arguments(parser):
    parser.add_argument("--videos", required=True, help="folder of videos, searched recursively (local or gs://...)")
    parser.add_argument("--out", required=True, help="folder for shards/, clips/ and manifest.json (local or gs://...)")
    parser.add_argument("--workers", type=int, help="videos processed in parallel on this machine (default 1; local path only)")
    add_face_detector_argument(
        parser,
        ", or sidecar (boxes from each video's JSON sidecar, as `s2v synth` writes). "
        "The shards record how the crops were aligned; a rerun with another detector redoes the clips",
    )
    parser.add_argument(
        "--runner",
        choices=("direct", "dataflow", "flink", "spark"),
        help="run as an Apache Beam pipeline on this runner (needs `pip install keras-s2v[beam]`); the options "
        "`s2v preprocess` does not know go to Beam, e.g. --direct_num_workers=4 --direct_running_mode=multi_processing, "
        "or for dataflow --project P --region R --temp_location gs://... (see README, distributed preprocessing)",
    )
    parser.add_argument(
        "--allow-skips",
        action="store_true",
        help="exit 0 even when some videos were refused (by default the corpus is still written, then exit code 2)",
    )


@command("preprocess", "turn talking-face videos into TFRecord shards for training")
@arguments(_add_preprocess_arguments)
def run_preprocess(args):
    """Decode each video at 25 fps, track the face and crop it to the models' square face size (aligned by the
    landmarks with cnn), extract 16 kHz audio and its MFCC, and write one TFRecord shard per
    clip plus manifest.json.
    A second run skips finished clips. An unusable file (no face, bad audio, not media) is skipped with
    its reason and the rest of the corpus is written; the exit code is then 2 unless --allow-skips.
    With --runner the same work runs as an Apache Beam pipeline (Dataflow, Flink, Spark or
    Beam's local Python runner) and writes the same shards and manifest."""
    if args.runner:
        if args.workers is not None:
            raise UsageError(
                "--workers is for the local path; with --runner set the runner's parallelism "
                "(e.g. --direct_num_workers=N, --max_num_workers=N on dataflow)"
            )
        from keras_s2v.data.beam import preprocess_beam

        manifest = preprocess_beam(args.videos, args.out, args.runner, args.extra, args.face_detector)
    else:
        if args.extra:
            raise UsageError(f"unrecognized arguments: {' '.join(args.extra)} (Beam options need --runner)")
        from keras_s2v.data.preprocess import preprocess

        manifest = preprocess(args.videos, args.out, 1 if args.workers is None else args.workers, args.face_detector)
    for skipped in manifest["skipped"]:
        print(f"skipped {skipped['source']}: {skipped['reason']}")
    windows = ", ".join(f"{split} {count}" for split, count in manifest["windows"].items())
    print(f"{len(manifest['clips'])} clips preprocessed, {len(manifest['skipped'])} skipped; windows: {windows}")
    print(f"manifest: {os.path.join(args.out, 'manifest.json')}")
    if manifest["skipped"] and not args.allow_skips:
        # The good clips are kept: a corpus is not lost for one bad file, but a script must not miss it.
        raise UsageError(
            f"{len(manifest['skipped'])} of {len(manifest['skipped']) + len(manifest['clips'])} videos refused (listed above); --allow-skips accepts that"
        )
    return 0


run_preprocess.takes_extra_arguments = True  # Beam's pipeline options, checked by keras_s2v.data.beam
