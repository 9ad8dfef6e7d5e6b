"""Training stage: SqueezeNet models, datasets and the training loop (needs torch)."""
