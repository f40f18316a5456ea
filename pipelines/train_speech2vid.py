"""Train the Speech2Vid generator through the frozen SyncNet expert with model.fit.

    python pipelines/train_speech2vid.py --data demo_out/shards --syncnet expert.keras --out generator.keras

The trainer's custom train_step runs the generator, feeds the lower half of its frames
and the window's MFCC to the frozen expert, and minimises (1 - w) L1 + w (-log P_sync).
"""

import argparse

from keras_s2v.quiet import silence_native_logs

silence_native_logs()  # before TensorFlow loads, so that its start-up lines are filtered too

import keras  # noqa: E402

from keras_s2v.data import generator_dataset, read_manifest  # noqa: E402
from keras_s2v.models import build_speech2vid  # noqa: E402
from keras_s2v.training import Speech2VidTrainer, SyncWeightWarmup  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", required=True)
parser.add_argument("--syncnet", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--preset", default="small")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--steps-per-epoch", type=int, default=None)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--sync-weight", type=float, default=0.03)
parser.add_argument("--warmup-epochs", type=int, default=4, help="epochs of L1 alone before the sync loss joins")
args = parser.parse_args()

manifest = read_manifest(args.data)
train = generator_dataset(args.data, "train", args.batch_size, augment_frames=True, repeat=True)
val = generator_dataset(args.data, "val", args.batch_size, shuffle=False, deterministic=True)

expert = keras.saving.load_model(args.syncnet, compile=False)  # frozen inside the trainer
trainer = Speech2VidTrainer(build_speech2vid(args.preset), expert, sync_weight=args.sync_weight)
trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
trainer.fit(
    train,
    validation_data=val,
    epochs=args.epochs,
    steps_per_epoch=args.steps_per_epoch or manifest["windows"]["train"] // args.batch_size,
    callbacks=[SyncWeightWarmup(args.sync_weight, args.warmup_epochs)],
    verbose=2,
)
trainer.generator.save(args.out)  # the plain functional generator, ready for `s2v export`
