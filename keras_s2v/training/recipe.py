"""Training recipes: every number that trains the SyncNets and the generator, named and versioned.

`recipes["synthetic-small"]` is the recipe of TRAINING.md §4 that meets the demo's bar;
`recipes["smoke"]` runs every stage for a few steps (its metrics mean nothing). `s2v train`,
`s2v train-syncnet`, `s2v tune`, `s2v demo` and the scripts in pipelines/ all start from one.
`resolve_recipe` applies a user's changes: recipe < `s2v tune`'s JSON < explicit options.
"""

import dataclasses
import json
import os

from keras_s2v.errors import FileError
from keras_s2v.models.speech2vid import CONDITIONINGS
from keras_s2v.training.trainer import LOSSES, check_loss_weights

CLIPS = ("all", "even", "odd")
HPARAMS = ("learning_rate", "preset", "sync_weight")  # what `s2v tune` writes
PHASE_OPTIONS = ("epochs", "steps", "warmup_epochs", "mouth_weight", "motion_weight", "learning_rate", "gradient_weight",
                 "gan_weight", "still_reference_rate")
RECIPE_OPTIONS = {"preset": "generator_preset", "conditioning": "conditioning", "batch_size": "batch_size",
                  "sync_weight": "sync_weight", "loss": "loss", "starved_sync_weight": "starved_sync_weight"}
SYNCNET_OPTIONS = ("preset", "epochs", "steps", "clips", "learning_rate", "batch_size")


def _check(condition, name, value, requirement):
    if not condition:
        raise ValueError(f"`{name}` must be {requirement}; received {value!r}")


def _check_length(epochs, steps):
    _check(epochs is None or epochs >= 1, "epochs", epochs, ">= 1 or None")
    _check(steps is None or steps >= 1, "steps", steps, ">= 1 or None")


@dataclasses.dataclass(frozen=True)
class SyncNetRecipe:
    """How one SyncNet trains: `steps` (total) wins over `epochs`; the seed is the run's + `seed_offset`."""

    preset: str = "small"
    steps: int = None
    epochs: int = None
    clips: str = "all"
    learning_rate: float = 1e-3
    batch_size: int = 32
    seed_offset: int = 0

    def __post_init__(self):
        _check_length(self.epochs, self.steps)
        _check(self.clips in CLIPS, "clips", self.clips, f"one of {CLIPS}")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")


@dataclasses.dataclass(frozen=True)
class GeneratorPhase:
    """One generator phase: its length, the epochs with the sync weight held at 0, its L1 terms and Adam rate.

    `gradient_weight` (the L1 of the mouth's edges), `gan_weight` (the visual-quality
    discriminator) and `still_reference_rate` (the share of references that are one quiet frame,
    as a photo's are: `datasets.generator_dataset`) default to 0, off, so a recipe.json written
    before them reads the same.
    """

    epochs: int
    warmup_epochs: int
    mouth_weight: float
    motion_weight: float
    learning_rate: float
    steps: int = None  # total optimizer steps instead of `epochs` (`s2v train --steps`)
    gradient_weight: float = 0.0
    gan_weight: float = 0.0
    still_reference_rate: float = 0.0

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

    name: str
    version: int
    expert: SyncNetRecipe
    evaluator: SyncNetRecipe
    generator_preset: str
    batch_size: int
    sync_weight: float
    phases: tuple
    loss: str = "l1+sync"
    conditioning: str = "composite"  # how the generator takes its reference (keras_s2v.models.speech2vid)
    starved_sync_weight: float = 0.0  # the trainer's pull on windows at P_sync ~ 0 (keras_s2v.training.trainer)

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
        _check(self.phases and all(isinstance(p, GeneratorPhase) for p in self.phases), "phases", self.phases,
               "a non-empty tuple of GeneratorPhase")
        for phase in self.phases:  # refused here, before any phase trains
            check_loss_weights(self.sync_weight, phase.gan_weight)

    def to_config(self):
        """A JSON-ready dict; `Recipe.from_config` gives the recipe back."""
        config = dataclasses.asdict(self)
        config["phases"] = list(config["phases"])  # as JSON gives it back
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        expert, evaluator = (SyncNetRecipe(**config.pop(role)) for role in ("expert", "evaluator"))
        phases = tuple(GeneratorPhase(**phase) for phase in config.pop("phases"))
        return cls(expert=expert, evaluator=evaluator, phases=phases, **config)


recipes = {
    # TRAINING.md §5: the textured corpus, the reference concatenated (30 channels), and every
    # number cut so that `make demo` fits 15 minutes on 2 cores. The expert and the evaluator
    # see disjoint clips of the training speakers; the generator trains L1 then L1 + sync with
    # the motion term, then a fine-tune with a heavier mouth L1 at a lower rate. Version 3: the
    # `small` preset blends its frames with the reference (ReferenceBlend), same numbers.
    # Version 4: the blend always paints the mouth and jaw (its `paint_ellipse`), same numbers.
    # Version 5: the sync term takes each window forwards and backwards (the trainer's
    # `symmetric_sync`), so the mouths are on time whatever the expert's own timing; same numbers.
    # Version 6 took the `small-warp` preset; its `make demo` run missed the sync target (0.55x),
    # so version 7 is version 5 again. Version 8: phase 2 adds the visual-quality discriminator
    # (`gan_weight`) for 6 epochs, paid for by one epoch less in phase 1 (TRAINING.md §5).
    # Version 9: the expert trains 3,000 steps, paid for by a faster augmentation pipeline (TRAINING.md §5).
    # Version 10 gave half of phase 2's references as one quiet frame shown 5 times, as a photo's
    # are (`still_reference_rate`); better on photos after a phase 1 whose sync took hold, worse
    # after one whose sync took hold late, and two of its three `make demo` runs missed sync, so
    # version 11 is version 9 again (TRAINING.md §5). Version 12 added the trainer's pull on the
    # windows at P_sync ~ 0 (`starved_sync_weight` 5) to version 10; its `make demo` run drew
    # mouths a frame late in four clips of six, so version 13 is version 9 again. Version 14:
    # version 9 with the pull alone.
    "synthetic-small": Recipe(
        name="synthetic-small", version=14,
        expert=SyncNetRecipe("small", steps=3000, clips="even"),
        evaluator=SyncNetRecipe("small", steps=1500, clips="odd", seed_offset=1),
        generator_preset="small", conditioning="concat", batch_size=16, sync_weight=0.03, starved_sync_weight=5.0,
        phases=(GeneratorPhase(epochs=4, warmup_epochs=1, mouth_weight=2.0, motion_weight=10.0, learning_rate=1e-3),
                GeneratorPhase(epochs=6, warmup_epochs=0, mouth_weight=8.0, motion_weight=10.0, learning_rate=3e-4,
                               gan_weight=0.07)),
    ),
    # Every stage for a few steps with the tiny presets (`s2v demo --quick`, tests).
    "smoke": Recipe(
        name="smoke", version=1,
        expert=SyncNetRecipe("tiny", steps=4, clips="even"),
        evaluator=SyncNetRecipe("tiny", steps=4, clips="odd", seed_offset=1),
        generator_preset="tiny", conditioning="concat", batch_size=16, sync_weight=0.03, starved_sync_weight=5.0,
        phases=(GeneratorPhase(epochs=2, warmup_epochs=1, mouth_weight=0.0, motion_weight=1.0, learning_rate=1e-3),
                GeneratorPhase(epochs=1, warmup_epochs=0, mouth_weight=2.0, motion_weight=1.0, learning_rate=3e-4,
                               gan_weight=0.07, still_reference_rate=0.5)),
    ),
}


def get_recipe(name):
    """The registered recipe called `name`."""
    if name not in recipes:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(recipes)}")
    return recipes[name]


def read_hparams(path):
    """The JSON that `s2v tune` writes: learning_rate, preset and sync_weight."""
    try:
        with open(path) as handle:
            hparams = json.load(handle)
    except (OSError, ValueError) as error:
        raise FileError(path, f"cannot read hyperparameters ({error.__class__.__name__})") from None
    unknown = set(hparams) - set(HPARAMS)
    if not isinstance(hparams, dict) or unknown:
        raise FileError(path, f"unknown hyperparameters {sorted(unknown)}; expected {list(HPARAMS)}")
    return hparams


def _given(overrides, known):
    unknown = set(overrides) - set(known)
    if unknown:
        raise ValueError(f"unknown recipe options {sorted(unknown)}; expected some of {sorted(known)}")
    values = {name: value for name, value in overrides.items() if value is not None}
    if "epochs" in values:
        values.setdefault("steps", None)  # a length in epochs replaces the recipe's length in steps
    return values


def resolve_recipe(recipe="synthetic-small", hparams_path=None, **overrides):
    """The recipe a run trains with: `recipe` (a name or a Recipe), then the JSON of `s2v tune`
    at `hparams_path`, then every override that is not None.

    Overrides: preset, conditioning, batch_size, sync_weight, loss, starved_sync_weight, and the phase options epochs, steps,
    warmup_epochs, mouth_weight, motion_weight, learning_rate, gradient_weight, gan_weight, still_reference_rate, which apply to every phase
    (so does a tuned learning_rate). `loss="sync"` is the seed's pure sync objective: sync
    weight 1 from the first step, unless `warmup_epochs` is given.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    values = _given(overrides, PHASE_OPTIONS + tuple(RECIPE_OPTIONS))
    values = {**(read_hparams(hparams_path) if hparams_path else {}), **values}
    if values.get("loss") == "sync":
        values["sync_weight"] = 1.0
        values.setdefault("warmup_epochs", 0)
        values.setdefault("gan_weight", 0.0)  # the discriminator takes its share from L1, which this loss has not
    phase_values = {name: values[name] for name in PHASE_OPTIONS if name in values}
    phases = tuple(dataclasses.replace(phase, **phase_values) for phase in recipe.phases)
    return dataclasses.replace(recipe, phases=phases, **{RECIPE_OPTIONS[name]: values[name] for name in RECIPE_OPTIONS if name in values})


def resolve_syncnet(recipe="synthetic-small", role="expert", **overrides):
    """The recipe's `role` SyncNet ("expert" or "evaluator") with every override that is not None
    (preset, epochs, steps, clips, learning_rate, batch_size)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    _check(role in ("expert", "evaluator"), "role", role, "'expert' or 'evaluator'")
    return dataclasses.replace(getattr(recipe, role), **_given(overrides, SYNCNET_OPTIONS))


def write_recipe(recipe, folder):
    """Record `recipe` as `folder/recipe.json` (the run folder), so the run can be repeated."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "recipe.json")
    with open(path, "w") as handle:
        json.dump(recipe.to_config(), handle, indent=2)
    return path


def read_recipe(path):
    """The Recipe a run recorded with `write_recipe`."""
    try:
        with open(path) as handle:
            return Recipe.from_config(json.load(handle))
    except (OSError, ValueError, TypeError) as error:
        raise FileError(path, f"cannot read a recipe ({error.__class__.__name__})") from None
