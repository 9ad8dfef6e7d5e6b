"""Training stage: SqueezeNet models, datasets, the training loops and output-preserving model surgery (needs torch)."""
