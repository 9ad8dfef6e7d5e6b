"""Deterministic sample images for verify and the deploy smoke test: given files, or Fashion-MNIST's test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import InputError
from sqz.runtime.manifest import Manifest
from sqz.runtime.preprocess import decode


def sample_images(manifest: Manifest, n: int = 8, images: list[Path] | None = None) -> tuple[np.ndarray, str]:
    """(uint8 (N, content, content, C), where they came from) for the model this manifest describes."""
    pre = manifest.preprocess
    if images:
        return np.stack([decode(p, pre) for p in images]), f"{len(images)} given images"
    from sqz.train.idx import FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, read_idx

    if manifest.labels != FASHION_MNIST_CLASSES:
        raise InputError("this model was not trained on Fashion-MNIST; give sample images with --images")
    path = FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        raise InputError(f"{path} not found; apt-get install dataset-fashion-mnist or give --images")
    x = read_idx(path)[:n]
    batch = np.stack([decode(im, pre) for im in x]) if x.shape[1:] != (pre.content, pre.content) else x[..., None]
    return np.ascontiguousarray(batch, dtype=np.uint8), f"the first {len(x)} Fashion-MNIST test images"
