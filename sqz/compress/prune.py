"""Gradual magnitude pruning (cubic schedule, Zhu & Gupta 2017) with masked fine-tuning.

Pruned: the fire modules' convolutions, ranked globally by magnitude. Kept dense: conv1 (few weights,
all input) and the final classifier conv (small at init; pruning it globally removed it entirely here).
"""

from __future__ import annotations

import torch
from torch import nn

from sqz.errors import InputError
from sqz.train.model import Fire


def prunable(model: nn.Module) -> list[nn.Parameter]:
    """The weights of every convolution inside a fire module."""
    return [m.weight for f in model.modules() if isinstance(f, Fire) for m in f.modules() if isinstance(m, nn.Conv2d)]


def cubic_schedule(step: int, total: int, final: float, ramp: float = 0.75) -> float:
    """Sparsity at `step`: from 0 to `final` along a cubic over the first `ramp` of training, then flat."""
    t = min(1.0, step / max(1.0, ramp * total))
    return final * (1.0 - (1.0 - t) ** 3)


@torch.no_grad()
def global_masks(weights: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Masks keeping the largest-magnitude (1 - sparsity) of all weights together."""
    flat = torch.cat([w.abs().flatten() for w in weights])
    k = int(round(sparsity * flat.numel()))
    if k == 0:
        return [torch.ones_like(w, dtype=torch.bool) for w in weights]
    threshold = torch.kthvalue(flat, k).values
    return [w.abs() > threshold for w in weights]


def sparsity_of(model: nn.Module) -> float:
    """Fraction of exact zeros among the prunable weights."""
    ws = prunable(model)
    return float(sum((w == 0).sum().item() for w in ws) / sum(w.numel() for w in ws))


class GradualPruner:
    """Holds the masks between steps; call it after each optimizer step."""

    def __init__(self, model: nn.Module, final: float, every: int = 50) -> None:
        if not 0.0 <= final < 1.0:
            raise InputError(f"sparsity must be in [0, 1), got {final}")
        self.weights, self.final, self.every = prunable(model), final, every
        self.masks = [torch.ones_like(w, dtype=torch.bool) for w in self.weights]

    @torch.no_grad()
    def __call__(self, step: int, total: int) -> None:
        if step % self.every == 0 or step == total:
            target = self.final if step == total else cubic_schedule(step, total, self.final)
            self.masks = global_masks(self.weights, target)
        for w, m in zip(self.weights, self.masks):
            w.mul_(m)
