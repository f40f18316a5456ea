"""`tune`: keras-tuner Bayesian optimisation of learning rate, preset width and sync weight.

The objective is the validation L1 + E_sync under the training expert (`val_objective`),
which does not depend on the sync weight being tuned. Everything else is the recipe's first
phase: its mouth, motion, gradient and GAN weights and its sync-weight warm-up and ramp.
"""

import json
import os

import keras
import keras_tuner

from keras_s2v.data.datasets import generator_dataset
from keras_s2v.models import build_speech2vid
from keras_s2v.saving import load_model
from keras_s2v.training.callbacks import SyncWeightWarmup
from keras_s2v.training.generator_fit import plan_epochs
from keras_s2v.training.recipe import get_recipe
from keras_s2v.training.trainer import Speech2VidTrainer


class Speech2VidHyperModel(keras_tuner.HyperModel):
    """Trials that differ only in preset, sync weight and learning rate; `phase` (a GeneratorPhase)
    gives the mouth, motion, gradient and GAN weights, `conditioning` how the generator takes its reference, and
    the sync weight is held at 0 for `warmup_epochs`."""

    def __init__(self, syncnet, phase, warmup_epochs, presets=("tiny", "small"), conditioning="composite"):
        super().__init__(name="speech2vid")
        self.syncnet = syncnet
        self.phase = phase
        self.conditioning = conditioning
        self.warmup_epochs = warmup_epochs
        self.presets = list(presets)

    def build(self, hp):
        generator = build_speech2vid(hp.Choice("preset", self.presets), conditioning=self.conditioning)
        trainer = Speech2VidTrainer(generator, self.syncnet, sync_weight=hp.Float("sync_weight", 0.0, 0.1, step=0.01),
                                    mouth_weight=self.phase.mouth_weight, motion_weight=self.phase.motion_weight,
                                    gradient_weight=self.phase.gradient_weight, gan_weight=self.phase.gan_weight)
        trainer.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 3e-3, sampling="log")))
        return trainer

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        # The trial's sync weight is eased in as in training: switched on at once it throws the generator off.
        warmup = SyncWeightWarmup(hp.get("sync_weight"), self.warmup_epochs)
        return model.fit(*args, callbacks=[*callbacks, warmup], **kwargs)


def tune(shards, manifest, syncnet_path, out, max_trials=10, epochs=3, steps=None, batch_size=None,
         presets=("tiny", "small"), seed=0, recipe="synthetic-small"):
    """Search and write `out/best_hparams.json` (what `s2v train --hparams` reads); returns the dict.

    The trials train like the first phase of `recipe` (a name or a Recipe): its conditioning,
    its batch size (unless `batch_size` is given), mouth and motion weights, and its warm-up, scaled to the
    trial's epochs (2 of 6 epochs -> 1 of 3). Finished trials are kept in `out/`, so a second
    call continues the search.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    phase = recipe.phases[0]
    batch_size = batch_size or recipe.batch_size
    os.makedirs(out, exist_ok=True)
    epochs, epoch_steps = plan_epochs(manifest["windows"]["train"], batch_size, epochs, steps)
    warmup_epochs = phase.warmup_epochs * epochs // phase.epochs
    tuner = keras_tuner.BayesianOptimization(
        Speech2VidHyperModel(load_model(syncnet_path, "SyncNet"), phase, warmup_epochs, presets, recipe.conditioning),
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
