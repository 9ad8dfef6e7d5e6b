"""What a run trains with: the model (wrapped for DDP when sharded), AdamW, the one-cycle schedule, AMP."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sqz.errors import InputError
from sqz.train import distributed, pretrained, recipe, schedule
from sqz.train.arch import ArchConfig

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class Parts:
    """The live objects of one run; `net` is what checkpoints hold, `model` what the batches go through."""

    net: nn.Module
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.OneCycleLR
    scaler: torch.amp.GradScaler | None
    gen: torch.Generator
    loss_fn: nn.Module
    amp: torch.dtype | None
    autocast: Callable
    channels_last: bool
    steps: int
    fill: torch.Tensor
    heads: int = 0  # first epochs that train only the classifier (a pretrained start)


def precision(name: str, ctx: distributed.Context) -> torch.dtype | None:
    """The autocast dtype: bf16 (or fp16 where bf16 is unsupported) on CUDA; None (fp32) on CPU."""
    if name not in PRECISIONS:
        raise InputError(f"--precision {name}: use one of {', '.join(PRECISIONS)}")
    if ctx.device.type != "cuda":
        if name in ("bf16", "fp16"):
            raise InputError(f"--precision {name} is for CUDA; CPU training stays fp32 (use --precision auto or fp32)")
        return None
    if name == "fp32":
        return None
    if name == "bf16" or (name == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def build_parts(cfg, ctx: distributed.Context, src, log=None) -> Parts:
    """Model (from `cfg.init` when given), optimizer, schedule over `cfg.epochs` epochs, generator and loss for
    the source `src`; `log` takes the weight-mapping note."""
    amp = precision(cfg.precision, ctx)
    cuda = ctx.device.type == "cuda"
    pre = src.preprocess
    shape = {"stem_stride": cfg.stem_stride, "pools": tuple(cfg.pools), **cfg.metaparameters}
    if not cfg.metaparameters and cfg.stem_stride == 2 and not cfg.pools:
        shape.update(pretrained.shape_of(cfg.init))
    arch = ArchConfig.named(
        cfg.arch, num_classes=len(src.classes), in_channels=pre.channels, batch_norm=cfg.batch_norm, **shape
    )
    net = pretrained.start(arch, cfg.init, src.classes, cfg.freeze_features, log).to(ctx.device)
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    groups, peaks = recipe.param_groups(net, cfg.lr, cfg.init)
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = schedule.steps_per_epoch(src.n_train, cfg.batch_size, ctx.world)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=peaks, epochs=cfg.epochs, steps_per_epoch=steps, pct_start=schedule.warmup_share(cfg.epochs)
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    if ctx.world > 1:
        torch.manual_seed(cfg.seed + 7919 * (ctx.rank + 1))
        gen.manual_seed(cfg.seed + 104729 * (ctx.rank + 1))
    return Parts(
        net=net,
        model=net,
        opt=opt,
        sched=sched,
        scaler=torch.amp.GradScaler("cuda") if amp == torch.float16 else None,
        gen=gen,
        loss_fn=nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing),
        amp=amp,
        autocast=(lambda: torch.autocast("cuda", dtype=amp)) if amp else contextlib.nullcontext,
        channels_last=cuda,
        steps=steps,
        heads=recipe.head_epochs(cfg.init, cfg.freeze_features, cfg.epochs),
        fill=torch.tensor([-m / s for m, s in zip(pre.mean, pre.std)], dtype=torch.float32),
    )


def distribute(parts: Parts, ctx: distributed.Context) -> None:
    """Wrap the model in DistributedDataParallel under torchrun (after any restored weights are in place)."""
    if ctx.world > 1:
        cuda = ctx.device.type == "cuda"
        parts.model = DistributedDataParallel(parts.net, device_ids=[ctx.device.index] if cuda else None)
