"""How a command is declared (`@command`, `@arguments`), and the options several commands share."""

import argparse

COMMANDS = []  # (name, help, add_arguments, run), in the order `s2v --help` lists them


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


def add_face_detector_argument(parser, more_help=""):
    from keras_s2v.faces.detectors import DETECTOR_HELP

    parser.add_argument("--face-detector", default="cnn", metavar="SPEC", help=DETECTOR_HELP + more_help)


def positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0; received {text}")
        return value

    return parse


def add_window_step_argument(parser):
    from keras_s2v.geometry import DEFAULT_WINDOW_STEP, WINDOW_FRAMES

    parser.add_argument(
        "--window-step",
        type=int,
        default=DEFAULT_WINDOW_STEP,
        choices=range(1, WINDOW_FRAMES + 1),
        metavar="N",
        help="run the generator's 5-frame window every N frames (1 to 5) and keep its N middle frames: "
        "1 draws every frame from the window centred on it, so the mouth moves on time frame by frame; "
        f"5 does a fifth of the generator's work (default {DEFAULT_WINDOW_STEP})",
    )


def add_precision_argument(parser):
    from keras_s2v.precision import CHOICES, HELP

    parser.add_argument("--precision", default="auto", choices=CHOICES, help=HELP)
