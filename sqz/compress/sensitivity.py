"""Which channels to remove: measured per-group sensitivity, then a greedy bytes-per-sensitivity allocation.

Sensitivity of a group at a fraction f: the rise in KL(teacher ‖ model) on held-out images when the f least
important channels of that group are zeroed (zeroed output channels are exactly removed ones, see
`channels.slim`). The allocation removes channels step by step from the group whose next step costs the least
sensitivity per byte saved, until an exact size check passes.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from sqz.compress.channels import conv, weakest
from sqz.fit.size import conv_bytes
from sqz.fit.widths import Group, bypassed, counts, groups, with_counts
from sqz.train.arch import CONV1, ArchConfig, fire_widths
from sqz.train.progress import bar

FRACTIONS = (0.25, 0.5, 0.75)
STEPS = 16


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])


def kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> float:
    """Mean KL(teacher ‖ student) over the images, in nats."""
    t = torch.log_softmax(teacher_logits, 1)
    return nn.functional.kl_div(torch.log_softmax(student_logits, 1), t, reduction="batchmean", log_target=True).item()


@torch.no_grad()
def measure(
    model: nn.Module, x: torch.Tensor, teacher_logits: torch.Tensor, progress: bool = True
) -> dict[Group, list[float]]:
    """Per prunable group, the KL rise at each of FRACTIONS (non-decreasing, >= 0)."""
    base = kl(teacher_logits, logits(model, x))
    out = {}
    for g in bar(groups(model.cfg), progress, desc="sensitivity", leave=False):
        c = conv(model, g)
        weight, bias = c.weight.clone(), c.bias.clone()
        order = weakest(model, g, c.out_channels)
        rises = []
        for f in FRACTIONS:
            gone = order[: min(c.out_channels - 1, round(f * c.out_channels))]
            c.weight[gone] = 0
            c.bias[gone] = 0
            rises.append(max(0.0, kl(teacher_logits, logits(model, x)) - base))
            c.weight.copy_(weight)
            c.bias.copy_(bias)
        out[g] = list(np.maximum.accumulate(rises))
    return out


def estimate(cfg: ArchConfig) -> int:
    """Approximate int8 file bytes of the fires: weights plus per-channel bias and quantisation (for ranking)."""
    total, cin = 0, CONV1[cfg.version][0]
    for i, (s, e1, e3) in enumerate(fire_widths(cfg)):
        k = 1 if i in cfg.point_fires else 9
        total += conv_bytes(s * cin, s) + conv_bytes(e1 * s, e1) + conv_bytes(e3 * k * s, e3)
        cin = e1 + e3
    return total + cin * cfg.num_classes


def floors(cfg: ArchConfig) -> dict[Group, int]:
    """The fewest channels one round may leave in each prunable group (a quarter, at least one)."""
    have = counts(cfg)
    return {g: max(1, math.ceil(have[g] * (1 - FRACTIONS[-1]))) for g in groups(cfg)}


def allocate(cfg: ArchConfig, sens: dict[Group, list[float]], fits: Callable[[ArchConfig], bool]) -> ArchConfig | None:
    """The channel counts (as an ArchConfig with explicit widths) that pass `fits` at the least summed
    sensitivity, greedily; None when even the floors of every group do not fit."""
    base, low = counts(cfg), floors(cfg)
    cur = dict(base)
    ties = bypassed(cfg)

    def rise(g: Group, n: int) -> float:
        return float(np.interp(1 - n / base[g], (0.0,) + FRACTIONS, [0.0] + sens[g]))

    trial_cfg = with_counts(cfg, cur)
    while not fits(trial_cfg):
        size, best = estimate(trial_cfg), None
        for g in sens:
            n = max(low[g], cur[g] - max(1, base[g] // STEPS))
            if n >= cur[g]:
                continue
            trial = with_counts(cfg, {**cur, g: n})
            saved = size - estimate(trial)
            if saved <= 0 or bypassed(trial) != ties:
                continue
            score = (rise(g, n) - rise(g, cur[g]) + 1e-9) / saved
            if best is None or score < best[0]:
                best = (score, g, n)
        if best is None:
            return None
        cur[best[1]] = best[2]
        trial_cfg = with_counts(cfg, cur)
    return trial_cfg
