"""Train the Speech2Vid generator through the frozen SyncNet expert with model.fit.

    python pipelines/train_speech2vid.py --data demo_out/shards --syncnet expert.keras --out generator.keras

The trainer's custom train_step runs the generator, feeds the lower half of its frames
and the window's MFCC to the frozen expert, and minimises (1 - w) L1 + w (-log P_sync),
the L1 weighing the mouth more and charging its change from frame to frame. It trains every
phase of --recipe in order, each fine-tuning the generator of the one before, with the
trainer, datasets, callbacks, saving and recipe.json record that `s2v train` builds; its
options are `s2v train`'s recipe options.
"""

import argparse

from keras_s2v.quiet import silence_native_logs


def main(argv=None) -> None:
    silence_native_logs()  # before TensorFlow loads, so that its start-up lines are filtered too

    import keras

    from keras_s2v.data import read_manifest
    from keras_s2v.saving import load_model, save_model
    from keras_s2v.training.build import build_trainer, generator_datasets, generator_schedule
    from keras_s2v.training.generator_fit import generator_callbacks, phase_outputs, run_folder
    from keras_s2v.training.recipe import add_generator_recipe_arguments, recipe_overrides, resolve_recipe, write_recipe

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--syncnet", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--recipe", default="synthetic-small", help="its numbers are the defaults")
    parser.add_argument("--seed", type=int, default=0)
    options = add_generator_recipe_arguments(parser)
    args = parser.parse_args(argv)

    recipe = resolve_recipe(args.recipe, **recipe_overrides(args, options))
    keras.utils.set_random_seed(args.seed)
    manifest = read_manifest(args.data)
    expert = load_model(args.syncnet, "SyncNet")  # frozen inside the trainer
    generator = None  # the first phase builds the recipe's; each later phase trains on from the one before
    for phase, out in zip(recipe.phases, phase_outputs(args.out, len(recipe.phases))):
        trainer = build_trainer(recipe, phase, expert, generator)
        generator = trainer.generator
        train, val = generator_datasets(args.data, recipe, phase, args.seed)
        folder = run_folder(out)
        write_recipe(recipe, folder)
        # NaN guard, sync-weight warm-up and ramp, checkpoints, logs, and the best epoch after warm-up restored.
        callbacks = generator_callbacks(folder, recipe.sync_weight, phase.warmup_epochs, val)
        epochs, epoch_steps = generator_schedule(manifest, recipe, phase)
        trainer.fit(train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps, callbacks=callbacks, verbose=0)
        if callbacks[0].diverged:
            raise SystemExit(f"training stopped: {callbacks[0].diverged}")
        save_model(trainer.generator, out)  # the plain functional generator, ready for `s2v export`


if __name__ == "__main__":
    main()
