"""Training: the recipes, the SyncNet expert, the generator's trainer (custom train_step through
the frozen expert), callbacks, distribution strategies and hyperparameter tuning."""

from keras_s2v.training.callbacks import FrameGrid, GeneratorCheckpoint, NaNGuard, ProgressLog, SyncWeightWarmup
from keras_s2v.training.distribute import get_strategy
from keras_s2v.training.generator_fit import train_generator
from keras_s2v.training.recipes import Recipe, get_recipe, read_hparams, recipes
from keras_s2v.training.syncnet_fit import compile_syncnet, recalibrate_batchnorm, sync_accuracy, train_syncnet
from keras_s2v.training.trainer import Speech2VidTrainer, check_compatible
from keras_s2v.training.tuning import tune

__all__ = [
    "FrameGrid", "GeneratorCheckpoint", "NaNGuard", "ProgressLog", "Recipe", "Speech2VidTrainer", "SyncWeightWarmup",
    "check_compatible", "compile_syncnet", "get_recipe", "get_strategy", "read_hparams", "recalibrate_batchnorm",
    "recipes", "sync_accuracy", "train_generator", "train_syncnet", "tune",
]
