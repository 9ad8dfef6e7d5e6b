"""Quantisation-aware fine-tuning of 4-bit conv weights: per-output-channel symmetric fake-quant (scale
max|w|/7) with a straight-through estimator, and the per-layer sensitivity that picks layers for `mixed`."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from sqz.train.finetune import finetune

QMAX = 7
MIXED_SHARE = 0.9  # `mixed`: the cheapest layers (output error per byte saved) holding this share of the weights


def fake_quant4(w: torch.Tensor) -> torch.Tensor:
    """`w` rounded to 15 levels per output channel; gradients pass straight through."""
    scale = w.detach().abs().amax(dim=tuple(range(1, w.dim())), keepdim=True).clamp_min(1e-12) / QMAX
    q = torch.clamp(torch.round(w / scale), -QMAX, QMAX) * scale
    return w + (q - w).detach()


class FakeQuant4(nn.Module):
    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quant4(w)


def convs(model: nn.Module) -> dict[str, nn.Conv2d]:
    """Every Conv2d of `model` by its module name, in definition order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def attach(model: nn.Module, names) -> None:
    """Fake-quantise the weights of the convs called `names` in every forward pass."""
    layers = convs(model)
    for n in names:
        parametrize.register_parametrization(layers[n], "weight", FakeQuant4())


def bake(model: nn.Module) -> None:
    """Remove the fake-quant, leaving the weights on their 4-bit grids."""
    for m in convs(model).values():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)


@torch.no_grad()
def sensitivity(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Relative logit error ‖z₄ − z‖² / ‖z‖² on `x` when only that conv has 4-bit weights, per conv."""
    model.eval()
    ref = model(x)
    out = {}
    for name, m in convs(model).items():
        keep = m.weight.data.clone()
        m.weight.data = fake_quant4(keep)
        out[name] = float(((model(x) - ref) ** 2).sum() / (ref**2).sum().clamp_min(1e-12))
        m.weight.data = keep
    return out


def choose_mixed(model: nn.Module, sens: dict[str, float], share: float = MIXED_SHARE) -> list[str]:
    """The convs with the least output error per weight that together hold `share` of all conv weights."""
    sizes = {n: m.weight.numel() for n, m in convs(model).items()}
    total, taken, chosen = sum(sizes.values()), 0, []
    for n in sorted(sizes, key=lambda n: sens[n] / sizes[n]):
        if taken >= share * total:
            break
        chosen.append(n)
        taken += sizes[n]
    return [n for n in sizes if n in chosen]


def qat4(
    model: nn.Module,
    names,
    x: torch.Tensor,
    y: torch.Tensor,
    fill: torch.Tensor,
    epochs: int = 1,
    lr: float = 1e-4,
    seed: int = 0,
    progress: bool = False,
    flip: bool = False,
) -> nn.Module:
    """Fine-tune `model` with 4-bit fake-quant on the convs `names` (mirroring images only when `flip`, as its
    training did); returns it with those weights on the grid."""
    attach(model, names)
    if epochs > 0:
        finetune(model, x, y, fill, epochs, lr=lr, seed=seed, progress=progress, desc="qat int4", flip=flip)
    bake(model)
    return model.eval()
