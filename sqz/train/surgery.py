"""Equivalent rewrites of a trained SqueezeNet: BatchNorm folding and dead taps. Outputs unchanged.

BatchNorm folds into the preceding convolution, so the exported graph is a plain SqueezeNet. Dead taps:
3x3 expand kernels that only ever see a 1x1 map multiply padding with 8 of 9 taps. Which taps are dead
is a property of (architecture, input size), computed exactly by a probe pass; replacing such a 3x3
convolution by its centre tap changes no output and removes 8/9 of its weights.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from sqz.train.model import Fire, SqueezeNet, build


@torch.no_grad()
def fold_batchnorm(model: SqueezeNet) -> SqueezeNet:
    """An equivalent eval-mode model without BatchNorm layers (the input model is left as is). Every conv sits
    at `.0` of a block, its BatchNorm (if any) at `.1`, under the same name in both models."""
    if not model.cfg.batch_norm:
        return model.eval()
    plain = build(dataclasses.replace(model.cfg, batch_norm=False)).eval()
    source = dict(model.named_modules())
    blocks = [
        (name, m) for name, m in plain.named_modules() if isinstance(m, nn.Sequential) and isinstance(m[0], nn.Conv2d)
    ]
    folded = 0
    for name, dst in blocks:
        src = source.get(name)
        if src is None or not isinstance(src[0], nn.Conv2d) or len(src) < 2 or not isinstance(src[1], nn.BatchNorm2d):
            raise RuntimeError(f"BatchNorm layout does not match the plain architecture at {name}")
        conv, bn = src[0], src[1]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        dst[0].weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        dst[0].bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
        folded += 1
    if folded != sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        raise RuntimeError("BatchNorm layout does not match the plain architecture")
    plain.classifier[1].load_state_dict(model.classifier[1].state_dict())
    return plain


@torch.no_grad()
def expand_input_sizes(model: SqueezeNet, size: int) -> list[tuple[int, int]]:
    """(H, W) of the map each fire module's expand layers see at a `size`² input."""
    fires = [m for m in model.features if isinstance(m, Fire)]
    seen: list[tuple[int, int]] = []
    hooks = [f.expand3x3.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:]))) for f in fires]
    try:
        model.eval()(torch.zeros(1, model.cfg.in_channels, size, size))
    finally:
        for h in hooks:
            h.remove()
    return seen


def dead_tap_fires(model: SqueezeNet, size: int) -> list[int]:
    """Indices of the fire modules whose 3x3 expand sees a 1x1 map (only the centre tap is live)."""
    return [
        i for i, hw in enumerate(expand_input_sizes(model, size)) if hw == (1, 1) and i not in model.cfg.point_fires
    ]


@torch.no_grad()
def remove_dead_taps(model: SqueezeNet, size: int) -> tuple[SqueezeNet, list[int]]:
    """An equivalent model whose dead-tap 3x3 expands are 1x1 centre taps, and the fires changed."""
    dead = dead_tap_fires(model, size)
    if not dead:
        return model, []
    cfg = dataclasses.replace(model.cfg, point_fires=tuple(sorted(set(model.cfg.point_fires) | set(dead))))
    slim = build(cfg).eval()
    fire_layer = [n for n, m in enumerate(model.features) if isinstance(m, Fire)]
    centre = {f"features.{fire_layer[i]}.expand3x3.0.weight" for i in dead}
    state = {k: (v[:, :, 1:2, 1:2] if k in centre else v) for k, v in model.state_dict().items()}
    slim.load_state_dict(state)
    return slim, dead
