"""Calibration images for full-int8 conversion: real training images, preprocessed as in training."""

from __future__ import annotations

import numpy as np

from sqz.errors import InputError
from sqz.runtime.preprocess import Preprocess, normalize


def calibration_set(images: np.ndarray, pre: Preprocess, n: int, seed: int = 0) -> np.ndarray:
    """`n` images drawn reproducibly and class-blind from `images`, as float32 NHWC normalised."""
    if n < 1:
        raise InputError(f"--calib must be at least 1, got {n}")
    if len(images) == 0:
        raise InputError("no training images to calibrate on")
    pick = np.sort(np.random.default_rng(seed).permutation(len(images))[: min(n, len(images))])
    return normalize(images[pick], pre).transpose(0, 2, 3, 1).copy()
