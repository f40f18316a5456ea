"""The `s2v` command: argument parsing and error reporting only; the work lives in the library."""

import argparse
import os
import sys

# Before TensorFlow is imported anywhere: the CLI prints only its own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COMMANDS = []  # (name, help, add_arguments, run): later issues append to this list


def command(name, help):
    """Register `run(args)`; its docstring's first paragraph is the subcommand's description."""

    def decorate(run):
        COMMANDS.append((name, help, getattr(run, "add_arguments", None), run))
        return run

    return decorate


def arguments(add):
    """Attach an `add(parser)` function that declares a command's options."""

    def decorate(run):
        run.add_arguments = add
        return run

    return decorate


class UsageError(Exception):
    """A bad option value: reported like argparse's own errors."""


def _quiet_tensorflow():
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


# --------------------------------------------------------------------------- info
@command("info", "versions of keras-s2v and its runtime, and the model presets")
def run_info(args):
    """List package versions and every preset with its parameter count."""
    _quiet_tensorflow()
    import importlib.metadata as metadata

    from keras_s2v.models import SPEECH2VID_PRESETS, SYNCNET_PRESETS, build_speech2vid, build_syncnet

    print("keras-s2v", metadata.version("keras-s2v"))
    for package in ("tensorflow-cpu", "tensorflow", "keras", "numpy", "av", "opencv-python-headless", "librosa", "ai-edge-litert"):
        try:
            print(f"  {package:24s} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    print("\nspeech2vid presets (generator):")
    for name, preset in SPEECH2VID_PRESETS.items():
        print(f"  {name:6s} {build_speech2vid(name).count_params():>12,d} parameters  {preset['description']}")
    print("\nsyncnet presets (expert discriminator):")
    for name, preset in SYNCNET_PRESETS.items():
        print(f"  {name:6s} {build_syncnet(name).count_params():>12,d} parameters  {preset['description']}")
    return 0


# --------------------------------------------------------------------------- probe
def _add_probe_arguments(parser):
    parser.add_argument("path", help="a video, still image or audio file")
    parser.add_argument(
        "--face-detector", default="haar", metavar="SPEC",
        help="'haar' (OpenCV frontal face, default) or 'cascade:PATH' for another cascade XML, e.g. an anime-face one",
    )


@command("probe", "show what a media file holds as keras-s2v sees it")
@arguments(_add_probe_arguments)
def run_probe(args):
    """Show what a video, image or audio file holds as keras-s2v sees it: size, frames at
    25 fps, faces found, audio track. Exits with code 2 if the file cannot be used."""
    from keras_s2v.media import describe

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
    from keras_s2v.synth import write_corpus

    try:
        paths = write_corpus(args.out, args.speakers, args.seconds, args.clips_per_speaker, args.seed)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {len(paths)} clips to {args.out}")
    return 0


# --------------------------------------------------------------------------- preprocess
def _add_preprocess_arguments(parser):
    parser.add_argument("--videos", required=True, help="folder of videos (searched recursively)")
    parser.add_argument("--out", required=True, help="folder for shards/, clips/ and manifest.json")
    parser.add_argument("--workers", type=int, default=1, help="videos processed in parallel (default 1)")
    parser.add_argument(
        "--face-detector", default="haar", metavar="SPEC",
        help="haar (default), cascade:PATH (any OpenCV cascade XML, e.g. anime faces), "
        "or sidecar (boxes from each video's JSON sidecar, as `s2v synth` writes)",
    )


@command("preprocess", "turn talking-face videos into TFRecord shards for training")
@arguments(_add_preprocess_arguments)
def run_preprocess(args):
    """Decode each video at 25 fps, find and smooth the face, crop it to 112x112, extract
    16 kHz audio and its MFCC, and write one TFRecord shard per clip plus manifest.json.
    A second run skips finished clips; unusable files are skipped with their reason."""
    _quiet_tensorflow()
    from keras_s2v.data.preprocess import preprocess

    try:
        manifest = preprocess(args.videos, args.out, args.workers, args.face_detector)
    except ValueError as error:
        raise UsageError(str(error)) from None
    for skipped in manifest["skipped"]:
        print(f"skipped {skipped['source']}: {skipped['reason']}")
    windows = ", ".join(f"{split} {count}" for split, count in manifest["windows"].items())
    print(f"{len(manifest['clips'])} clips preprocessed, {len(manifest['skipped'])} skipped; windows: {windows}")
    print(f"manifest: {os.path.join(args.out, 'manifest.json')}")
    return 0


# --------------------------------------------------------------------------- demo
def _add_demo_arguments(parser):
    parser.add_argument("--out", default="demo_out", help="folder for everything the demo makes (default demo_out)")
    parser.add_argument("--speakers", type=int, default=12, help="synthetic identities (default 12)")
    parser.add_argument("--seed", type=int, default=0)


@command("demo", "run the whole system on the built-in synthetic corpus")
@arguments(_add_demo_arguments)
def run_demo(args):
    """Run every built stage on the synthetic corpus with no other input, showing progress,
    and print a summary and where the files are."""
    _quiet_tensorflow()
    from keras_s2v.demo import run_demo as demo

    demo(args.out, speakers=args.speakers, seed=args.seed)
    return 0


# --------------------------------------------------------------------------- main
def build_parser():
    from keras_s2v import __version__

    parser = argparse.ArgumentParser(
        prog="s2v",
        description="keras-s2v: audio-driven lip sync. Give it a face video or image and new speech; "
        "it returns the video with the lips moving to that speech.",
        epilog="Run `s2v COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"keras-s2v {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help, add_arguments, run in COMMANDS:
        sub = subparsers.add_parser(name, help=help, description=(run.__doc__ or help).strip())
        if add_arguments:
            add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv=None):
    from keras_s2v.errors import S2VError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except (S2VError, UsageError) as error:
        print(f"s2v: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2v: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
