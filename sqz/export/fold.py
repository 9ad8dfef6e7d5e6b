"""Fold BatchNorm into the preceding convolution: the exported graph is a plain SqueezeNet."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from sqz.train.model import SqueezeNet, build


@torch.no_grad()
def fold_batchnorm(model: SqueezeNet) -> SqueezeNet:
    """An equivalent eval-mode model without BatchNorm layers (the input model is left as is)."""
    if not model.cfg.batch_norm:
        return model.eval()
    plain = build(dataclasses.replace(model.cfg, batch_norm=False)).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Sequential) and len(m) == 3
             and isinstance(m[0], nn.Conv2d) and isinstance(m[1], nn.BatchNorm2d)]
    targets = [m for m in plain.modules() if isinstance(m, nn.Sequential) and len(m) == 2
               and isinstance(m[0], nn.Conv2d) and isinstance(m[1], nn.ReLU)]
    if len(convs) != len(targets):
        raise RuntimeError("BatchNorm layout does not match the plain architecture")
    for src, dst in zip(convs, targets):
        conv, bn = src[0], src[1]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        dst[0].weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        dst[0].bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
    plain.classifier[1].load_state_dict(model.classifier[1].state_dict())
    return plain
