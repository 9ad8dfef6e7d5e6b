"""`sqz train`: a thin layer over sqz.train.loop.train."""

from __future__ import annotations

from pathlib import Path

import click

from sqz.cli.base import POOLS_HELP, STEM_HELP, Pools, friendly, positive, writable
from sqz.train.schedule import (
    BATCH_MAX,
    BATCH_MIN,
    BATCH_SHARE,
    DECAY_GREY,
    DECAY_RGB,
    MAX_EPOCHS,
    MIN_EPOCHS,
    PEAK_LR,
    TARGET_STEPS,
    parse,
    parse_decay,
)


class _Auto(click.ParamType):
    """`auto` or a value `parse` accepts; its refusal is the option's error."""

    def __init__(self, name: str, parse) -> None:
        self.name, self.parse = name, parse

    def convert(self, value, param, ctx):
        from sqz.errors import InputError

        try:
            return self.parse(value)
        except InputError as exc:
            self.fail(str(exc).split(": ", 1)[-1], param, ctx)


EPOCHS = BATCH = _Auto("auto|N", parse)
DECAY = _Auto("auto|X", parse_decay)


@click.command()
@click.option(
    "--data",
    default="fashion-mnist",
    show_default=True,
    help="fashion-mnist, a .npz (x, y), IDX images file, or an image folder (one sub-folder per class)",
)
@click.option(
    "--arch",
    default="1.1",
    show_default=True,
    help="1.0 or 1.1, optionally with -bypass (identity skips) or -complex (and 1x1 conv skips)",
)
@click.option(
    "--epochs",
    default="auto",
    show_default=True,
    type=EPOCHS,
    help=f"a number, or auto: enough epochs for {TARGET_STEPS:,} optimiser steps (at least {MIN_EPOCHS}, "
    f"at most {MAX_EPOCHS}; printed at the start and recorded)",
)
@click.option(
    "--batch-size",
    default="auto",
    show_default=True,
    type=BATCH,
    help=f"per process; auto: the largest power of two up to 1/{BATCH_SHARE} of the training images, "
    f"{BATCH_MIN} to {BATCH_MAX}",
)
@click.option(
    "--lr", default=PEAK_LR, show_default=True, type=positive(float), help="one-cycle peak learning rate (AdamW)"
)
@click.option(
    "--weight-decay",
    default="auto",
    show_default=True,
    type=DECAY,
    help="AdamW's decoupled weight decay (each step shrinks the weights by learning rate × this); auto: "
    f"{DECAY_RGB:g} for RGB input, {DECAY_GREY:g} for grey (printed at the start and recorded)",
)
@click.option(
    "--batch-norm/--no-batch-norm",
    default=None,
    help="BatchNorm while training, folded into the convolutions at export [default: on; off from "
    "torchvision weights, as in the file from an sqz checkpoint]",
)
@click.option(
    "--init",
    "init",
    default=None,
    type=click.Path(path_type=Path),
    help="start from weights: `imagenet` (torchvision's published SqueezeNet weights for --arch, "
    "downloaded once, checked and cached), a torchvision squeezenet1_0/1_1 .pth, or an sqz model.pt; "
    "torchvision's switch to ImageNet mean/std and 3 channels",
)
@click.option("--freeze-features", is_flag=True, help="with --init: train only the classifier (linear probe)")
@click.option(
    "--base-e", type=click.IntRange(1, 4096), default=None, help="expand filters of the first fire module [paper: 128]"
)
@click.option(
    "--incr-e",
    type=click.IntRange(0, 4096),
    default=None,
    help="expand filters added every --freq fire modules [paper: 128]",
)
@click.option(
    "--pct3x3",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="share of 3x3 expand filters [paper: 0.5]",
)
@click.option(
    "--sr",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="squeeze ratio: squeeze filters / expand filters [paper: 0.125]",
)
@click.option(
    "--freq",
    type=click.IntRange(1, 8),
    default=None,
    help="fire modules between increments of the expand filters [paper: 2]",
)
@click.option("--stem-stride", type=click.IntRange(1, 2), default=None, help=STEM_HELP)
@click.option("--pools", type=Pools(), default=None, help=POOLS_HELP)
@click.option(
    "--flip/--no-flip",
    default=False,
    show_default=True,
    help="mirror training images left-right at random; only where a mirrored image keeps its class "
    "(photos of objects, animals, clothes), never for digits, letters, arrows or signs",
)
@click.option(
    "--size",
    type=click.IntRange(24, 1024),
    default=None,
    help="image folders: input side in pixels [default: the first image's longest side, at most 224]",
)
@click.option(
    "--channels",
    type=click.Choice(["1", "3"]),
    default=None,
    help="image folders: 1 (grey) or 3 (RGB) [default: as the first image]",
)
@click.option(
    "--resize",
    type=click.Choice(["crop", "squash", "pad"]),
    default="crop",
    show_default=True,
    help="image folders: crop = shorter side to --size then centre crop; squash = stretch; pad = letterbox on black",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--limit", default=0, type=click.IntRange(min=0), help="use only this many training images (quick runs)")
@click.option("--threads", default=0, type=click.IntRange(min=0), help="torch CPU threads (0: torch's default)")
@click.option("--out", default="runs/default", show_default=True, type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="continue from OUT/last.pt")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "cpu", "cuda"]),
    help="auto: CUDA when torch sees a GPU",
)
@click.option(
    "--precision",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    help="autocast on CUDA (auto: bf16, else fp16 with loss scaling); CPU is always fp32",
)
@click.option(
    "--workers", default=-1, type=click.IntRange(min=-1), help="image-folder decode workers per process (-1: automatic)"
)
@click.option("--tensorboard", is_flag=True, help="also log scalars to OUT/tensorboard (needs tensorboard)")
@click.option(
    "--budget",
    default=None,
    help="train the design-space configuration (base_e, incr_e, pct3x3, SR, freq and, at small inputs "
    "where no --pools/--stem-stride is given, the down-sampling placement) with the most parameters "
    "whose full-int8 export fits, e.g. 0.5MB; `none`: the published network [default: 0.5MB when no "
    "architecture option and no --init is given, else none (with a warning when the export will "
    "not fit 0.5MB)]",
)
@friendly
def train(
    data,
    arch,
    epochs,
    batch_size,
    lr,
    weight_decay,
    batch_norm,
    init,
    freeze_features,
    base_e,
    incr_e,
    pct3x3,
    sr,
    freq,
    stem_stride,
    pools,
    flip,
    size,
    channels,
    resize,
    seed,
    limit,
    threads,
    out,
    resume,
    device,
    precision,
    workers,
    tensorboard,
    budget,
) -> None:
    """Train a SqueezeNet; writes OUT/last.pt and OUT/history.* each epoch, OUT/model.pt and OUT/metrics.json
    at the end. Under torchrun each process trains a shard (--batch-size is per process); rank 0 writes."""
    import os

    from sqz.errors import InputError
    from sqz.fit.plan import default_budget, train_plan
    from sqz.train import confusion
    from sqz.train.arch import ArchConfig, metaparameters
    from sqz.train.loop import TrainConfig
    from sqz.train.loop import train as run_training

    writable(out, "--out")
    try:
        arch_cfg = ArchConfig.named(arch, stem_stride=stem_stride or 2, pools=pools or ())
    except ValueError as exc:
        raise InputError(f"--arch {arch}: {exc}") from None
    placement = (
        None
        if stem_stride is None and pools is None
        else {"stem_stride": arch_cfg.stem_stride, "pools": arch_cfg.pools}
    )
    meta = metaparameters(base_e=base_e, incr_e=incr_e, pct3x3=pct3x3, sr=sr, freq=freq)
    budget, why = default_budget(budget, bool(meta) or placement is not None, str(init or ""))
    cfg = TrainConfig(
        data=data,
        arch=arch,
        out=str(out),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        batch_norm=batch_norm,
        seed=seed,
        limit=limit,
        threads=threads,
        device=device,
        precision=precision,
        workers=workers,
        tensorboard=tensorboard,
        budget=budget or "",
        init=str(init) if init else "",
        freeze_features=freeze_features,
        size=size or 0,
        channels=int(channels or 0),
        resize=resize,
        metaparameters=meta,
        flip=flip,
        stem_stride=arch_cfg.stem_stride,
        pools=arch_cfg.pools,
    )
    main = os.environ.get("RANK", "0") == "0"
    plan = train_plan(
        arch, budget, meta, log=lambda m: click.echo(m, err=True) if main else None, placement=placement, why=why
    )
    record = run_training(cfg, resume=resume, plan=plan)
    if main:
        click.echo(
            f"test accuracy {100 * record['test_acc']:.2f} % on {record['test_images']:,} images "
            f"(epoch {record['kept_epoch']}, {record['kept']}); checkpoint {out / 'model.pt'}"
        )
        click.echo(
            confusion.weakest(record["test_confusion"]) + f"; per class in {out / 'metrics.json'}, "
            f"{out / 'confusion.png'}"
        )
