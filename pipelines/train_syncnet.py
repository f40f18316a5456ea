"""Train the SyncNet expert with model.fit: a short recipe over the keras-s2v library.

    python pipelines/train_syncnet.py --data demo_out/shards --out expert.keras

The numbers are the --recipe's expert (synthetic-small: 3,000 steps on the even clips of the
train split), and its options are `s2v train-syncnet`'s. The independent evaluation SyncNet
trains on the other clips with another seed:

    python pipelines/train_syncnet.py --data demo_out/shards --out eval.keras --role evaluator
"""

import argparse

from keras_s2v.quiet import silence_native_logs


def main(argv=None) -> None:
    silence_native_logs()  # before TensorFlow loads, so that its start-up lines are filtered too

    import keras

    from keras_s2v.data import read_manifest
    from keras_s2v.saving import save_model
    from keras_s2v.training.build import build_syncnet_model, syncnet_datasets, syncnet_schedule
    from keras_s2v.training.recipe import SyncNetRecipe, add_recipe_arguments, recipe_overrides, resolve_syncnet
    from keras_s2v.training.syncnet_fit import RECALIBRATION_STEPS, recalibrate_batchnorm, sync_accuracy, validated_epochs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--recipe", default="synthetic-small", help="its numbers are the defaults")
    parser.add_argument("--role", default="expert", choices=["expert", "evaluator"], help="which of the recipe's SyncNets")
    parser.add_argument("--split", default="train")
    parser.add_argument("--val-split", default="val")
    parser.add_argument("--seed", type=int, default=0)
    options = add_recipe_arguments(parser, SyncNetRecipe)
    args = parser.parse_args(argv)

    syncnet = resolve_syncnet(args.recipe, args.role, **recipe_overrides(args, options))
    seed = args.seed + syncnet.seed_offset  # the evaluator's differs from the expert's
    keras.utils.set_random_seed(seed)
    manifest = read_manifest(args.data)

    # Balanced windows: aligned audio (label 1) and audio shifted by >= 5 frames or from another clip (label 0).
    train, val, recalibration = syncnet_datasets(args.data, syncnet, seed, args.split, args.val_split)
    epochs, epoch_steps = syncnet_schedule(args.data, manifest, syncnet, args.split)
    model = build_syncnet_model(syncnet, total_steps=epochs * epoch_steps)
    model.fit(
        train,
        validation_data=val,
        epochs=epochs,
        steps_per_epoch=epoch_steps,
        validation_freq=validated_epochs(epochs, epoch_steps),  # validation only reports: every epoch is slow
        verbose=2,
    )

    # BatchNorm's moving statistics lag the weights: re-estimate them before saving.
    recalibrate_batchnorm(model, recalibration, RECALIBRATION_STEPS)
    print(f"held-out accuracy (aligned vs shifted): {sync_accuracy(model, args.data, args.val_split):.3f}")
    save_model(model, args.out)


if __name__ == "__main__":
    main()
