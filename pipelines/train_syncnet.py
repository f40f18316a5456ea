"""Train the SyncNet expert with model.fit: a short recipe over the keras-s2v library.

    python pipelines/train_syncnet.py --data demo_out/shards --out expert.keras

The numbers are the --recipe's expert (synthetic-small: 3,000 steps on the even clips of the
train split). The independent evaluation SyncNet trains on the other clips with another seed:

    python pipelines/train_syncnet.py --data demo_out/shards --out eval.keras --role evaluator
"""

import argparse

from keras_s2v.quiet import silence_native_logs

silence_native_logs()  # before TensorFlow loads, so that its start-up lines are filtered too

import keras  # noqa: E402

from keras_s2v.data import read_manifest, shard_files, syncnet_dataset  # noqa: E402
from keras_s2v.models import build_syncnet  # noqa: E402
from keras_s2v.saving import save_model  # noqa: E402
from keras_s2v.training import compile_syncnet, recalibrate_batchnorm, sync_accuracy  # noqa: E402
from keras_s2v.training.generator_fit import plan_epochs  # noqa: E402
from keras_s2v.training.recipe import resolve_syncnet  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--recipe", default="synthetic-small", help="its numbers are the defaults")
parser.add_argument("--role", default="expert", choices=["expert", "evaluator"], help="which of the recipe's SyncNets")
parser.add_argument("--preset")
parser.add_argument("--clips", choices=["all", "even", "odd"])
parser.add_argument("--split", default="train")
parser.add_argument("--val-split", default="val")
parser.add_argument("--epochs", type=int)
parser.add_argument("--steps", type=int, help="total optimizer steps, instead of --epochs")
parser.add_argument("--batch-size", type=int)
parser.add_argument("--learning-rate", type=float)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

syncnet = resolve_syncnet(args.recipe, args.role, preset=args.preset, clips=args.clips, epochs=args.epochs,
                          steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate)
seed = args.seed + syncnet.seed_offset  # the evaluator's differs from the expert's
keras.utils.set_random_seed(seed)
manifest = read_manifest(args.data)

# Balanced windows: aligned audio (label 1) and audio shifted by >= 5 frames or from another clip (label 0).
train = syncnet_dataset(args.data, args.split, syncnet.batch_size, augment_frames=True, seed=seed, repeat=True,
                        clips=syncnet.clips)
val = syncnet_dataset(args.data, args.val_split, syncnet.batch_size, shuffle=False, deterministic=True)

# An epoch sees each window of the chosen clips twice, once aligned and once shifted.
fraction = len(shard_files(args.data, args.split, syncnet.clips)) / len(shard_files(args.data, args.split))
epochs, epoch_steps = plan_epochs(int(2 * manifest["windows"][args.split] * fraction), syncnet.batch_size,
                                  syncnet.epochs, syncnet.steps)
model = compile_syncnet(build_syncnet(syncnet.preset), syncnet.learning_rate, decay_steps=epochs * epoch_steps)
model.fit(train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps, verbose=2)

# BatchNorm's moving statistics lag the weights: re-estimate them before saving.
recalibrate_batchnorm(model, syncnet_dataset(args.data, args.split, syncnet.batch_size, seed=seed, repeat=True,
                                             clips=syncnet.clips), steps=50)
print(f"held-out accuracy (aligned vs shifted): {sync_accuracy(model, args.data, args.val_split):.3f}")
save_model(model, args.out)
