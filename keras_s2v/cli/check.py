"""Commands that measure: `evaluate`, `score`, `photo-check`, and `demo`, which runs everything."""

import os

from keras_s2v.cli.registry import (
    add_face_detector_argument,
    add_precision_argument,
    add_window_step_argument,
    arguments,
    command,
)


# --------------------------------------------------------------------------- evaluate
def _add_evaluate_arguments(parser):
    parser.add_argument("--data", required=True, help="the --out folder of `s2v preprocess`")
    parser.add_argument("--generator", required=True, help="generator: .keras, SavedModel folder or .tflite")
    parser.add_argument("--evaluator", required=True, help="the evaluation SyncNet (.keras), never the training expert")
    parser.add_argument("--out", required=True, help="folder for report.json, offsets.png and frames.png")
    parser.add_argument("--split", default="test", help="held-out clips to evaluate on (default test)")
    add_window_step_argument(parser)


@command("evaluate", "score lip sync with LSE-D / LSE-C on held-out clips")
@arguments(_add_evaluate_arguments)
def run_evaluate(args):
    """Drive the face of each held-out clip A with the audio of another clip B and score the
    result with the evaluation SyncNet: LSE-D, LSE-C and AV offset, against two baselines (A's
    frames unchanged, a static mouth) and the real clip. Also reports the evaluator's sync
    accuracy and PSNR / SSIM of frames generated from A's own audio."""
    from keras_s2v.data.manifest import require_folder
    from keras_s2v.dubbing.backends import require_model

    # Mistyped paths are refused before TensorFlow loads (seconds): neither import above needs it.
    require_folder(args.data)
    require_model(args.generator)
    require_model(args.evaluator)
    from keras_s2v.dubbing.backends import load_backend
    from keras_s2v.evaluation.protocol import evaluate, format_scores
    from keras_s2v.saving import load_model

    backend = load_backend(args.generator)
    evaluator = load_model(args.evaluator, "SyncNet")
    report = evaluate(args.data, backend, evaluator, args.out, args.split, window_step=args.window_step)
    print(format_scores(report))
    print(f"report: {os.path.join(args.out, 'report.json')}")
    return 0


# --------------------------------------------------------------------------- score
def _add_score_arguments(parser):
    parser.add_argument("video", help="a talking-face video, e.g. the output of `s2v dub`")
    parser.add_argument("--audio", help="score against this audio instead of the video's own track")
    parser.add_argument("--evaluator", required=True, help="the evaluation SyncNet (.keras from `s2v train-syncnet`)")
    parser.add_argument("--out", help="folder for score.json and offsets.png (distance against offset)")
    add_face_detector_argument(parser, ". Use the detector the evaluator's training shards were made with")


@command("score", "how well a talking-face video is in sync: LSE-D, LSE-C, AV offset")
@arguments(_add_score_arguments)
def run_score(args):
    """Score the lip sync of any video with the evaluation SyncNet, following SyncNet's
    evaluation protocol: the face is tracked and cropped as `s2v dub` does, and the distance
    between mouth and audio embeddings is averaged at audio offsets of -15..+15 frames.
    LSE-D is the smallest mean distance (lower is better), LSE-C the median minus it (higher is
    better), AV offset where it lies (0 = in sync). Needs 1.4 s with a face."""
    from keras_s2v.dubbing.backends import require_model
    from keras_s2v.media.video import require_file

    require_file(args.video)  # before TensorFlow loads, as `evaluate` does
    if args.audio:
        require_file(args.audio)
    require_model(args.evaluator)
    from keras_s2v.evaluation.scoring import format_score, score

    report = score(args.video, args.evaluator, args.audio, args.out, args.face_detector)
    print(format_score(report))
    if args.out:
        print(f"report: {os.path.join(args.out, 'score.json')}")
    return 0


def _add_photo_check_arguments(parser):
    parser.add_argument(
        "photos",
        nargs="*",
        metavar="PHOTO",
        help="portrait photographs (png, jpg, ...); default: the two that ship in the installed wheels",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="a mouth-motion model (.keras) or a generator: a .keras file, a SavedModel folder or model "
        "base path, or a .tflite file",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="folder for photo_check.json, contact_sheet.png and each photo's dub; "
        "each --video's check goes to a folder of its name inside",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of synthesized speech, at least 0.5 (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="picks the speech's words and voice (default 0)")
    parser.add_argument(
        "--speech",
        default="formant",
        choices=("formant", "espeak"),
        help="the photos' speech: the synthetic corpus's formant voices, or espeak-ng's voices, which "
        "the generator never heard (default formant)",
    )
    parser.add_argument(
        "--video",
        action="append",
        default=[],
        metavar="CLIP",
        help="a real talking video to check (repeatable): it is dubbed with its own speech, other "
        "speech and silence, and the lip gaps, sharpness and the face outside the mouth are "
        "compared with the source's; with a mouth-motion model, also to its own lip gaps (row "
        "`renderer`: what the renderer gives when told the right opening). Photos are then checked "
        "only if given",
    )
    parser.add_argument(
        "--other-speech", metavar="AUDIO", help="the other speech for --video (default: English said by an espeak-ng voice)"
    )


@command("photo-check", "dub portrait photos with synthesized speech: does the face stay, do the lips move?")
@arguments(_add_photo_check_arguments)
def run_photo_check(args):
    """Dub each photo with speech synthesized from --seed, as `s2v dub` would with the cnn
    detector, and measure the result with the face mesh run on every output frame on its own:
    the PSNR against the photo on the face outside the lips (the person must stay; the photo
    through the same H.264 encoding is the ceiling) and the correlation of the inner-lip gap with
    the loudness of each frame's audio (the lips must follow the speech). Use photos the
    generator never saw in training."""
    from keras_s2v.evaluation.photo_check import check_photos, format_photo_check
    from keras_s2v.evaluation.video_check import check_video, format_video_check
    from keras_s2v.media.video import read_image

    for clip in args.video:
        folder = os.path.join(args.out, os.path.splitext(os.path.basename(clip))[0])
        report = check_video(clip, args.model, folder, other=args.other_speech, seed=args.seed)
        print(f"{clip}:")
        print("\n".join(format_video_check(report)))
        print(f"report: {os.path.join(folder, 'video_check.json')}; frames: {os.path.join(folder, 'contact_sheet.png')}")
    if args.video and not args.photos:
        return 0
    photos = None
    if args.photos:
        names = [os.path.splitext(os.path.basename(path))[0] for path in args.photos]
        if len(set(names)) < len(names):
            names = [f"{index}_{name}" for index, name in enumerate(names)]
        photos = {name: read_image(path) for name, path in zip(names, args.photos)}
    report = check_photos(args.model, args.out, seconds=args.seconds, seed=args.seed, photos=photos, speech=args.speech)
    print("\n".join(format_photo_check(report)))
    print(f"report: {os.path.join(args.out, 'photo_check.json')}; frames: {os.path.join(args.out, 'contact_sheet.png')}")
    return 0


# --------------------------------------------------------------------------- demo
def _add_demo_arguments(parser):
    from keras_s2v.lab.demo import SCALES

    full, quick = SCALES["full"], SCALES["quick"]
    parser.add_argument("--out", default="demo_out", help="folder for everything the demo makes (default demo_out)")
    parser.add_argument(
        "--speakers",
        type=int,
        default=None,
        help=f"synthetic identities (default {full['speakers']}, or {quick['speakers']} with --quick); "
        f"the full demo's clips are {full['seconds']} s each",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of every stage with tiny models and a few steps (its metrics mean nothing)",
    )
    add_precision_argument(parser)


@command("demo", "run the whole system on the built-in synthetic corpus")
@arguments(_add_demo_arguments)
def run_demo(args):
    """Run every built stage on the synthetic corpus with no other input, showing progress,
    and print a summary and where the files are."""
    from keras_s2v.lab.demo import run_demo as demo

    demo(args.out, speakers=args.speakers, seed=args.seed, scale="quick" if args.quick else "full", precision=args.precision)
    return 0
