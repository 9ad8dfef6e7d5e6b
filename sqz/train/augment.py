"""Augmentations: random shifted crop and flip on normalised NCHW batches (small grayscale images);
random resized crop and flip on decoded PIL images (RGB image folders, applied in loader workers). The crop's
reach follows the input size, so that a small image keeps what carries its label; mirroring is off unless asked
(`--flip`): it changes the class of digits, letters, arrows and signs."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

# Smallest share of the image's area a random resized crop keeps: CROP_SCALE_SMALL at CROP_SMALL px and below,
# CROP_SCALE_LARGE at CROP_LARGE px and above, linear between (ImageNet recipes use 0.08 at 224 px).
CROP_SMALL, CROP_LARGE = 32, 128
CROP_SCALE_SMALL, CROP_SCALE_LARGE = 0.75, 0.25


def crop_scale(size: int) -> tuple[float, float]:
    """The area range of the random resized crop for a `size`-pixel input."""
    t = min(1.0, max(0.0, (size - CROP_SMALL) / (CROP_LARGE - CROP_SMALL)))
    return (round(CROP_SCALE_SMALL + t * (CROP_SCALE_LARGE - CROP_SCALE_SMALL), 3), 1.0)


def crop_pad(size: int) -> int:
    """The shift of the padded random crop for a `size`-pixel input: 2 px at 28-32 px, about 1/16 of the side."""
    return max(1, round(size / 16))


def random_crop(x: torch.Tensor, pad: int, fill: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Pad by `pad` with the per-channel `fill` (the value of a black pixel) and crop back at random."""
    if pad == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x - fill.view(1, c, 1, 1), (pad, pad, pad, pad)) + fill.view(1, c, 1, 1)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror half of the batch left-right."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_resized_crop(
    image,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.25, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
):
    """A random crop covering `scale` of the area with aspect in `ratio` (Inception-style).

    Falls back to the centre square when ten draws do not fit."""
    w, h = image.size
    area = w * h
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return image.crop((x0, y0, x0 + cw, y0 + ch))
    side = min(w, h)
    x0, y0 = (w - side) // 2, (h - side) // 2
    return image.crop((x0, y0, x0 + side, y0 + side))


def maybe_mirror(image, rng: np.random.Generator):
    """Mirror a PIL image left-right with probability one half."""
    from PIL import Image

    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else image
