"""`tune`: keras-tuner Bayesian optimisation of learning rate, preset width and sync weight.

The objective is the validation L1 + E_sync under the training expert (`val_objective`),
which does not depend on the sync weight being tuned. Everything else is the recipe's first
phase, built as `s2v train` builds it (keras_s2v.training.build): its mouth, motion, gradient
and GAN weights, the pull on starved windows, its datasets and its sync-weight warm-up and ramp.
"""

import dataclasses
import json
import os

import keras
import keras_tuner

from keras_s2v.precision import computing_in, resolve_precision
from keras_s2v.saving import load_model
from keras_s2v.training.build import build_trainer, generator_datasets, plan_epochs
from keras_s2v.training.callbacks import SyncWeightWarmup
from keras_s2v.training.recipe import Recipe, get_recipe


class Speech2VidHyperModel(keras_tuner.HyperModel):
    """Trials of `recipe`'s first phase that differ only in preset, sync weight and learning
    rate; the sync weight is held at 0 for `warmup_epochs`. The trainers compute in the dtype
    `policy` (a value of keras_s2v.precision.PRECISIONS)."""

    def __init__(
        self, syncnet: keras.Model, recipe: Recipe, warmup_epochs: int, presets=("tiny", "small"), policy: str = "float32"
    ):
        super().__init__(name="speech2vid")
        self.syncnet = syncnet
        self.recipe = recipe
        self.warmup_epochs = warmup_epochs
        self.presets = list(presets)
        self.policy = policy

    def trial_recipe(self, hp: keras_tuner.HyperParameters) -> Recipe:
        """The recipe with the trial's preset, sync weight and learning rate: its first phase is the trial's."""
        preset, sync_weight = hp.Choice("preset", self.presets), hp.Float("sync_weight", 0.0, 0.1, step=0.01)
        first = dataclasses.replace(self.recipe.phases[0], learning_rate=hp.Float("learning_rate", 1e-4, 3e-3, sampling="log"))
        return dataclasses.replace(self.recipe, generator_preset=preset, sync_weight=sync_weight, phases=(first,))

    def build(self, hp):
        recipe = self.trial_recipe(hp)
        with computing_in(self.policy):
            return build_trainer(recipe, recipe.phases[0], self.syncnet)

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        # The trial's sync weight is eased in as in training: switched on at once it throws the generator off.
        warmup = SyncWeightWarmup(hp.get("sync_weight"), self.warmup_epochs)
        return model.fit(*args, callbacks=[*callbacks, warmup], **kwargs)


def tune(
    shards: str,
    manifest: dict,
    syncnet_path: str,
    out: str,
    recipe: str | Recipe = "synthetic-small",
    max_trials: int = 10,
    epochs: int = 3,
    steps: int | None = None,
    presets=("tiny", "small"),
    seed: int = 0,
    precision: str = "auto",
) -> dict:
    """Search and write `out/best_hparams.json` (what `s2v train --hparams` reads); returns the dict.

    The trials train like the first phase of `recipe` (a name or a Recipe, see
    `resolve_recipe`), for `epochs` epochs or `steps` steps, with its warm-up scaled to the
    trial's epochs (2 of 6 epochs -> 1 of 3). Finished trials are kept in `out/`, so a second
    call continues the search. `precision` is one of keras_s2v.precision.CHOICES.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    phase = recipe.phases[0]
    os.makedirs(out, exist_ok=True)
    epochs, epoch_steps = plan_epochs(manifest["windows"]["train"], recipe.batch_size, epochs, steps)
    warmup_epochs = phase.warmup_epochs * epochs // (phase.epochs or epochs)
    tuner = keras_tuner.BayesianOptimization(
        Speech2VidHyperModel(load_model(syncnet_path, "SyncNet"), recipe, warmup_epochs, presets, resolve_precision(precision)),
        objective=keras_tuner.Objective("val_objective", "min"),
        max_trials=max_trials,
        seed=seed,
        directory=out,
        project_name="trials",
        overwrite=False,
    )
    train, val = generator_datasets(shards, recipe, phase, seed)
    tuner.search(train, validation_data=val, epochs=epochs, steps_per_epoch=epoch_steps, verbose=0)
    best = tuner.get_best_hyperparameters(1)[0].values
    with open(os.path.join(out, "best_hparams.json"), "w") as handle:
        json.dump(best, handle, indent=2)
    return best
