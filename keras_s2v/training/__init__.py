"""Training: the SyncNet expert, the generator's trainer (custom train_step through the
frozen expert), callbacks, distribution strategies and hyperparameter tuning."""
