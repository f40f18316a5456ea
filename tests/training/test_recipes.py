"""One recipe, one contract: every entry point trains with the numbers of a registered recipe."""

import dataclasses
import importlib
import json
import types

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from keras_s2v import cli
from keras_s2v.models import build_syncnet
from keras_s2v.saving import load_model
from keras_s2v.training import Recipe, SyncNetRecipe, get_recipe, recipes
from keras_s2v.training.recipe import GeneratorPhase, read_recipe, resolve_recipe, resolve_syncnet, write_recipe
from keras_s2v.training.runs import phase_outputs
from keras_s2v.training.tuning import Speech2VidHyperModel

generator_fit = importlib.import_module("keras_s2v.training.generator_fit")
syncnet_fit = importlib.import_module("keras_s2v.training.syncnet_fit")


@pytest.fixture
def training_calls(monkeypatch):
    """Replaces train_generator and train_syncnet by recorders: {"generator": [call...], "syncnet": [...]}."""
    calls = {"generator": [], "syncnet": []}

    def train_generator(shards, manifest, syncnet_path, out, recipe, phase_index=0, initial=None, seed=0, **kwargs):
        calls["generator"].append(dict(recipe=recipe, phase_index=phase_index, out=out, initial=initial, seed=seed))
        return types.SimpleNamespace(history={})

    def train_syncnet(shards, manifest, syncnet, seed=0, split="train", val_split="val", **kwargs):
        calls["syncnet"].append(dict(syncnet=syncnet, seed=seed, split=split))
        return build_syncnet("tiny"), None

    monkeypatch.setattr(generator_fit, "train_generator", train_generator)
    monkeypatch.setattr(syncnet_fit, "train_syncnet", train_syncnet)
    monkeypatch.setattr(syncnet_fit, "sync_accuracy", lambda *args, **kwargs: 0.5)
    monkeypatch.setattr(cli, "silence_native_logs", lambda: None)  # main() in this process: leave its stderr alone
    return calls


def _phases(recipe, seed=0):
    """What train_generator must be called with for each phase of `recipe`."""
    return [dict(recipe=recipe, phase_index=index, seed=seed) for index in range(len(recipe.phases))]


def _select(call, keys):
    return {key: call[key] for key in keys}


def test_get_recipe_refuses_an_unknown_name_showing_it_and_the_choices():
    assert get_recipe("synthetic-small") is recipes["synthetic-small"]
    with pytest.raises(ValueError, match=r"'synthetic-large'.*\['smoke', 'synthetic-small'\]"):
        get_recipe("synthetic-large")
    with pytest.raises(ValueError, match="received 0"):
        GeneratorPhase(epochs=0, warmup_epochs=0, mouth_weight=0.0, motion_weight=0.0, learning_rate=1e-3)
    with pytest.raises(ValueError, match="received 'first'"):
        dataclasses.replace(recipes["smoke"].expert, clips="first")
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipes["smoke"].batch_size = 1


@pytest.mark.parametrize("name", sorted(recipes))
def test_a_recipe_survives_its_config_and_json(name, tmp_path):
    recipe = recipes[name]
    assert Recipe.from_config(json.loads(json.dumps(recipe.to_config()))) == recipe
    assert read_recipe(write_recipe(recipe, str(tmp_path))) == recipe
    assert isinstance(Recipe.from_config(recipe.to_config()).phases, tuple)


def test_values_come_from_the_recipe_then_the_tuned_file_then_explicit_options(tmp_path):
    recipe = recipes["synthetic-small"]
    assert resolve_recipe("synthetic-small") == recipe
    assert resolve_recipe("synthetic-small", learning_rate=None, preset=None) == recipe  # None is "not given"
    hparams = tmp_path / "best_hparams.json"
    hparams.write_text(json.dumps({"learning_rate": 5e-4, "preset": "tiny", "sync_weight": 0.05}))
    tuned = resolve_recipe("synthetic-small", str(hparams))
    assert (tuned.generator_preset, tuned.sync_weight) == ("tiny", 0.05)
    assert [p.learning_rate for p in tuned.phases] == [5e-4, 5e-4]  # a phase-level value applies to every phase
    assert [p.mouth_weight for p in tuned.phases] == [p.mouth_weight for p in recipe.phases]  # the rest is the recipe's
    explicit = resolve_recipe("synthetic-small", str(hparams), sync_weight=0.07, learning_rate=2e-4, mouth_weight=1.0)
    assert (explicit.generator_preset, explicit.sync_weight) == ("tiny", 0.07)
    assert [(p.learning_rate, p.mouth_weight) for p in explicit.phases] == [(2e-4, 1.0), (2e-4, 1.0)]
    assert [p.epochs for p in explicit.phases] == [p.epochs for p in recipe.phases]
    seed_loss = resolve_recipe("smoke", loss="sync")
    assert seed_loss.sync_weight == 1.0 and [(p.warmup_epochs, p.gan_weight) for p in seed_loss.phases] == [(0, 0.0), (0, 0.0)]
    with pytest.raises(ValueError, match="unknown recipe options"):
        resolve_recipe("smoke", mouth=1.0)
    evaluator = resolve_syncnet("synthetic-small", "evaluator", steps=10)
    assert (evaluator.clips, evaluator.steps, evaluator.seed_offset) == ("odd", 10, 1)
    assert resolve_syncnet("synthetic-small", epochs=2).steps is None  # a length in epochs replaces the steps


def test_s2v_train_and_the_demo_train_with_the_same_recipe(training_calls, tiny_shards, tiny_syncnet_path, tmp_path, monkeypatch):
    shards, manifest = tiny_shards
    recipe = recipes["synthetic-small"]
    out = str(tmp_path / "g.keras")
    assert cli.main(["train", "--data", shards, "--syncnet", tiny_syncnet_path, "--out", out]) == 0
    from_cli = training_calls["generator"]
    assert [_select(c, ("recipe", "phase_index", "seed")) for c in from_cli] == _phases(recipe)
    assert [c["initial"] for c in from_cli] == [None, phase_outputs(out, 2)[0]]  # phase 2 fine-tunes phase 1
    assert [c["out"] for c in from_cli] == phase_outputs(out, 2)

    assert cli.main(["train-syncnet", "--data", shards, "--out", str(tmp_path / "expert.keras")]) == 0
    assert training_calls["syncnet"][0] == dict(syncnet=recipe.expert, seed=0, split="train")
    assert cli.main(["train-syncnet", "--data", shards, "--out", str(tmp_path / "eval.keras"), "--role", "evaluator"]) == 0
    assert training_calls["syncnet"][1] == dict(syncnet=recipe.evaluator, seed=0, split="train")

    # The demo's full scale, its training replaced by the recorders and stopped before evaluation.
    from keras_s2v.dubbing import backends
    from keras_s2v.lab import synth
    from keras_s2v.lab.demo import run_demo

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(synth, "write_corpus", lambda *args, **kwargs: [])
    monkeypatch.setattr(importlib.import_module("keras_s2v.data.preprocess"), "preprocess", lambda *args, **kwargs: manifest)
    monkeypatch.setattr(backends, "load_backend", stop)
    training_calls["generator"], training_calls["syncnet"] = [], []
    (tmp_path / "demo").mkdir()
    with pytest.raises(Stop):
        run_demo(str(tmp_path / "demo"), scale="full")
    from_demo = training_calls["generator"]
    assert [_select(c, ("recipe", "phase_index", "seed")) for c in from_demo] == _phases(recipe)
    assert training_calls["syncnet"] == [
        dict(syncnet=recipe.expert, seed=0, split="train"),
        dict(syncnet=recipe.evaluator, seed=0, split="train"),
    ]


def test_explicit_options_and_the_tuned_file_change_what_s2v_train_trains(
    training_calls, tiny_shards, tiny_syncnet_path, tmp_path
):
    hparams = tmp_path / "best_hparams.json"
    hparams.write_text(json.dumps({"learning_rate": 5e-4, "preset": "tiny", "sync_weight": 0.05}))
    args = [
        "train",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        str(tmp_path / "g.keras"),
        "--recipe",
        "smoke",
        "--hparams",
        str(hparams),
        "--sync-weight",
        "0.07",
        "--steps",
        "3",
    ]
    assert cli.main(args) == 0
    expected = resolve_recipe("smoke", str(hparams), sync_weight=0.07, steps=3)
    assert [_select(c, ("recipe", "phase_index", "seed")) for c in training_calls["generator"]] == _phases(expected)
    assert [phase.learning_rate for phase in training_calls["generator"][0]["recipe"].phases] == [5e-4, 5e-4]


def test_an_unknown_recipe_is_a_one_line_error(training_calls, tiny_shards, tiny_syncnet_path, tmp_path, capsys):
    args = [
        "train",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        str(tmp_path / "g.keras"),
        "--recipe",
        "big",
    ]
    assert cli.main(args) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("s2v: error: unknown recipe 'big'") and len(error.splitlines()) == 1
    assert training_calls["generator"] == []


def test_the_gradient_and_gan_weights_are_phase_fields_off_by_default_and_validated(tmp_path):
    phase = dict(epochs=1, warmup_epochs=0, mouth_weight=0.0, motion_weight=0.0, learning_rate=1e-3)
    assert (GeneratorPhase(**phase).gradient_weight, GeneratorPhase(**phase).gan_weight) == (0.0, 0.0)
    with pytest.raises(ValueError, match="`gradient_weight` must be >= 0; received -1"):
        GeneratorPhase(**phase, gradient_weight=-1)
    with pytest.raises(ValueError, match="`gan_weight` must be >= 0; received -0.5"):
        GeneratorPhase(**phase, gan_weight=-0.5)
    with pytest.raises(ValueError, match=r"<= 1; received 0.03 \+ 0.98"):
        resolve_recipe("smoke", gan_weight=0.98)
    with pytest.raises(ValueError, match=r"<= 1; received 1.0 \+ 0.1"):
        resolve_recipe("smoke", loss="sync", gan_weight=0.1)  # the seed's loss leaves L1 nothing to give
    sharp = resolve_recipe("synthetic-small", gradient_weight=2.0, gan_weight=0.07)
    assert [(p.gradient_weight, p.gan_weight) for p in sharp.phases] == [(2.0, 0.07), (2.0, 0.07)]
    assert [p.mouth_weight for p in sharp.phases] == [p.mouth_weight for p in recipes["synthetic-small"].phases]
    assert read_recipe(write_recipe(sharp, str(tmp_path))) == sharp
    # A recipe.json written before the three fields reads as the same recipe with all off.
    for name in recipes:
        recipe = resolve_recipe(name, gradient_weight=0.0, gan_weight=0.0, still_reference_rate=0.0)
        old = recipe.to_config()
        for fields in old["phases"]:
            del fields["gradient_weight"], fields["gan_weight"], fields["still_reference_rate"]
        (tmp_path / name).mkdir()
        (tmp_path / name / "recipe.json").write_text(json.dumps(old))
        assert read_recipe(str(tmp_path / name / "recipe.json")) == recipe


def test_s2v_train_passes_the_gradient_and_gan_weights_and_still_rate_and_refuses_bad_ones_in_one_line(
    training_calls, tiny_shards, tiny_syncnet_path, tmp_path, capsys
):
    args = [
        "train",
        "--data",
        tiny_shards[0],
        "--syncnet",
        tiny_syncnet_path,
        "--out",
        str(tmp_path / "g.keras"),
        "--recipe",
        "smoke",
    ]
    assert (
        cli.main(
            [
                *args,
                "--gradient-weight",
                "1.5",
                "--gan-weight",
                "0.07",
                "--still-reference-rate",
                "0.25",
                "--starved-sync-weight",
                "2",
            ]
        )
        == 0
    )
    recipe = training_calls["generator"][0]["recipe"]
    assert [(p.gradient_weight, p.gan_weight, p.still_reference_rate, recipe.starved_sync_weight) for p in recipe.phases] == [
        (1.5, 0.07, 0.25, 2.0),
        (1.5, 0.07, 0.25, 2.0),
    ]
    capsys.readouterr()
    for bad, message in (
        (["--gan-weight", "-1"], "`gan_weight` must be >= 0; received -1.0"),
        (["--still-reference-rate", "1.5"], "`still_reference_rate` must be in [0, 1]; received 1.5"),
        (["--starved-sync-weight", "-1"], "`starved_sync_weight` must be >= 0; received -1.0"),
        (["--gradient-weight", "-2"], "`gradient_weight` must be >= 0; received -2.0"),
        (["--sync-weight", "0.5", "--gan-weight", "0.6"], "received 0.5 + 0.6"),
    ):
        training_calls["generator"].clear()
        assert cli.main([*args, *bad]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("s2v: error: ") and message in error and len(error.splitlines()) == 1
        assert training_calls["generator"] == []
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert "--gradient-weight" in usage and "visual-quality discriminator on the lower half" in usage
    assert usage.count("0 turns it off") == 4


def test_tuning_trials_use_the_recipes_loss_terms_and_warm_up(tiny_syncnet_path):
    recipe = recipes["synthetic-small"]
    phase = recipe.phases[0]
    hypermodel = Speech2VidHyperModel(load_model(tiny_syncnet_path, "SyncNet"), recipe, warmup_epochs=1, presets=("tiny",))
    hp = keras_tuner.HyperParameters()
    hp.Fixed("sync_weight", 0.04)
    trainer = hypermodel.build(hp)
    assert (trainer.mouth_weight, trainer.motion_weight) == (phase.mouth_weight, phase.motion_weight)
    assert (trainer.gradient_weight, trainer.gan_weight, trainer.discriminator) == (phase.gradient_weight, 0.0, None)
    rng = np.random.default_rng(0)
    inputs = {
        "mfcc": rng.standard_normal((2, 12, 20, 1)).astype("float32"),
        "identity": rng.random((2, 112, 112, 15)).astype("float32"),
        "reference": rng.random((2, 112, 112, 15)).astype("float32"),
    }
    data = tf.data.Dataset.from_tensors((inputs, rng.random((2, 112, 112, 15)).astype("float32"))).repeat()
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(trainer.sync_weight.numpy()))
    )
    hypermodel.fit(hp, trainer, data, epochs=2, steps_per_epoch=2, verbose=0, callbacks=[record])
    np.testing.assert_allclose(seen, [0, 0, 0.02, 0.04], rtol=1e-6)  # held at 0, then ramped over one epoch


@pytest.mark.parametrize(
    "command, schemas",
    [("train", (Recipe, GeneratorPhase)), ("train-syncnet", (SyncNetRecipe,)), ("tune", (Recipe, GeneratorPhase))],
)
def test_the_training_commands_options_are_the_recipes_fields_with_their_help(command, schemas, capsys):
    from keras_s2v.training.recipe import option_fields

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([command, "--help"])
    usage = "".join(capsys.readouterr().out.split())  # argparse wraps lines at spaces and hyphens
    not_tunes = ("learning_rate", "preset", "sync_weight", "warmup_epochs", "loss", "epochs", "steps")  # tune's own length
    for schema in schemas:
        for name, field in option_fields(schema).items():
            if command != "tune" or name not in not_tunes:
                assert f"--{name.replace('_', '-')}" in usage and "".join(field.metadata["help"].split()) in usage
