"""SqueezeNet 1.0 / 1.1, simple or complex bypass, any max-pool placement: the torch module of an `ArchConfig`."""

from __future__ import annotations

import torch
from torch import nn

from sqz.train.arch import CONV1, ArchConfig, fire_widths, skips

# Initial bias of the classifier conv, whose ReLU clamps the logits at 0: starting every logit above 0 keeps
# each class's gradient alive; at 0, small batches pushed whole classes below 0 for good (loss stuck at 2.30).
HEAD_BIAS = 1.0


def _conv(cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bn: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride=stride, padding=padding)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Fire(nn.Module):
    """Squeeze 1x1, then expand 1x1 and 3x3 concatenated; `point=True` keeps only the 3x3 centre tap. `skip`:
    "identity" adds the input, "conv" adds a 1x1 convolution of it, with BatchNorm (`bn`) and ReLU like every other
    convolution here, so activations stay non-negative: the int8 export pads ceil-mode max-pools with
    zeros, which is exact only then."""

    def __init__(
        self, cin: int, s: int, e1: int, e3: int, bn: bool = False, skip: str = "", point: bool = False
    ) -> None:
        super().__init__()
        self.squeeze = _conv(cin, s, 1, bn=bn)
        self.expand1x1 = _conv(s, e1, 1, bn=bn)
        self.expand3x3 = _conv(s, e3, 1, bn=bn) if point else _conv(s, e3, 3, padding=1, bn=bn)
        self.bypass = skip == "identity"
        self.shortcut = None
        if skip == "conv":
            self.shortcut = _conv(cin, e1 + e3, 1, bn=bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        out = torch.cat([self.expand1x1(s), self.expand3x3(s)], 1)
        if self.shortcut is not None:
            return out + self.shortcut(x)
        return out + x if self.bypass else out


class SqueezeNet(nn.Module):
    """SqueezeNet (Iandola et al., 2016) with configurable classes, channels and metaparameters."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bn = cfg.batch_norm
        c, k = CONV1[cfg.version]
        layers: list[nn.Module] = [_conv(cfg.in_channels, c, k, stride=cfg.stem_stride, bn=bn)]
        pools = cfg.pool_positions
        if 0 in pools:
            layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        widths = fire_widths(cfg)
        for i, ((s, e1, e3), skip) in enumerate(zip(widths, skips(cfg, widths))):
            layers.append(Fire(c, s, e1, e3, bn=bn, skip=skip, point=i in cfg.point_fires))
            c = e1 + e3
            if i + 1 in pools:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        final = nn.Conv2d(c, cfg.num_classes, 1)
        self.classifier = nn.Sequential(nn.Dropout(cfg.dropout), final, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.constant_(m.bias, HEAD_BIAS if m is final else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def build(cfg: ArchConfig) -> SqueezeNet:
    """A fresh, randomly initialised SqueezeNet for `cfg`."""
    return SqueezeNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
