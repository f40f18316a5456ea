"""Training commands: `train-syncnet`, `train`, `train-mouth`, `tune`. Their options come from the recipe's fields."""

import os

from keras_s2v.cli.registry import (
    UsageError,
    add_precision_argument,
    arguments,
    command,
    positive,
)

RECIPE_HELP = "the training recipe whose numbers are the defaults: synthetic-small (TRAINING.md) or smoke (a few steps)"


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
    parser.add_argument(
        "--role",
        default="expert",
        choices=["expert", "evaluator"],
        help="which of the recipe's SyncNets to train: the expert (default) or the independent "
        "evaluation SyncNet (other clips, another seed)",
    )
    parser.add_argument("--split", default="train", help="clips to train on (default train)")
    parser.add_argument("--val-split", default="val", help="held-out clips for validation (default val)")
    add_precision_argument(parser)
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
    from keras_s2v.media.video import require_output_folder
    from keras_s2v.training.recipe import recipe_overrides, resolve_syncnet

    # Bad options and paths are refused before TensorFlow loads (seconds): the imports above need none.
    syncnet = resolve_syncnet(args.recipe, args.role, **recipe_overrides(args, args.recipe_options))
    manifest = read_manifest(args.data)
    require_output_folder(args.out)
    from keras_s2v.saving import save_model
    from keras_s2v.training.syncnet_fit import sync_accuracy, train_syncnet

    model, _ = train_syncnet(args.data, manifest, syncnet, args.seed, args.split, args.val_split, precision=args.precision)
    accuracy = sync_accuracy(model, args.data, args.val_split)
    save_model(model, args.out)
    print(f"held-out ({args.val_split}) accuracy, aligned vs shifted >= 5 frames: {accuracy:.3f}")
    print(f"saved {args.out}")
    return 0


def _add_train_arguments(parser):
    _add_run_arguments(parser)
    parser.add_argument("--syncnet", required=True, help="the trained expert (.keras from `s2v train-syncnet`)")
    parser.add_argument(
        "--out",
        required=True,
        help="the generator file to write (.keras); the run's logs go to OUT.run/, earlier phases' to OUT_phaseK.keras and OUT_phaseK.run/",
    )
    parser.add_argument("--init", help="a generator .keras for the first phase to fine-tune instead of a fresh --preset model")
    parser.add_argument(
        "--strategy",
        default="default",
        choices=["default", "mirrored", "multi-worker"],
        help="tf.distribute strategy: mirrored = all GPUs of this machine; multi-worker = TF_CONFIG",
    )
    add_precision_argument(parser)
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
    from keras_s2v.dubbing.backends import require_model
    from keras_s2v.media.video import require_output_folder
    from keras_s2v.training.recipe import recipe_overrides, resolve_recipe
    from keras_s2v.training.runs import phase_outputs, refuse_interrupted

    recipe = resolve_recipe(args.recipe, args.hparams, **recipe_overrides(args, args.recipe_options))
    manifest = read_manifest(args.data)  # before TensorFlow loads, as in train-syncnet
    require_model(args.syncnet)
    if args.init:
        require_model(args.init)
    require_output_folder(args.out)
    if not args.resume:
        refuse_interrupted(phase_outputs(args.out, len(recipe.phases)))
    from keras_s2v.training.generator_fit import train_recipe_generator

    history = train_recipe_generator(
        args.data,
        manifest,
        args.syncnet,
        args.out,
        recipe,
        initial=args.init,
        resume=args.resume,
        seed=args.seed,
        strategy=args.strategy,
        precision=args.precision,
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
    parser.add_argument("--max-trials", type=positive(int), default=10, help="trials to run (default 10)")
    parser.add_argument("--presets", default="tiny,small", help="generator presets to choose from (default tiny,small)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs",
        type=positive(int),
        default=3,
        help="passes over the training windows in each trial (default 3); the recipe's warm-up is scaled to them",
    )
    length.add_argument("--steps", type=positive(int), help="total optimizer steps of each trial, instead of --epochs")
    add_precision_argument(parser)
    # Not options here: the tuned values, the trial's length above, and the loss, whose sync weight is searched.
    parser.set_defaults(
        recipe_options=add_generator_recipe_arguments(
            parser, exclude=TUNED_OPTIONS + ("epochs", "steps", "warmup_epochs", "loss")
        )
    )


def _add_train_mouth_arguments(parser):
    parser.add_argument("--out", required=True, help="the mouth-motion model to write (.keras)")
    parser.add_argument(
        "--utterances",
        type=positive(int),
        default=200,
        help="random 4 s utterances to train on, half from espeak-ng's voices, half from the formant "
        "synthesizer (default 200: about a minute to make, a minute to train on 2 cores)",
    )
    parser.add_argument("--epochs", type=positive(int), default=12, help="passes over the utterances (default 12)")
    # No choices here: the presets live with the model, and importing it would load TensorFlow before the CLI quiets it.
    parser.add_argument("--preset", default="small", help="model size: small (default) or tiny (for tests)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the utterances and the weights (default 0)")


@command("train-mouth", "train the mouth-motion model that drives the mouth rendered from the person's own pixels")
@arguments(_add_train_mouth_arguments)
def run_train_mouth(args):
    """Train the network that turns speech into how open the mouth is, frame by frame, on synthesized
    speech whose mouth is known: espeak-ng's voices and the formant synthesizer, with noise, reverb
    and gain. `s2v dub --model OUT` then moves the person's own lips to new speech."""
    from keras_s2v.media.video import require_output_folder

    if not args.out.endswith(".keras"):
        raise UsageError(f"--out must end in .keras; received {args.out!r}")
    require_output_folder(args.out)
    from tqdm.auto import tqdm

    from keras_s2v.saving import save_model
    from keras_s2v.training.mouth_fit import train_mouth_motion, training_set

    with tqdm(total=args.utterances, desc="speech", unit="utterance", leave=False) as bar:
        windows, targets = training_set(args.utterances, seed=args.seed, progress=lambda: bar.update(1))
    model = train_mouth_motion(windows, targets, preset=args.preset, epochs=args.epochs, seed=args.seed)
    save_model(model, args.out)  # through a temporary file: a kill leaves no half-written model
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
    from keras_s2v.dubbing.backends import require_model
    from keras_s2v.training.recipe import recipe_overrides, resolve_recipe

    recipe = resolve_recipe(args.recipe, **recipe_overrides(args, args.recipe_options))
    manifest = read_manifest(args.data)  # before TensorFlow loads, as in train-syncnet
    require_model(args.syncnet)
    from keras_s2v.training.tuning import tune

    best = tune(
        args.data,
        manifest,
        args.syncnet,
        args.out,
        recipe,
        args.max_trials,
        args.epochs,
        args.steps,
        args.presets.split(","),
        args.seed,
        args.precision,
    )
    print("best hyperparameters: " + ", ".join(f"{k}={v}" for k, v in best.items()))
    print(f"saved {os.path.join(args.out, 'best_hparams.json')}")
    return 0
