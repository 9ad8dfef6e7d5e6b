"""The image folders of the small-set benchmark, written from Fashion-MNIST (read with sqz's IDX reader).

- grey: `n_train` training and `n_test` test images, 28×28 grey PNGs, `train/<class>/` + `test/<class>/`.
- rgb: the same kind of subset upscaled to `side`² (bilinear) and coloured per image: a random background
  colour and a random foreground colour (each channel uniform in 0–255, drawn per image), blended by the
  grey value (pixel = bg·(1 − g/255) + fg·g/255), so the three channels differ and colour carries no label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sqz.runtime.idx import read_idx
from sqz.train.data import FASHION_MNIST_CLASSES, FASHION_MNIST_DIR


def _subset(split: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` images of the official `split`, drawn at random with `seed` (class balance as drawn)."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(Path(FASHION_MNIST_DIR) / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(Path(FASHION_MNIST_DIR) / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(y))[:n]
    return x[idx], y[idx]


def _tint(img: np.ndarray, side: int, rng: np.random.Generator) -> Image.Image:
    """One 28×28 grey image upscaled to `side`² and blended between two random colours."""
    g = np.asarray(Image.fromarray(img).resize((side, side), Image.BILINEAR), dtype=np.float32)[..., None] / 255
    bg, fg = rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)
    return Image.fromarray(np.clip(bg * (1 - g) + fg * g + 0.5, 0, 255).astype(np.uint8), "RGB")


def write(root: Path, n_train: int, n_test: int, rgb_side: int = 0, seed: int = 0) -> Path:
    """Write the folder (grey 28² PNGs, or RGB `rgb_side`² PNGs when given) and return its root."""
    root = Path(root)
    rng = np.random.default_rng(seed + 1)
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x, y = _subset(split, n, s)
        for name in FASHION_MNIST_CLASSES:
            (root / split / name.replace("/", "-")).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(zip(x, y)):
            im = _tint(img, rgb_side, rng) if rgb_side else Image.fromarray(img, "L")
            im.save(root / split / FASHION_MNIST_CLASSES[label].replace("/", "-") / f"{i:05d}.png")
    return root
