"""`tune`: keras-tuner Bayesian optimisation of learning rate, preset width and sync weight.

The objective is the validation L1 + E_sync under the training expert (`val_objective`),
which does not depend on the sync weight being tuned.
"""

import json
import os

import keras
import keras_tuner

from keras_s2v.data.datasets import generator_dataset
from keras_s2v.models import build_speech2vid
from keras_s2v.saving import load_model
from keras_s2v.training.generator_fit import plan_epochs
from keras_s2v.training.trainer import Speech2VidTrainer


class Speech2VidHyperModel(keras_tuner.HyperModel):
    def __init__(self, syncnet, presets=("tiny", "small")):
        super().__init__(name="speech2vid")
        self.syncnet = syncnet
        self.presets = list(presets)

    def build(self, hp):
        generator = build_speech2vid(hp.Choice("preset", self.presets))
        trainer = Speech2VidTrainer(generator, self.syncnet, sync_weight=hp.Float("sync_weight", 0.0, 0.1, step=0.01))
        trainer.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 3e-3, sampling="log")))
        return trainer


def tune(shards, manifest, syncnet_path, out, max_trials=10, epochs=3, steps=None, batch_size=16,
         presets=("tiny", "small"), seed=0):
    """Search and write `out/best_hparams.json` (what `s2v train --hparams` reads); returns the dict.

    Finished trials are kept in `out/`, so a second call continues the search.
    """
    os.makedirs(out, exist_ok=True)
    epochs, epoch_steps = plan_epochs(manifest["windows"]["train"], batch_size, epochs, steps)
    tuner = keras_tuner.BayesianOptimization(
        Speech2VidHyperModel(load_model(syncnet_path, "SyncNet"), presets),
        objective=keras_tuner.Objective("val_objective", "min"), max_trials=max_trials, seed=seed,
        directory=out, project_name="trials", overwrite=False,
    )
    tuner.search(
        generator_dataset(shards, "train", batch_size, augment_frames=True, seed=seed, repeat=True),
        validation_data=generator_dataset(shards, "val", batch_size, shuffle=False, deterministic=True),
        epochs=epochs, steps_per_epoch=epoch_steps, verbose=0,
    )
    best = tuner.get_best_hyperparameters(1)[0].values
    with open(os.path.join(out, "best_hparams.json"), "w") as handle:
        json.dump(best, handle, indent=2)
    return best
