"""Calibration images for full-int8 conversion: real training images, preprocessed as in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import InputError
from sqz.runtime.preprocess import Preprocess, normalize
from sqz.train.folder import IMAGE_SUFFIXES, try_decode


def calibration_pick(images: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` images drawn reproducibly and class-blind from `images`, still uint8 as decoded."""
    if n < 1:
        raise InputError(f"--calib must be at least 1, got {n}")
    if len(images) == 0:
        raise InputError("no training images to calibrate on")
    if n >= len(images):
        return images
    pick = np.sort(np.random.default_rng(seed).permutation(len(images))[:n])
    return images[pick]


def calibration_set(images: np.ndarray, pre: Preprocess, n: int, seed: int = 0) -> np.ndarray:
    """`calibration_pick` normalised as the model sees it, float32 NHWC."""
    return normalize(calibration_pick(images, n, seed), pre).transpose(0, 2, 3, 1).copy()


def folder_images(root: Path, pre: Preprocess, n: int, seed: int = 0) -> np.ndarray:
    """A reproducible `n` of the images anywhere under `root` (any layout, labels unused), decoded as uint8
    with `pre`; unreadable files are passed over."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"--calib-data {root}: not a directory")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    xs = []
    for i in np.random.default_rng(seed).permutation(len(paths)):
        x = try_decode(str(paths[i]), pre)
        if x is not None:
            xs.append(x)
        if len(xs) == n:
            break
    if not xs:
        raise InputError(f"--calib-data {root}: no readable images (PNG, JPEG, ...) under it")
    return np.stack(xs)
