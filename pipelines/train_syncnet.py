"""Train the SyncNet expert with model.fit: a short recipe over the keras-s2v library.

    python pipelines/train_syncnet.py --data demo_out/shards --out expert.keras --epochs 6

For the independent evaluation SyncNet, train on other clips with another seed:

    python pipelines/train_syncnet.py --data demo_out/shards --out eval.keras --split val --val-split test --seed 1
"""

import argparse

from keras_s2v.quiet import silence_native_logs

silence_native_logs()  # before TensorFlow loads, so that its start-up lines are filtered too

import keras  # noqa: E402

from keras_s2v.data import read_manifest, syncnet_dataset  # noqa: E402
from keras_s2v.models import build_syncnet  # noqa: E402
from keras_s2v.training import compile_syncnet, recalibrate_batchnorm, sync_accuracy  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--preset", default="small")
parser.add_argument("--split", default="train")
parser.add_argument("--val-split", default="val")
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--steps-per-epoch", type=int, default=None)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

keras.utils.set_random_seed(args.seed)
manifest = read_manifest(args.data)

# Balanced windows: aligned audio (label 1) and audio shifted by >= 5 frames or from another clip (label 0).
train = syncnet_dataset(args.data, args.split, args.batch_size, augment_frames=True, seed=args.seed, repeat=True)
val = syncnet_dataset(args.data, args.val_split, args.batch_size, shuffle=False, deterministic=True)

model = compile_syncnet(build_syncnet(args.preset))
model.fit(
    train,
    validation_data=val,
    epochs=args.epochs,
    steps_per_epoch=args.steps_per_epoch or 2 * manifest["windows"][args.split] // args.batch_size,  # each window twice
    verbose=2,
)

# BatchNorm's moving statistics lag the weights: re-estimate them before saving.
recalibrate_batchnorm(model, syncnet_dataset(args.data, args.split, args.batch_size, repeat=True), steps=50)
print(f"held-out accuracy (aligned vs shifted): {sync_accuracy(model, args.data, args.val_split):.3f}")
model.save(args.out)
