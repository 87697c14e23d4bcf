"""Training: augmentations and flow inversion, losses, trainers, checkpoints."""
