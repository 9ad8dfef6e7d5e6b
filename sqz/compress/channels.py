"""Structured channel pruning of a plain (BatchNorm-folded) SqueezeNet: a smaller dense network, not masks.

A group is one convolution's output channels: a fire's squeeze, expand1x1 or expand3x3. Removing a squeeze
channel removes that filter and the matching input of both expands; removing an expand channel removes
that filter and the matching input, at its offset in the concatenation, of the next fire's squeeze (or of
the classifier after fire 9). A simple bypass adds a fire's input to its output, tying both fires' expand
channels; those groups are left whole. conv1 and the classifier keep their widths.
"""

from __future__ import annotations

import torch
from torch import nn

from sqz.fit.widths import PARTS, Group, bypassed, counts, with_counts
from sqz.train.arch import CONV1
from sqz.train.model import Fire, SqueezeNet, build


def fires(model: SqueezeNet) -> list[Fire]:
    return [m for m in model.features if isinstance(m, Fire)]


def conv(model: SqueezeNet, group: Group) -> nn.Conv2d:
    """The convolution whose output channels make up `group`."""
    i, part = group
    return getattr(fires(model)[i], part)[0]


def importance(model: SqueezeNet, group: Group) -> torch.Tensor:
    """Per output channel: L1 norm of its filter plus |bias| (BatchNorm already folded in)."""
    c = conv(model, group)
    return c.weight.detach().abs().sum((1, 2, 3)) + c.bias.detach().abs()


def weakest(model: SqueezeNet, group: Group, n: int) -> torch.Tensor:
    """Indices of the `n` least important channels of `group`."""
    return torch.argsort(importance(model, group), stable=True)[:n]


@torch.no_grad()
def slim(model: SqueezeNet, keep: dict[Group, torch.Tensor]) -> SqueezeNet:
    """A new, smaller model keeping only the channel indices in `keep` (other groups whole); exact when the
    removed channels carry zero weights and bias."""
    if model.cfg.batch_norm:
        raise ValueError("fold BatchNorm (sqz.train.surgery.fold_batchnorm) before removing channels")
    cfg = model.cfg
    old = counts(cfg)
    kept = {g: torch.arange(n) if g not in keep else torch.sort(keep[g].long()).values for g, n in old.items()}
    tied = set(bypassed(cfg))
    new_cfg = with_counts(cfg, {g: len(k) for g, k in kept.items()})
    if set(bypassed(new_cfg)) != tied:
        raise ValueError("pruning would change which fires carry a bypass; prune tied groups together or not at all")
    for i in tied:
        for part in ("expand1x1", "expand3x3"):
            if len(kept[(i, part)]) != old[(i, part)] or len(kept[(i - 1, part)]) != old[(i - 1, part)]:
                raise ValueError(f"fire {i + 2} carries a bypass: its expand channels and fire {i + 1}'s stay whole")
    small = build(new_cfg).eval()
    small.features[0].load_state_dict(model.features[0].state_dict())
    src, dst = fires(model), fires(small)
    cin = torch.arange(CONV1[cfg.version][0])
    for i in range(8):
        sq, e1, e3 = (kept[(i, p)] for p in PARTS)
        _copy(dst[i].squeeze[0], src[i].squeeze[0], sq, cin)
        _copy(dst[i].expand1x1[0], src[i].expand1x1[0], e1, sq)
        _copy(dst[i].expand3x3[0], src[i].expand3x3[0], e3, sq)
        cin = torch.cat([e1, old[(i, "expand1x1")] + e3])
    final_src, final_dst = model.classifier[1], small.classifier[1]
    final_dst.weight.copy_(final_src.weight[:, cin])
    final_dst.bias.copy_(final_src.bias)
    return small


def _copy(dst: nn.Conv2d, src: nn.Conv2d, out_idx: torch.Tensor, in_idx: torch.Tensor) -> None:
    dst.weight.copy_(src.weight[out_idx][:, in_idx])
    dst.bias.copy_(src.bias[out_idx])


def prune_to(model: SqueezeNet, target: dict[Group, int]) -> SqueezeNet:
    """A smaller model with `target[g]` channels in each group, keeping the most important ones."""
    have = counts(model.cfg)
    keep = {
        g: torch.argsort(importance(model, g), descending=True, stable=True)[:n]
        for g, n in target.items()
        if n < have[g]
    }
    return slim(model, keep)
