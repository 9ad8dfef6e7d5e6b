"""SqueezeNet 1.0 / 1.1 / simple bypass, built from the paper's design-space metaparameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from sqz.errors import InputError

VERSIONS = ("1.0", "1.1")
METAPARAMETERS = ("base_e", "incr_e", "pct3x3", "sr", "freq")


@dataclass(frozen=True)
class ArchConfig:
    """Everything needed to rebuild a SqueezeNet; defaults are the published architectures."""

    version: str = "1.1"
    num_classes: int = 1000
    in_channels: int = 3
    base_e: int = 128
    incr_e: int = 128
    pct3x3: float = 0.5
    sr: float = 0.125
    freq: int = 2
    bypass: bool = False
    batch_norm: bool = False
    dropout: float = 0.5
    point_fires: tuple[int, ...] = field(default_factory=tuple)
    # explicit (squeeze, expand1x1, expand3x3) per fire, e.g. after channel pruning; empty: the formula
    widths: tuple[tuple[int, int, int], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["point_fires"] = list(self.point_fires)
        d["widths"] = [list(w) for w in self.widths]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ArchConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["point_fires"] = tuple(known.get("point_fires", ()))
        known["widths"] = tuple(tuple(int(v) for v in w) for w in known.get("widths", ()))
        return cls(**known)

    @classmethod
    def named(cls, arch: str, **kw) -> "ArchConfig":
        """`1.0`, `1.1` or `1.1-bypass` (any version with `-bypass`)."""
        version, _, extra = arch.partition("-")
        if version not in VERSIONS or extra not in ("", "bypass"):
            raise ValueError(f"unknown arch {arch!r}; use 1.0, 1.1, 1.0-bypass or 1.1-bypass")
        return cls(version=version, bypass=extra == "bypass", **kw)

    @property
    def name(self) -> str:
        return self.version + ("-bypass" if self.bypass else "")


def metaparameters(**given) -> dict:
    """The paper's metaparameters that were given (not None), as `ArchConfig` fields."""
    unknown = set(given) - set(METAPARAMETERS)
    if unknown:
        raise InputError(f"unknown metaparameter(s) {sorted(unknown)}; use {', '.join(METAPARAMETERS)}")
    return {k: v for k, v in given.items() if v is not None}


def fire_widths(cfg: ArchConfig) -> list[tuple[int, int, int]]:
    """(squeeze, expand1x1, expand3x3) for the eight fire modules: `cfg.widths`, else the paper's formula."""
    if cfg.widths:
        if len(cfg.widths) != 8 or any(len(w) != 3 or min(w) < 1 for w in cfg.widths):
            raise InputError(f"explicit fire widths {list(cfg.widths)}: need 8 (squeeze, expand1x1, expand3x3) "
                             "triples of positive channel counts")
        return [tuple(w) for w in cfg.widths]
    if cfg.freq < 1 or cfg.base_e < 1 or cfg.incr_e < 0 or not 0 < cfg.sr <= 1:
        raise InputError(f"metaparameters base_e={cfg.base_e}, incr_e={cfg.incr_e}, sr={cfg.sr}, freq={cfg.freq}: "
                         "need base_e >= 1, incr_e >= 0, 0 < sr <= 1 and freq >= 1")
    widths = []
    for i in range(8):
        e = cfg.base_e + cfg.incr_e * (i // cfg.freq)
        e3 = int(round(e * cfg.pct3x3))
        if e3 < 1 or e - e3 < 1:
            raise InputError(f"metaparameters base_e={cfg.base_e}, pct3x3={cfg.pct3x3} leave fire module {i + 2} "
                             f"with {e - e3} 1x1 and {e3} 3x3 expand filters; give a larger --base-e or a "
                             "--pct3x3 nearer 0.5")
        widths.append((max(1, int(round(cfg.sr * e))), e - e3, e3))
    return widths


def _conv(cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bn: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride=stride, padding=padding)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Fire(nn.Module):
    """Squeeze 1x1, then expand 1x1 and 3x3 concatenated; `point=True` keeps only the 3x3 centre tap."""

    def __init__(self, cin: int, s: int, e1: int, e3: int, bn: bool = False, bypass: bool = False,
                 point: bool = False) -> None:
        super().__init__()
        self.squeeze = _conv(cin, s, 1, bn=bn)
        self.expand1x1 = _conv(s, e1, 1, bn=bn)
        self.expand3x3 = _conv(s, e3, 1, bn=bn) if point else _conv(s, e3, 3, padding=1, bn=bn)
        self.bypass = bypass

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        out = torch.cat([self.expand1x1(s), self.expand3x3(s)], 1)
        return out + x if self.bypass else out


_POOL_AFTER = {"1.0": (2, 6), "1.1": (1, 3)}
_BYPASS_AT = (1, 3, 5, 7)


class SqueezeNet(nn.Module):
    """SqueezeNet (Iandola et al., 2016) with configurable classes, channels and metaparameters."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bn = cfg.batch_norm
        if cfg.version == "1.0":
            conv1, c = _conv(cfg.in_channels, 96, 7, stride=2, bn=bn), 96
        else:
            conv1, c = _conv(cfg.in_channels, 64, 3, stride=2, bn=bn), 64
        layers: list[nn.Module] = [conv1, nn.MaxPool2d(3, 2, ceil_mode=True)]
        for i, (s, e1, e3) in enumerate(fire_widths(cfg)):
            bypass = cfg.bypass and i in _BYPASS_AT and c == e1 + e3
            layers.append(Fire(c, s, e1, e3, bn=bn, bypass=bypass,
                               point=i in cfg.point_fires))
            c = e1 + e3
            if i in _POOL_AFTER[cfg.version]:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        final = nn.Conv2d(c, cfg.num_classes, 1)
        self.classifier = nn.Sequential(nn.Dropout(cfg.dropout), final, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d(1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def build(cfg: ArchConfig) -> SqueezeNet:
    """A fresh, randomly initialised SqueezeNet for `cfg`."""
    return SqueezeNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
