"""Batch augmentations on normalised NCHW tensors: random shifted crop and horizontal flip."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
