"""Training: the recipes, the SyncNet expert, the generator's trainer (custom train_step through
the frozen expert), callbacks, distribution strategies and hyperparameter tuning.

Each name is imported from its module when first used, so that the command line can read the
recipes (keras_s2v.training.recipe, no TensorFlow) before TensorFlow loads.
"""

from keras_s2v.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "callbacks": ("FrameGrid", "GeneratorCheckpoint", "NaNGuard", "ProgressLog", "SyncWeightWarmup"),
        "build": ("build_trainer", "compile_syncnet", "generator_datasets"),
        "distribute": ("get_strategy",),
        "generator_fit": ("generator_callbacks", "train_generator", "train_recipe_generator"),
        "recipe": ("GeneratorPhase", "Recipe", "SyncNetRecipe", "get_recipe", "read_hparams", "recipes", "resolve_recipe"),
        "syncnet_fit": ("recalibrate_batchnorm", "sync_accuracy", "train_syncnet"),
        "trainer": ("Speech2VidTrainer", "check_compatible"),
        "tuning": ("tune",),
    },
)
