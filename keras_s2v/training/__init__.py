"""Training: the recipes, the SyncNet expert, the generator's trainer (custom train_step through
the frozen expert), callbacks, distribution strategies and hyperparameter tuning."""

from keras_s2v.training.callbacks import FrameGrid, GeneratorCheckpoint, NaNGuard, ProgressLog, SyncWeightWarmup
from keras_s2v.training.distribute import get_strategy
from keras_s2v.training.generator_fit import generator_callbacks, train_generator, train_recipe_generator
from keras_s2v.training.recipe import GeneratorPhase, Recipe, SyncNetRecipe, get_recipe, read_hparams, recipes, resolve_recipe
from keras_s2v.training.syncnet_fit import (
    compile_syncnet,
    recalibrate_batchnorm,
    sync_accuracy,
    train_recipe_syncnet,
    train_syncnet,
)
from keras_s2v.training.trainer import Speech2VidTrainer, check_compatible
from keras_s2v.training.tuning import tune

__all__ = [
    "FrameGrid", "GeneratorCheckpoint", "GeneratorPhase", "NaNGuard", "ProgressLog", "Recipe", "Speech2VidTrainer",
    "SyncNetRecipe", "SyncWeightWarmup", "check_compatible", "compile_syncnet", "generator_callbacks", "get_recipe",
    "get_strategy", "read_hparams", "recalibrate_batchnorm", "recipes", "resolve_recipe", "sync_accuracy",
    "train_generator", "train_recipe_generator", "train_recipe_syncnet", "train_syncnet", "tune",
]
