"""The `s2v` command: argument parsing and error reporting only; the work lives in the library.

Each group of commands is a module here; importing it registers its commands. `s2v --help` lists
them group by group.
"""

import argparse
import os
import sys

from keras_s2v.cli import check, data, deliver, train
from keras_s2v.cli.registry import COMMANDS, UsageError
from keras_s2v.quiet import silence_native_logs

GROUPS = (data, train, deliver, check)  # the order `s2v --help` lists the commands in


def build_parser():
    from keras_s2v import __version__

    parser = argparse.ArgumentParser(
        prog="s2v",
        description="keras-s2v: audio-driven lip sync. Give it a face video or image and new speech; "
        "it returns the video with the lips moving to that speech.",
        epilog="Run `s2v COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"keras-s2v {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show TensorFlow's own log lines and full tracebacks (for debugging)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    ordered = sorted(COMMANDS, key=lambda entry: GROUPS.index(sys.modules[entry[3].__module__]))  # stable within a group
    for name, help, add_arguments, run in ordered:
        sub = subparsers.add_parser(name, help=help, description=(run.__doc__ or help).strip())
        if add_arguments:
            add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv=None):
    from keras_s2v.errors import S2VError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    if extra and not getattr(args.run, "takes_extra_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    if args.verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        silence_native_logs()
    try:
        return args.run(args) or 0
    except (S2VError, UsageError, ValueError) as error:
        # The library validates its arguments with ValueError, as Keras does: for the user that is a bad option.
        if args.verbose:
            raise
        print(f"s2v: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2v: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
