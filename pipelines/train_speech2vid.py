"""Train the Speech2Vid generator through the frozen SyncNet expert with model.fit.

    python pipelines/train_speech2vid.py --data demo_out/shards --syncnet expert.keras --out generator.keras

The trainer's custom train_step runs the generator, feeds the lower half of its frames
and the window's MFCC to the frozen expert, and minimises (1 - w) L1 + w (-log P_sync),
the L1 weighing the mouth more and charging its change from frame to frame. It trains every
phase of --recipe in order, each fine-tuning the generator of the one before, with the
same callbacks, saving and recipe.json record as `s2v train`.
"""

import argparse

from keras_s2v.quiet import silence_native_logs

silence_native_logs()  # before TensorFlow loads, so that its start-up lines are filtered too

import keras  # noqa: E402

from keras_s2v.data import generator_dataset, read_manifest  # noqa: E402
from keras_s2v.models import build_speech2vid  # noqa: E402
from keras_s2v.saving import load_model, save_model  # noqa: E402
from keras_s2v.training import Speech2VidTrainer  # noqa: E402
from keras_s2v.training.generator_fit import generator_callbacks, phase_outputs, plan_epochs, run_folder  # noqa: E402
from keras_s2v.training.recipe import resolve_recipe, write_recipe  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", required=True)
parser.add_argument("--syncnet", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--recipe", default="synthetic-small", help="its numbers are the defaults")
parser.add_argument("--preset")
parser.add_argument("--batch-size", type=int)
parser.add_argument("--epochs", type=int, help="epochs of every phase")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

recipe = resolve_recipe(args.recipe, preset=args.preset, batch_size=args.batch_size, epochs=args.epochs)
keras.utils.set_random_seed(args.seed)
manifest = read_manifest(args.data)
train = generator_dataset(args.data, "train", recipe.batch_size, augment_frames=True, seed=args.seed, repeat=True)
val = generator_dataset(args.data, "val", recipe.batch_size, shuffle=False, deterministic=True)

expert = load_model(args.syncnet, "SyncNet")  # frozen inside the trainer
generator = build_speech2vid(recipe.generator_preset, conditioning=recipe.conditioning)
for phase, out in zip(recipe.phases, phase_outputs(args.out, len(recipe.phases))):
    trainer = Speech2VidTrainer(generator, expert, sync_weight=recipe.sync_weight, mouth_weight=phase.mouth_weight,
                                motion_weight=phase.motion_weight, gradient_weight=phase.gradient_weight,
                                gan_weight=phase.gan_weight)
    trainer.compile(optimizer=keras.optimizers.Adam(phase.learning_rate))
    folder = run_folder(out)
    write_recipe(recipe, folder)
    # NaN guard, sync-weight warm-up and ramp, checkpoints, logs, and the best epoch after warm-up restored.
    callbacks = generator_callbacks(folder, recipe.sync_weight, phase.warmup_epochs, val)
    epochs, epoch_steps = plan_epochs(manifest["windows"]["train"], recipe.batch_size, phase.epochs, phase.steps)
    trainer.fit(train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps, callbacks=callbacks, verbose=0)
    if callbacks[0].diverged:
        raise SystemExit(f"training stopped: {callbacks[0].diverged}")
    save_model(trainer.generator, out)  # the plain functional generator, ready for `s2v export`
