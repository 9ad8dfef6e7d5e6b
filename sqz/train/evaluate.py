"""The one evaluator: mean cross-entropy and accuracy over tensors or batches, summed across ranks."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

from sqz.train import distributed


def _tensor_batches(x: torch.Tensor, y: torch.Tensor, batch: int) -> Iterator[tuple]:
    for i in range(0, len(y), batch):
        yield x[i : i + batch], y[i : i + batch], []


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor | Iterable,
    y: torch.Tensor | None = None,
    batch: int = 512,
    ctx: distributed.Context | None = None,
    autocast: Callable = contextlib.nullcontext,
    channels_last: bool = False,
    confusion: torch.Tensor | None = None,
) -> tuple[float, float, list[str]]:
    """(mean cross-entropy, accuracy, unreadable images) of `model` on normalised images.

    Give tensors `x`, `y`, or as `x` an iterable of (images, labels, unreadable paths) batches; under
    torchrun each rank passes its share (with `ctx`) and the figures are over all ranks. NaN when empty.
    `confusion`, a (classes, classes) int64 tensor, has the [true, predicted] counts (over all ranks) added.
    """
    model.eval()
    device = ctx.device if ctx is not None else next(model.parameters()).device
    batches = _tensor_batches(x, y, batch) if y is not None else x
    loss, correct, n, bad = 0.0, 0, 0, []
    for xb, yb, skipped in batches:
        bad += skipped
        if not len(yb):
            continue
        xb, yb = distributed.to_device(xb, device, channels_last), yb.to(device)
        with autocast():
            logits = model(xb)
        loss += nn.functional.cross_entropy(logits.float(), yb, reduction="sum").item()
        pred = logits.argmax(1)
        correct += (pred == yb).sum().item()
        n += len(yb)
        if confusion is not None:
            k = confusion.shape[0]
            confusion += torch.bincount(yb.cpu() * k + pred.cpu(), minlength=k * k).view(k, k)
    if ctx is not None:
        loss, correct, n = distributed.all_sum(ctx, [loss, correct, n])
        if confusion is not None and ctx.world > 1:
            summed = distributed.all_sum(ctx, confusion.flatten().tolist())
            confusion.copy_(torch.tensor(summed, dtype=torch.int64).view_as(confusion))
    if not n:
        return float("nan"), float("nan"), bad
    return loss / n, correct / n, bad
