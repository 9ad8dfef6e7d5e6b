"""Compress stage: both forms of `sqz compress`: pruning and weight sharing with fine-tuning, and `--fit`,
channel removal to a byte budget."""
