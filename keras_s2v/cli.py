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
    except S2VError as error:
        print(f"s2v: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2v: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
