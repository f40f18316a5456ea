"""The `s2v` command: argument parsing and error reporting only; the work lives in the library."""

import argparse
import os
import sys

from keras_s2v.quiet import silence_native_logs

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
    for package in ("tensorflow-cpu", "tensorflow", "keras", "numpy", "av", "opencv-python-headless", "librosa", "ai-edge-litert"):
        try:
            print(f"  {package:24s} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    for title, presets, build in (("speech2vid presets (generator)", SPEECH2VID_PRESETS, build_speech2vid),
                                  ("syncnet presets (expert discriminator)", SYNCNET_PRESETS, build_syncnet),
                                  ("quality discriminator presets (Wav2Lip+GAN; `s2v train --gan-weight` trains `small`)",
                                   QUALITY_DISCRIMINATOR_PRESETS, build_quality_discriminator)):
        print(f"\n{title}:")
        for name, preset in presets.items():
            print(f"  {name:10s} {build(name).count_params():>12,d} parameters  {preset['description']}")
    return 0


# --------------------------------------------------------------------------- probe
def _add_face_detector_argument(parser, more_help=""):
    from keras_s2v.faces.detectors import DETECTOR_HELP

    parser.add_argument("--face-detector", default="cnn", metavar="SPEC", help=DETECTOR_HELP + more_help)


def _add_probe_arguments(parser):
    parser.add_argument("path", help="a video, still image or audio file")
    _add_face_detector_argument(parser)


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
    _add_face_detector_argument(
        parser, ", or sidecar (boxes from each video's JSON sidecar, as `s2v synth` writes). "
        "The shards record how the crops were aligned; a rerun with another detector redoes the clips",
    )
    parser.add_argument(
        "--runner", choices=("direct", "dataflow", "flink", "spark"),
        help="run as an Apache Beam pipeline on this runner (needs `pip install keras-s2v[beam]`); the options "
        "`s2v preprocess` does not know go to Beam, e.g. --direct_num_workers=4 --direct_running_mode=multi_processing, "
        "or for dataflow --project P --region R --temp_location gs://... (see README, distributed preprocessing)",
    )


@command("preprocess", "turn talking-face videos into TFRecord shards for training")
@arguments(_add_preprocess_arguments)
def run_preprocess(args):
    """Decode each video at 25 fps, track the face and crop it to the models' square face size (aligned by the
    landmarks with cnn), extract 16 kHz audio and its MFCC, and write one TFRecord shard per
    clip plus manifest.json.
    A second run skips finished clips; unusable files are skipped with their reason.
    With --runner the same work runs as an Apache Beam pipeline (Dataflow, Flink, Spark or
    the local DirectRunner) and writes the same shards and manifest."""
    if args.runner:
        if args.workers is not None:
            raise UsageError("--workers is for the local path; with --runner set the runner's parallelism "
                             "(e.g. --direct_num_workers=N, --max_num_workers=N on dataflow)")
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
    return 0


run_preprocess.takes_extra_arguments = True  # Beam's pipeline options, checked by keras_s2v.data.beam


# --------------------------------------------------------------------------- training
def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0; received {text}")
        return value

    return parse


RECIPE_HELP = "the training recipe whose numbers are the defaults: synthetic-small (TRAINING.md §4) or smoke (a few steps)"


def _add_run_arguments(parser, recipe_help=RECIPE_HELP):
    parser.add_argument("--data", required=True, help="the --out folder of `s2v preprocess`")
    parser.add_argument("--recipe", default="synthetic-small", help=recipe_help + " (default synthetic-small)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


# The recipe's fields are the options of the three training commands (keras_s2v.training.recipe):
# each command keeps the names of the options it added, to hand them back to the recipe.
def _add_train_syncnet_arguments(parser):
    from keras_s2v.training.recipe import SyncNetRecipe, add_recipe_arguments

    _add_run_arguments(parser)
    parser.add_argument("--out", required=True, help="the SyncNet file to write (.keras)")
    parser.add_argument("--role", default="expert", choices=["expert", "evaluator"],
                        help="which of the recipe's SyncNets to train: the expert (default) or the independent "
                        "evaluation SyncNet (other clips, another seed)")
    parser.add_argument("--split", default="train", help="clips to train on (default train)")
    parser.add_argument("--val-split", default="val", help="held-out clips for validation (default val)")
    parser.set_defaults(recipe_options=add_recipe_arguments(parser, SyncNetRecipe))


@command("train-syncnet", "train the SyncNet expert (or the independent evaluation SyncNet)")
@arguments(_add_train_syncnet_arguments)
def run_train_syncnet(args):
    """Train a SyncNet with binary cross-entropy on P_sync: aligned windows against the
    same clip's audio shifted by >= 5 frames and audio of other clips. Validation loss and
    accuracy are printed each epoch. The numbers are the --recipe's expert, which trains on the
    even clips, or with `--role evaluator` its evaluation SyncNet, which trains on the odd clips
    with another seed, so the two never share a clip."""
    from keras_s2v.data import read_manifest
    from keras_s2v.saving import save_model
    from keras_s2v.training.recipe import recipe_overrides, resolve_syncnet
    from keras_s2v.training.syncnet_fit import sync_accuracy, train_syncnet

    syncnet = resolve_syncnet(args.recipe, args.role, **recipe_overrides(args, args.recipe_options))
    manifest = read_manifest(args.data)
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise UsageError(f"--out {args.out}: the output folder does not exist")
    model, _ = train_syncnet(args.data, manifest, syncnet, args.seed, args.split, args.val_split)
    accuracy = sync_accuracy(model, args.data, args.val_split)
    save_model(model, args.out)
    print(f"held-out ({args.val_split}) accuracy, aligned vs shifted >= 5 frames: {accuracy:.3f}")
    print(f"saved {args.out}")
    return 0


def _add_train_arguments(parser):
    _add_run_arguments(parser)
    parser.add_argument("--syncnet", required=True, help="the trained expert (.keras from `s2v train-syncnet`)")
    parser.add_argument("--out", required=True,
                        help="the generator file to write (.keras); the run's logs go to OUT.run/, earlier phases' to OUT_phaseK.keras and OUT_phaseK.run/")
    parser.add_argument("--init", help="a generator .keras for the first phase to fine-tune instead of a fresh --preset model")
    parser.add_argument("--strategy", default="default", choices=["default", "mirrored", "multi-worker"],
                        help="tf.distribute strategy: mirrored = all GPUs of this machine; multi-worker = TF_CONFIG")
    parser.add_argument("--mixed-precision", nargs="?", const="mixed_float16", default=None,
                        choices=["mixed_float16", "mixed_bfloat16"], help="compute in float16 (default) or bfloat16")
    parser.add_argument("--hparams", help="JSON from `s2v tune`: it wins over the recipe, explicit options win over it")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run: finished phases are kept")
    from keras_s2v.training.recipe import add_generator_recipe_arguments

    parser.set_defaults(recipe_options=add_generator_recipe_arguments(parser))


@command("train", "train the Speech2Vid generator through the frozen SyncNet expert")
@arguments(_add_train_arguments)
def run_train(args):
    """Train the generator with model.fit and a custom train_step: its frames go through the
    frozen SyncNet, and the loss mixes L1 with the expert's sync loss -log P_sync. Trains every
    phase of --recipe in order, each fine-tuning the one before; the options change the recipe.
    Writes a checkpoint every epoch, TensorBoard logs (scalars and frame grids), a CSV log and
    the recipe it trained with (recipe.json) to OUT.run/; stop it any time and continue with --resume."""
    from keras_s2v.data import read_manifest
    from keras_s2v.training.generator_fit import train_recipe_generator
    from keras_s2v.training.recipe import recipe_overrides, resolve_recipe

    recipe = resolve_recipe(args.recipe, args.hparams, **recipe_overrides(args, args.recipe_options))
    manifest = read_manifest(args.data)
    history = train_recipe_generator(
        args.data, manifest, args.syncnet, args.out, recipe, initial=args.init, resume=args.resume, seed=args.seed,
        strategy=args.strategy, mixed_precision=args.mixed_precision,
    )
    if history is not None:
        last = {k: f"{v[-1]:.4f}" for k, v in history.history.items() if k.startswith("val_")}
        print("final validation: " + "  ".join(f"{k} {v}" for k, v in last.items()))
    print(f"saved {args.out}")
    return 0


def _add_tune_arguments(parser):
    from keras_s2v.training.recipe import TUNED_OPTIONS, add_generator_recipe_arguments

    _add_run_arguments(parser, RECIPE_HELP + "; the trials train like its first phase and only the tuned values vary")
    parser.add_argument("--syncnet", required=True, help="the trained expert (.keras)")
    parser.add_argument("--out", required=True, help="folder for the trials and best_hparams.json")
    parser.add_argument("--max-trials", type=_positive(int), default=10, help="trials to run (default 10)")
    parser.add_argument("--presets", default="tiny,small", help="generator presets to choose from (default tiny,small)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive(int), default=3,
                        help="passes over the training windows in each trial (default 3); the recipe's warm-up is scaled to them")
    length.add_argument("--steps", type=_positive(int), help="total optimizer steps of each trial, instead of --epochs")
    # Not options here: the tuned values, the trial's length above, and the loss, whose sync weight is searched.
    parser.set_defaults(recipe_options=add_generator_recipe_arguments(
        parser, exclude=TUNED_OPTIONS + ("epochs", "steps", "warmup_epochs", "loss")))


def _add_train_mouth_arguments(parser):
    parser.add_argument("--out", required=True, help="the mouth-motion model to write (.keras)")
    parser.add_argument("--utterances", type=_positive(int), default=200,
                        help="random 4 s utterances to train on, half from espeak-ng's voices, half from the formant "
                             "synthesizer (default 200: about a minute to make, a minute to train on 2 cores)")
    parser.add_argument("--epochs", type=_positive(int), default=12, help="passes over the utterances (default 12)")
    # No choices here: the presets live with the model, and importing it would load TensorFlow before the CLI quiets it.
    parser.add_argument("--preset", default="small", help="model size: small (default) or tiny (for tests)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the utterances and the weights (default 0)")


@command("train-mouth", "train the mouth-motion model that drives the mouth rendered from the person's own pixels")
@arguments(_add_train_mouth_arguments)
def run_train_mouth(args):
    """Train the network that turns speech into how open the mouth is, frame by frame, on synthesized
    speech whose mouth is known: espeak-ng's voices and the formant synthesizer, with noise, reverb
    and gain. `s2v dub --model OUT` then moves the person's own lips to new speech."""
    from tqdm.auto import tqdm

    from keras_s2v.training.mouth_fit import train_mouth_motion, training_set

    if not args.out.endswith(".keras"):
        raise UsageError(f"--out must end in .keras; received {args.out!r}")
    with tqdm(total=args.utterances, desc="speech", unit="utterance", leave=False) as bar:
        windows, targets = training_set(args.utterances, seed=args.seed, progress=lambda: bar.update(1))
    model = train_mouth_motion(windows, targets, preset=args.preset, epochs=args.epochs, seed=args.seed)
    model.save(args.out)
    print(f"trained on {len(windows)} windows; saved {args.out}")
    return 0


@command("tune", "search learning rate, preset and sync weight with keras-tuner")
@arguments(_add_tune_arguments)
def run_tune(args):
    """Bayesian optimisation (keras-tuner) of the learning rate, the generator preset and the
    sync weight, minimising validation L1 + E_sync under the training expert. Everything else
    is the recipe's first phase, which the options change as they change `s2v train`'s. Writes
    OUT/best_hparams.json for `s2v train --hparams`; a second run continues the search."""
    from keras_s2v.data import read_manifest
    from keras_s2v.training.recipe import recipe_overrides, resolve_recipe
    from keras_s2v.training.tuning import tune

    recipe = resolve_recipe(args.recipe, **recipe_overrides(args, args.recipe_options))
    manifest = read_manifest(args.data)
    best = tune(args.data, manifest, args.syncnet, args.out, recipe, args.max_trials, args.epochs, args.steps,
                args.presets.split(","), args.seed)
    print("best hyperparameters: " + ", ".join(f"{k}={v}" for k, v in best.items()))
    print(f"saved {os.path.join(args.out, 'best_hparams.json')}")
    return 0


# --------------------------------------------------------------------------- export
def _add_export_arguments(parser):
    parser.add_argument("--generator", required=True, help="a trained generator (.keras)")
    parser.add_argument("--out", default="saved_models/speech2vid", help="model base path (default saved_models/speech2vid)")
    parser.add_argument("--version", type=_positive(int), help="version folder to write (default: latest + 1)")
    parser.add_argument("--tflite", help="TFLite variants, comma-separated, or 'none' "
                        "(default fp32,fp16, and int8 when --calibration is given)")
    parser.add_argument("--calibration", metavar="SHARDS",
                        help="preprocessed shards whose windows calibrate the full-integer int8 variant (needed for int8)")
    parser.add_argument("--force", action="store_true", help="replace the version folder if it exists")


@command("export", "write the SavedModel for TensorFlow Serving and TFLite/LiteRT variants")
@arguments(_add_export_arguments)
def run_export(args):
    """Export a generator as OUT/<version>/ (the layout TF Serving loads) with two signatures,
    serving_default (mfcc, identity, reference -> frames) and from_audio (16 kHz PCM, identity,
    reference -> frames), identity being the raw target window and reference a window of the
    same video at least 5 frames away (a still image: the image itself),
    plus TFLite files of both under OUT/<version>/tflite/ (built-in ops only). Writes
    OUT/export_report.json with each file's size, latency and PSNR against Keras."""
    from keras_s2v.export import export
    from keras_s2v.saving import load_model

    variants = None if args.tflite is None else [] if args.tflite == "none" else [v for v in args.tflite.split(",") if v]
    generator = load_model(args.generator, "generator")
    report = export(generator, args.out, args.version, variants, args.calibration, args.force)
    print(f"exported version {report['version']} to {report['path']}")
    print(f"  {'file':38s} {'MB':>7s} {'ms (batch 1)':>13s} {'PSNR dB':>8s}")
    for entry in report["files"]:
        name = f"{entry['file'] if entry['file'] != '.' else 'SavedModel'} [{entry['signature']}]"
        print(f"  {name:38s} {entry['bytes'] / 1e6:7.2f} {entry['latency_ms_batch1']:13.1f} {entry['psnr_db_vs_keras']:8.1f}")
    print(f"report: {os.path.join(args.out, 'export_report.json')}")
    return 0


def _add_serve_check_arguments(parser):
    parser.add_argument("base", help="model base path, e.g. saved_models/speech2vid")


@command("serve-check", "show what TensorFlow Serving will load from a model base path")
@arguments(_add_serve_check_arguments)
def run_serve_check(args):
    """List the versions, signatures and tensor shapes that TF Serving will see under a model
    base path. Exits with code 2 if the layout is wrong."""
    from keras_s2v.export.savedmodel import serving_layout

    layout = serving_layout(args.base)
    print(f"model base path {args.base}: versions {sorted(layout)} (TF Serving serves the latest, {max(layout)})")
    for version, signatures in layout.items():
        for name, (inputs, outputs) in signatures.items():
            print(f"  {version}/{name}: " + ", ".join(f"{k} {v}" for k, v in inputs.items()) + " -> " + ", ".join(f"{k} {v}" for k, v in outputs.items()))
    return 0


# --------------------------------------------------------------------------- dub
def _add_dub_arguments(parser):
    parser.add_argument("--face", required=True, help="a face video (any frame rate) or a still image")
    parser.add_argument("--audio", required=True, help="the new speech: wav, flac, mp3, ogg, or a video's audio track")
    parser.add_argument("--model", required=True,
                        help="a mouth-motion model (.keras, from `s2v train-mouth`): the mouth is the person's own, moved "
                             "to the speech; or a generator: a .keras file, a SavedModel folder or model base path (newest "
                             "version), or a .tflite file, which paints the mouth")
    parser.add_argument("--out", required=True, help="the mp4 to write (H.264 + AAC, 25 fps)")
    _add_face_detector_argument(
        parser, ". Use the detector the generator's training shards were made with: "
        "cnn crops are aligned by the landmarks, the others by the box",
    )
    parser.add_argument("--batch-size", type=_positive(int), default=4,
                        help="windows per generator call (default 4); larger batches cost memory for a few %% speed")
    _add_window_step_argument(parser)
    parser.add_argument("--whole-lower-face", action="store_true",
                        help="paste the generator's whole lower face, from the nose down; by default (with the cnn "
                             "detector's landmarks) the source is kept above the upper lip, which speech hardly moves")


def _add_window_step_argument(parser):
    from keras_s2v.geometry import DEFAULT_WINDOW_STEP, WINDOW_FRAMES

    parser.add_argument("--window-step", type=int, default=DEFAULT_WINDOW_STEP, choices=range(1, WINDOW_FRAMES + 1), metavar="N",
                        help="run the generator's 5-frame window every N frames (1 to 5) and keep its N middle frames: "
                             "1 draws every frame from the window centred on it, so the mouth moves on time frame by frame; "
                             f"5 does a fifth of the generator's work (default {DEFAULT_WINDOW_STEP})")


@command("dub", "lip-sync a face video or image to new speech")
@arguments(_add_dub_arguments)
def run_dub(args):
    """Make the face in --face speak --audio. The face video is looped back and forth to cover
    longer audio, or cut to shorter audio; a still image is animated. Frames where no face is
    found pass through unchanged. The output has the input's resolution and the new audio."""
    from keras_s2v.dubbing.engine import dub
    from keras_s2v.dubbing.own_pixels import dub_own_pixels, is_motion_model

    if is_motion_model(args.model):
        summary = dub_own_pixels(args.face, args.audio, args.model, args.out, args.face_detector)
    else:
        summary = dub(args.face, args.audio, args.model, args.out, args.face_detector, args.batch_size,
                      window_step=args.window_step, keep_above_lips=not args.whole_lower_face)
    print(summary.line())
    print(f"wrote {args.out}")
    return 0


# --------------------------------------------------------------------------- web
def _add_web_arguments(parser):
    parser.add_argument("--model", required=True,
                        help="generator: a .keras file, a SavedModel folder or model base path, or a .tflite file")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    parser.add_argument("--max-upload-mb", type=_positive(float), default=100.0, help="size limit of each uploaded file (default 100)")
    _add_face_detector_argument(parser, ". Use the detector the generator's training shards were made with")
    parser.add_argument("--workdir", help="folder in which the temporary folder for uploads and results is made (default: the system's)")


@command("web", "serve a web page for dubbing: upload a face and speech, watch and download the result")
@arguments(_add_web_arguments)
def run_web(args):
    """Serve a page at http://HOST:PORT/ where a face video or image and speech (an audio
    file, a video's sound, or a microphone recording) are uploaded and dubbed with --model.
    The page shows progress and the summary line, plays the result and offers it for
    download. Jobs run one at a time in the order they came. Uploads and results live in a
    temporary folder, removed when the server stops; results are kept for an hour.
    Needs the web extra: pip install 'keras-s2v[web]'."""
    try:
        from keras_s2v.web.app import serve
    except ImportError as error:
        raise UsageError(f"`s2v web` needs the web extra ({error.name} is missing): pip install 'keras-s2v[web]'") from None
    serve(args.model, args.host, args.port, args.max_upload_mb, args.face_detector, args.workdir)
    return 0


# --------------------------------------------------------------------------- evaluate
def _add_evaluate_arguments(parser):
    parser.add_argument("--data", required=True, help="the --out folder of `s2v preprocess`")
    parser.add_argument("--generator", required=True, help="generator: .keras, SavedModel folder or .tflite")
    parser.add_argument("--evaluator", required=True, help="the evaluation SyncNet (.keras), never the training expert")
    parser.add_argument("--out", required=True, help="folder for report.json, offsets.png and frames.png")
    parser.add_argument("--split", default="test", help="held-out clips to evaluate on (default test)")
    _add_window_step_argument(parser)


@command("evaluate", "score lip sync with LSE-D / LSE-C on held-out clips")
@arguments(_add_evaluate_arguments)
def run_evaluate(args):
    """Drive the face of each held-out clip A with the audio of another clip B and score the
    result with the evaluation SyncNet: LSE-D, LSE-C and AV offset, against two baselines (A's
    frames unchanged, a static mouth) and the real clip. Also reports the evaluator's sync
    accuracy and PSNR / SSIM of frames generated from A's own audio."""
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
    _add_face_detector_argument(parser, ". Use the detector the evaluator's training shards were made with")


@command("score", "how well a talking-face video is in sync: LSE-D, LSE-C, AV offset")
@arguments(_add_score_arguments)
def run_score(args):
    """Score the lip sync of any video with the evaluation SyncNet, following SyncNet's
    evaluation protocol: the face is tracked and cropped as `s2v dub` does, and the distance
    between mouth and audio embeddings is averaged at audio offsets of -15..+15 frames.
    LSE-D is the smallest mean distance (lower is better), LSE-C the median minus it (higher is
    better), AV offset where it lies (0 = in sync). Needs 1.4 s with a face."""
    from keras_s2v.evaluation.scoring import format_score, score

    report = score(args.video, args.evaluator, args.audio, args.out, args.face_detector)
    print(format_score(report))
    if args.out:
        print(f"report: {os.path.join(args.out, 'score.json')}")
    return 0


def _add_photo_check_arguments(parser):
    parser.add_argument("photos", nargs="*", metavar="PHOTO",
                        help="portrait photographs (png, jpg, ...); default: the two that ship in the installed wheels")
    parser.add_argument("--model", required=True,
                        help="a mouth-motion model (.keras) or a generator: a .keras file, a SavedModel folder or model "
                             "base path, or a .tflite file")
    parser.add_argument("--out", required=True, help="folder for photo_check.json, contact_sheet.png and each photo's dub; "
                                                     "each --video's check goes to a folder of its name inside")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of synthesized speech, at least 0.5 (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="picks the speech's words and voice (default 0)")
    parser.add_argument("--speech", default="formant", choices=("formant", "espeak"),
                        help="the photos' speech: the synthetic corpus's formant voices, or espeak-ng's voices, which "
                             "the generator never heard (default formant)")
    parser.add_argument("--video", action="append", default=[], metavar="CLIP",
                        help="a real talking video to check (repeatable): it is dubbed with its own speech, other "
                             "speech and silence, and the lip gaps, sharpness and the face outside the mouth are "
                             "compared with the source's. Photos are then checked only if given")
    parser.add_argument("--other-speech", metavar="AUDIO",
                        help="the other speech for --video (default: English said by an espeak-ng voice)")


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
    parser.add_argument("--speakers", type=int, default=None,
                        help=f"synthetic identities (default {full['speakers']}, or {quick['speakers']} with --quick); "
                             f"the full demo's clips are {full['seconds']} s each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of every stage with tiny models and a few steps (its metrics mean nothing)")


@command("demo", "run the whole system on the built-in synthetic corpus")
@arguments(_add_demo_arguments)
def run_demo(args):
    """Run every built stage on the synthetic corpus with no other input, showing progress,
    and print a summary and where the files are."""
    from keras_s2v.lab.demo import run_demo as demo

    demo(args.out, speakers=args.speakers, seed=args.seed, scale="quick" if args.quick else "full")
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
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's own log lines and full tracebacks (for debugging)")
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
