"""Training recipes: every setting that trains the SyncNets and the generator, named and versioned.

The dataclasses here are the only place a training setting is declared. Each field carries its
help text, and the options of `s2v train`, `s2v train-syncnet`, `s2v tune` and the scripts in
pipelines/ are made from the fields (`add_recipe_arguments`), so a new setting is one new field.
`keras_s2v.training.build` turns a recipe into the trainer and the datasets.

`recipes["synthetic-small"]` is the recipe of TRAINING.md that meets the demo's bar;
`recipes["smoke"]` runs every stage for a few steps (its metrics mean nothing). Their versions
are in CHANGELOG.md. `resolve_recipe` applies a user's changes: recipe < `s2v tune`'s JSON <
explicit options. Imports no TensorFlow: the command line builds its options from here before
it quiets TensorFlow's start-up logs.
"""

import argparse
import dataclasses
import json
import os
import types
import typing

from keras_s2v.data.corpus import CLIP_SUBSETS
from keras_s2v.errors import FileError
from keras_s2v.geometry import CONDITIONINGS

LOSSES = ("l1+sync", "sync")
TUNED_OPTIONS = ("learning_rate", "preset", "sync_weight")  # what `s2v tune` searches and writes to its JSON
EVERY_PHASE = "; given, it applies to every phase of the recipe"


def setting(help: str, default=dataclasses.MISSING, *, option=True, choices=None, exclusive=None):
    """A recipe field. `help` says what it does; `option` is its command-line name (True: the
    field's own, False: not an option); `choices` the values it takes; fields that share an
    `exclusive` name are options that exclude each other (a length in epochs or in steps)."""
    return dataclasses.field(
        default=default, metadata={"help": help, "option": option, "choices": choices, "exclusive": exclusive}
    )


def option_fields(schema: type) -> dict:
    """{option name: dataclasses.Field} of the fields of `schema` that are command-line options."""
    options = {}
    for field in dataclasses.fields(schema):
        option = field.metadata.get("option", False)
        if option:
            options[field.name if option is True else option] = field
    return options


def check_loss_weights(sync_weight: float, gan_weight: float) -> None:
    """L1 keeps the weight that the sync and GAN terms leave, so they may not exceed 1 together."""
    if sync_weight + gan_weight > 1.0 + 1e-9:  # rounding must not refuse weights that sum to 1
        raise ValueError(f"`sync_weight` + `gan_weight` must be <= 1; received {sync_weight} + {gan_weight}")


def _check(condition, name, value, requirement):
    if not condition:
        raise ValueError(f"`{name}` must be {requirement}; received {value!r}")


def _check_length(epochs, steps):
    _check(epochs is None or epochs >= 1, "epochs", epochs, ">= 1 or None")
    _check(steps is None or steps >= 1, "steps", steps, ">= 1 or None")


@dataclasses.dataclass(frozen=True)
class SyncNetRecipe:
    """How one SyncNet trains: `steps` (total) wins over `epochs`; the seed is the run's + `seed_offset`."""

    preset: str = setting("SyncNet size: tiny, small or base", "small")
    steps: int | None = setting("total optimizer steps, instead of a length in epochs", None, exclusive="length")
    epochs: int | None = setting("passes over the training windows, each once aligned and once shifted", None, exclusive="length")
    clips: str = setting(
        "train on every clip of the split, or every other one: the expert trains on 'even' and the "
        "evaluation SyncNet on 'odd', so they never share a clip",
        "all",
        choices=CLIP_SUBSETS,
    )
    learning_rate: float = setting("Adam learning rate, decayed along a cosine to 10%", 1e-3)
    batch_size: int = setting("global batch size", 32)
    seed_offset: int = setting("added to the run's seed, so the evaluator's differs from the expert's", 0, option=False)

    def __post_init__(self):
        _check_length(self.epochs, self.steps)
        _check(self.clips in CLIP_SUBSETS, "clips", self.clips, f"one of {CLIP_SUBSETS}")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")


@dataclasses.dataclass(frozen=True)
class GeneratorPhase:
    """One generator phase: its length, the epochs with the sync weight held at 0, its L1 terms and Adam rate.

    The fields after `steps` default to 0, off, so a recipe.json written before them reads the same.
    """

    epochs: int | None = setting("passes over the training windows", exclusive="length")
    warmup_epochs: int = setting(
        "epochs with the sync weight held at 0, so that L1 settles first; it then ramps up to its value over one epoch"
    )
    mouth_weight: float = setting("extra L1 weight on the lower half")
    motion_weight: float = setting(
        "weight of the L1 on the lower half's change from frame to frame, which teaches the timing inside a window"
    )
    learning_rate: float = setting("Adam learning rate")
    steps: int | None = setting("total optimizer steps, instead of a length in epochs", None, exclusive="length")
    gradient_weight: float = setting(
        "weight of the L1 between the generated and the real edges (horizontal and vertical differences) of the lower "
        "half, which a blurred mouth pays; 0 turns it off",
        0.0,
    )
    gan_weight: float = setting(
        "weight of the Wav2Lip+GAN visual-quality discriminator on the lower half, trained beside the generator: the "
        "loss becomes (1-w-g) L1 + w E_sync + g E_adv, so sync weight + GAN weight must be <= 1; 0 turns it off",
        0.0,
    )
    still_reference_rate: float = setting(
        "share of training windows whose reference is one quiet frame of the clip shown 5 times, as a still photo's "
        "reference is, so that the mouth opens from the audio on photos with closed lips; 0 turns it off "
        "(tried in docs/experiments.md)",
        0.0,
    )

    def __post_init__(self):
        _check_length(self.epochs, self.steps)
        _check(self.warmup_epochs >= 0, "warmup_epochs", self.warmup_epochs, ">= 0")
        _check(self.mouth_weight >= 0, "mouth_weight", self.mouth_weight, ">= 0")
        _check(self.motion_weight >= 0, "motion_weight", self.motion_weight, ">= 0")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        _check(self.gradient_weight >= 0, "gradient_weight", self.gradient_weight, ">= 0")
        _check(self.gan_weight >= 0, "gan_weight", self.gan_weight, ">= 0")
        _check(0 <= self.still_reference_rate <= 1, "still_reference_rate", self.still_reference_rate, "in [0, 1]")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named, versioned training recipe. Phase k > 1 fine-tunes the generator of phase k - 1.

    `name` and `version` say which recipe a run started from; the fields are what it trained
    with (after `resolve_recipe`), so a run's `recipe.json` repeats it.
    """

    name: str = setting("the recipe's name", option=False)
    version: int = setting("the recipe's version (CHANGELOG.md)", option=False)
    expert: SyncNetRecipe = setting("the SyncNet the generator trains through", option=False)
    evaluator: SyncNetRecipe = setting("the independent SyncNet that grades the generator", option=False)
    generator_preset: str = setting(
        "generator: tiny, small, seed, or small-warp and tiny-warp, whose blend warps the reference's mouth", option="preset"
    )
    batch_size: int = setting("global batch size")
    sync_weight: float = setting("w in the loss (1-w) L1 + w E_sync")
    phases: tuple = setting("the generator's phases, each a GeneratorPhase", option=False)
    loss: str = setting(
        "l1+sync (the recipes'): (1-w) L1 + w E_sync; sync: E_sync alone, as the seed (sync weight 1, "
        "no warm-up, no discriminator)",
        "l1+sync",
        choices=LOSSES,
    )
    conditioning: str = setting(
        "how the generator takes the reference window: composite (15 channels, the upper half of "
        "the target over the reference's lower half) or concat (30 channels, not for seed)",
        "composite",
        choices=CONDITIONINGS,
    )
    starved_sync_weight: float = setting(
        "weight of a pull, with no loss value, on windows that the expert scores near 0 and so give the sync loss no "
        "gradient; it makes the sync term take hold early whatever the expert; 0 turns it off",
        0.0,
    )

    def __post_init__(self):
        object.__setattr__(self, "phases", tuple(self.phases))  # a list from a config; a tuple keeps it frozen
        _check(isinstance(self.name, str) and self.name, "name", self.name, "a non-empty string")
        _check(isinstance(self.version, int) and self.version >= 1, "version", self.version, "an integer >= 1")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _check(0.0 <= self.sync_weight <= 1.0, "sync_weight", self.sync_weight, "in [0, 1]")
        _check(self.starved_sync_weight >= 0, "starved_sync_weight", self.starved_sync_weight, ">= 0")
        _check(self.loss in LOSSES, "loss", self.loss, f"one of {LOSSES}")
        _check(self.conditioning in CONDITIONINGS, "conditioning", self.conditioning, f"one of {CONDITIONINGS}")
        _check(self.loss != "sync" or self.sync_weight == 1.0, "sync_weight", self.sync_weight, "1.0 with loss='sync'")
        _check(
            self.phases and all(isinstance(p, GeneratorPhase) for p in self.phases),
            "phases",
            self.phases,
            "a non-empty tuple of GeneratorPhase",
        )
        for phase in self.phases:  # refused here, before any phase trains
            check_loss_weights(self.sync_weight, phase.gan_weight)

    def to_config(self) -> dict:
        """A JSON-ready dict; `Recipe.from_config` gives the recipe back."""
        config = dataclasses.asdict(self)
        config["phases"] = list(config["phases"])  # as JSON gives it back
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Recipe":
        config = dict(config)
        expert, evaluator = (SyncNetRecipe(**config.pop(role)) for role in ("expert", "evaluator"))
        phases = tuple(GeneratorPhase(**phase) for phase in config.pop("phases"))
        return cls(expert=expert, evaluator=evaluator, phases=phases, **config)


recipes = {
    # docs/experiments.md: the textured corpus, the reference concatenated, and every number cut so
    # that `make demo` fits 15 minutes on 2 cores. CHANGELOG.md says what each version changed.
    "synthetic-small": Recipe(
        name="synthetic-small",
        version=14,
        expert=SyncNetRecipe("small", steps=3000, clips="even"),
        evaluator=SyncNetRecipe("small", steps=1500, clips="odd", seed_offset=1),
        generator_preset="small",
        conditioning="concat",
        batch_size=16,
        sync_weight=0.03,
        starved_sync_weight=5.0,
        phases=(
            GeneratorPhase(epochs=4, warmup_epochs=1, mouth_weight=2.0, motion_weight=10.0, learning_rate=1e-3),
            GeneratorPhase(epochs=6, warmup_epochs=0, mouth_weight=8.0, motion_weight=10.0, learning_rate=3e-4, gan_weight=0.07),
        ),
    ),
    # Every stage for a few steps with the tiny presets (`s2v demo --quick`, tests).
    "smoke": Recipe(
        name="smoke",
        version=1,
        expert=SyncNetRecipe("tiny", steps=4, clips="even"),
        evaluator=SyncNetRecipe("tiny", steps=4, clips="odd", seed_offset=1),
        generator_preset="tiny",
        conditioning="concat",
        batch_size=16,
        sync_weight=0.03,
        starved_sync_weight=5.0,
        phases=(
            GeneratorPhase(epochs=2, warmup_epochs=1, mouth_weight=0.0, motion_weight=1.0, learning_rate=1e-3),
            GeneratorPhase(
                epochs=1,
                warmup_epochs=0,
                mouth_weight=2.0,
                motion_weight=1.0,
                learning_rate=3e-4,
                gan_weight=0.07,
                still_reference_rate=0.5,
            ),
        ),
    ),
}


def get_recipe(name: str) -> Recipe:
    """The registered recipe called `name`."""
    if name not in recipes:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(recipes)}")
    return recipes[name]


def read_hparams(path: str) -> dict:
    """The JSON that `s2v tune` writes: learning_rate, preset and sync_weight."""
    try:
        with open(path) as handle:
            hparams = json.load(handle)
    except (OSError, ValueError) as error:
        raise FileError(path, f"cannot read hyperparameters ({error.__class__.__name__})") from None
    unknown = set(hparams) - set(TUNED_OPTIONS)
    if not isinstance(hparams, dict) or unknown:
        raise FileError(path, f"unknown hyperparameters {sorted(unknown)}; expected {list(TUNED_OPTIONS)}")
    return hparams


def _given(overrides, known):
    unknown = set(overrides) - set(known)
    if unknown:
        raise ValueError(f"unknown recipe options {sorted(unknown)}; expected some of {sorted(known)}")
    values = {name: value for name, value in overrides.items() if value is not None}
    if "epochs" in values:
        values.setdefault("steps", None)  # a length in epochs replaces the recipe's length in steps
    return values


def resolve_recipe(recipe="synthetic-small", hparams_path: str | None = None, **overrides) -> Recipe:
    """The recipe a run trains with: `recipe` (a name or a Recipe), then the JSON of `s2v tune`
    at `hparams_path`, then every override that is not None.

    Overrides are the options of Recipe and GeneratorPhase (`option_fields`); a phase option
    applies to every phase (so does a tuned learning_rate). `loss="sync"` is the seed's pure
    sync objective: sync weight 1 from the first step, unless `warmup_epochs` is given.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    recipe_options, phase_options = option_fields(Recipe), option_fields(GeneratorPhase)
    values = _given(overrides, {**recipe_options, **phase_options})
    values = {**(read_hparams(hparams_path) if hparams_path else {}), **values}
    if values.get("loss") == "sync":
        values["sync_weight"] = 1.0
        values.setdefault("warmup_epochs", 0)
        values.setdefault("gan_weight", 0.0)  # the discriminator takes its share from L1, which this loss has not
    phase_values = {phase_options[name].name: value for name, value in values.items() if name in phase_options}
    phases = tuple(dataclasses.replace(phase, **phase_values) for phase in recipe.phases)
    recipe_values = {recipe_options[name].name: value for name, value in values.items() if name in recipe_options}
    return dataclasses.replace(recipe, phases=phases, **recipe_values)


def resolve_syncnet(recipe="synthetic-small", role: str = "expert", **overrides) -> SyncNetRecipe:
    """The recipe's `role` SyncNet ("expert" or "evaluator") with every override that is not None
    (the options of SyncNetRecipe)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    _check(role in ("expert", "evaluator"), "role", role, "'expert' or 'evaluator'")
    options = option_fields(SyncNetRecipe)
    values = _given(overrides, options)
    return dataclasses.replace(getattr(recipe, role), **{options[name].name: value for name, value in values.items()})


def _option_type(field):
    kind = field.type
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # int | None: the option parses an int
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    return kind


def add_recipe_arguments(parser: argparse.ArgumentParser, schema: type, exclude=(), note: str = "") -> list:
    """Add an option for every option field of `schema` (a recipe dataclass) but those named in
    `exclude`: `--flag-name`, its type, choices and help, default None (the recipe's).
    `note` ends each help. Returns the option names, for `recipe_overrides`."""
    groups, names = {}, []
    for name, field in option_fields(schema).items():
        if name in exclude:
            continue
        exclusive = field.metadata["exclusive"]
        if exclusive and exclusive not in groups:
            groups[exclusive] = parser.add_mutually_exclusive_group()
        target = groups[exclusive] if exclusive else parser
        target.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_option_type(field),
            default=None,
            choices=field.metadata["choices"],
            help=f"{field.metadata['help']} (default: the recipe's){note}".replace("%", "%%"),
        )  # argparse formats %
        names.append(name)
    return names


def add_generator_recipe_arguments(parser: argparse.ArgumentParser, exclude=()) -> list:
    """The options of a Recipe and of its GeneratorPhase (for every phase) but those in `exclude`,
    as `add_recipe_arguments` adds them; returns their names."""
    return add_recipe_arguments(parser, Recipe, exclude) + add_recipe_arguments(parser, GeneratorPhase, exclude, note=EVERY_PHASE)


def recipe_overrides(args: argparse.Namespace, names) -> dict:
    """{option name: value} of the options `add_recipe_arguments` added, as `resolve_recipe` takes them."""
    return {name: getattr(args, name) for name in names}


def write_recipe(recipe: Recipe, folder: str) -> str:
    """Record `recipe` as `folder/recipe.json` (the run folder), so the run can be repeated."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "recipe.json")
    with open(path, "w") as handle:
        json.dump(recipe.to_config(), handle, indent=2)
    return path


def read_recipe(path: str) -> Recipe:
    """The Recipe a run recorded with `write_recipe`."""
    try:
        with open(path) as handle:
            return Recipe.from_config(json.load(handle))
    except (OSError, ValueError, TypeError) as error:
        raise FileError(path, f"cannot read a recipe ({error.__class__.__name__})") from None
