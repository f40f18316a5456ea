"""Every entry point builds the trainer its recipe describes.

The trainers themselves are compared with the recipe, not the recipe.json records: a run that
writes the right record but builds its trainer without one of the recipe's settings fails here.
`Speech2VidTrainer.fit` is replaced by a recorder, so each entry point builds its trainers and
datasets as it would and trains nothing.
"""

import dataclasses
import importlib
import inspect
import os
import runpy

import keras
import pytest

from keras_s2v import cli
from keras_s2v.models import build_speech2vid, build_syncnet, conditioning_of
from keras_s2v.training.recipe import GeneratorPhase, Recipe, recipes
from keras_s2v.training.trainer import Speech2VidTrainer

build = importlib.import_module("keras_s2v.training.build")
syncnet_fit = importlib.import_module("keras_s2v.training.syncnet_fit")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The trainer's arguments that a recipe sets: every Speech2VidTrainer parameter named as a field of
# the Recipe or of a GeneratorPhase. A setting added to both is compared without a change here.
RECIPE_FIELDS = {field.name for schema in (Recipe, GeneratorPhase) for field in dataclasses.fields(schema)}
TRAINER_SETTINGS = sorted(set(inspect.signature(Speech2VidTrainer.__init__).parameters) & RECIPE_FIELDS)
TUNED = ("sync_weight", "learning_rate")  # what `s2v tune` varies from trial to trial


def _expected(recipe, phase):
    """What a trainer of `phase` must hold: the recipe's settings, its generator and its datasets."""
    settings = {name: getattr(phase, name) if hasattr(phase, name) else getattr(recipe, name) for name in TRAINER_SETTINGS}
    generator = build_speech2vid(recipe.generator_preset, conditioning=recipe.conditioning)
    return dict(
        settings,
        learning_rate=phase.learning_rate,
        conditioning=recipe.conditioning,
        generator_parameters=generator.count_params(),
        batch_size=recipe.batch_size,
        still_reference_rate=phase.still_reference_rate,
    )


@pytest.fixture
def built(monkeypatch):
    """The trainers that reach fit, as the dicts `_expected` makes, with the options of the training
    dataset built just before each; fit itself trains nothing."""
    trainers, datasets = [], []
    generator_dataset = build.generator_dataset

    def record_dataset(shards, split, batch_size, **options):
        if split == "train":
            datasets.append(dict(batch_size=batch_size, still_reference_rate=options.get("still_reference_rate", 0.0)))
        return generator_dataset(shards, split, batch_size, **options)

    def record_fit(self, *args, **kwargs):
        config = self.get_config()
        trainers.append(
            dict(
                {name: config[name] for name in TRAINER_SETTINGS},
                **datasets[-1],
                learning_rate=float(keras.ops.convert_to_numpy(self.optimizer.learning_rate)),
                conditioning=conditioning_of(self.generator),
                generator_parameters=self.generator.count_params(),
            )
        )
        history = keras.callbacks.History()
        history.history = {"loss": [1.0], "val_objective": [1.0]}  # what keras-tuner reads of a trial
        return history

    monkeypatch.setattr(build, "generator_dataset", record_dataset)
    monkeypatch.setattr(Speech2VidTrainer, "fit", record_fit)
    monkeypatch.setattr(cli, "silence_native_logs", lambda: None)  # main() in this process: leave its stderr alone
    monkeypatch.setattr(importlib.import_module("keras_s2v.quiet"), "silence_native_logs", lambda: None)
    return trainers


def _assert_built_as(built, recipe, skip=()):
    assert len(built) == len(recipe.phases)
    for trainer, phase in zip(built, recipe.phases):
        expected = {name: value for name, value in _expected(recipe, phase).items() if name not in skip}
        numbers = {name for name, value in expected.items() if isinstance(value, float)}  # float32 in the trainer
        assert {name: trainer[name] for name in numbers} == pytest.approx({name: expected[name] for name in numbers}, rel=1e-6)
        assert {name: trainer[name] for name in expected if name not in numbers} == {
            name: value for name, value in expected.items() if name not in numbers
        }


def test_the_trainer_has_every_setting_of_the_recipe_that_it_takes():
    assert set(TRAINER_SETTINGS) >= {
        "sync_weight",
        "starved_sync_weight",
        "mouth_weight",
        "motion_weight",
        "gradient_weight",
        "gan_weight",
    }


def test_s2v_train_builds_the_recipes_trainers(built, tiny_shards, tiny_syncnet_path, tmp_path):
    args = ["train", "--data", tiny_shards[0], "--syncnet", tiny_syncnet_path, "--out", str(tmp_path / "g.keras")]
    assert cli.main([*args, "--recipe", "smoke"]) == 0
    _assert_built_as(built, recipes["smoke"])


def test_the_pipeline_script_builds_the_recipes_trainers(built, tiny_shards, tiny_syncnet_path, tmp_path):
    main = runpy.run_path(os.path.join(ROOT, "pipelines", "train_speech2vid.py"))["main"]
    main(["--data", tiny_shards[0], "--syncnet", tiny_syncnet_path, "--out", str(tmp_path / "g.keras"), "--recipe", "smoke"])
    _assert_built_as(built, recipes["smoke"])


def test_the_demo_builds_the_recipes_trainers(built, tiny_shards, tmp_path, monkeypatch):
    from keras_s2v.dubbing import backends
    from keras_s2v.lab import synth
    from keras_s2v.lab.demo import SCALES, run_demo

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    # The corpus and the SyncNets are stand-ins; the demo stops before its evaluation.
    monkeypatch.setattr(synth, "write_corpus", lambda *args, **kwargs: [])

    def preprocess(videos, shards, **kwargs):
        if not os.path.exists(shards):
            os.symlink(tiny_shards[0], shards)
        return tiny_shards[1]

    monkeypatch.setattr(importlib.import_module("keras_s2v.data.preprocess"), "preprocess", preprocess)
    monkeypatch.setattr(syncnet_fit, "train_syncnet", lambda *args, **kwargs: (build_syncnet("tiny"), None))
    monkeypatch.setattr(syncnet_fit, "sync_accuracy", lambda *args, **kwargs: 0.5)
    monkeypatch.setattr(backends, "load_backend", stop)
    with pytest.raises(Stop):
        run_demo(str(tmp_path / "demo"), scale="quick")
    _assert_built_as(built, recipes[SCALES["quick"]["recipe"]])


def test_s2v_tune_builds_the_recipes_first_phase_but_the_tuned_values(built, tiny_shards, tiny_syncnet_path, tmp_path):
    args = [
        "tune",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        str(tmp_path / "tune"),
        "--recipe",
        "smoke",
        "--max-trials",
        "1",
        "--steps",
        "1",
        "--presets",
        "tiny",
    ]
    assert cli.main(args) == 0
    first_phase = dataclasses.replace(recipes["smoke"], phases=recipes["smoke"].phases[:1])
    _assert_built_as(built, first_phase, skip=TUNED)
