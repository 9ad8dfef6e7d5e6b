"""`sqz train`: a thin layer over sqz.train.loop.train."""

from __future__ import annotations

from pathlib import Path

import click

from sqz.cli.base import friendly, positive, writable


@click.command()
@click.option("--data", default="fashion-mnist", show_default=True,
              help="fashion-mnist, a .npz (x, y), IDX images file, or an image folder (one sub-folder per class)")
@click.option("--arch", default="1.1", show_default=True, help="1.0, 1.1, 1.0-bypass or 1.1-bypass")
@click.option("--epochs", default=40, show_default=True, type=positive())
@click.option("--batch-size", default=128, show_default=True, type=positive())
@click.option("--lr", default=2e-3, show_default=True, type=positive(float),
              help="one-cycle peak learning rate (AdamW)")
@click.option("--batch-norm/--no-batch-norm", default=True, show_default=True,
              help="BatchNorm while training; folded into the convolutions at export")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--limit", default=0, type=click.IntRange(min=0), help="use only this many training images (quick runs)")
@click.option("--threads", default=0, type=click.IntRange(min=0), help="torch CPU threads (0: torch's default)")
@click.option("--out", default="runs/default", show_default=True, type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="continue from OUT/last.pt")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="auto: CUDA when torch sees a GPU")
@click.option("--precision", default="auto", show_default=True,
              type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="autocast on CUDA (auto: bf16, else fp16 with loss scaling); CPU is always fp32")
@click.option("--workers", default=-1, type=click.IntRange(min=-1),
              help="image-folder decode workers per process (-1: automatic)")
@click.option("--tensorboard", is_flag=True, help="also log scalars to OUT/tensorboard (needs tensorboard)")
@click.option("--budget", default=None,
              help="train the design-space configuration (base_e, incr_e, pct3x3, SR, freq) with the most "
                   "parameters whose full-int8 export fits, e.g. 0.5MB; without it, warn when the export will not "
                   "fit 0.5MB")
@friendly
def train(data, arch, epochs, batch_size, lr, batch_norm, seed, limit, threads, out, resume, device, precision,
          workers, tensorboard, budget) -> None:
    """Train a SqueezeNet; writes OUT/last.pt and OUT/history.* each epoch, OUT/model.pt and OUT/metrics.json
    at the end. Under torchrun each process trains a shard (--batch-size is per process); rank 0 writes."""
    import os

    from sqz.export.fit import train_plan
    from sqz.gate.budget import parse_budget
    from sqz.train.loop import TrainConfig, train as run_training

    writable(out, "--out")
    if budget:
        parse_budget(budget)
    cfg = TrainConfig(data=data, arch=arch, out=str(out), epochs=epochs, batch_size=batch_size, lr=lr,
                      batch_norm=batch_norm, seed=seed, limit=limit, threads=threads, device=device,
                      precision=precision, workers=workers, tensorboard=tensorboard, budget=budget or "")
    main = os.environ.get("RANK", "0") == "0"
    plan = train_plan(arch, budget, log=lambda m: click.echo(m, err=True) if main else None)
    record = run_training(cfg, resume=resume, plan=plan)
    if os.environ.get("RANK", "0") == "0":
        click.echo(f"test accuracy {100 * record['test_acc']:.2f} % on {record['test_images']:,} images; "
                   f"checkpoint {out / 'model.pt'}")
