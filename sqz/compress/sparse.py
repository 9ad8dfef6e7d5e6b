"""Compress a checkpoint: fold BatchNorm, drop dead taps, prune and/or share weights, fine-tune, save."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import torch

from sqz.compress.prune import GradualPruner, sparsity_of
from sqz.compress.share import WeightSharer, distinct_values
from sqz.errors import DatasetError
from sqz.runtime.preprocess import Preprocess
from sqz.train import carry, checkpoint, rundata
from sqz.train.data import load as load_data
from sqz.train.data import validation_split
from sqz.train.evaluate import evaluate
from sqz.train.finetune import finetune
from sqz.train.memory import Images, as_images
from sqz.train.surgery import fold_batchnorm, remove_dead_taps


class FinetuneData(NamedTuple):
    """The checkpoint's preprocessing, its (limited) training split, validation and test images (normalised as
    they are read), and whether its training mirrored images (runs before `--flip` existed did)."""

    pre: Preprocess
    x: Images
    y: torch.Tensor
    x_val: Images
    y_val: torch.Tensor
    x_test: Images
    y_test: torch.Tensor
    fill: torch.Tensor
    flip: bool = True


def finetune_data(payload: dict, run_dir: Path, data: str | None = None, limit: int = 0, seed: int = 0) -> FinetuneData:
    """The data of the run whose checkpoint lies in `run_dir`, as training saw it (its split and seed), found as
    `rundata.training_data` finds it; `limit` random training images when given."""
    pre = Preprocess.from_dict(payload["preprocess"])
    cfg = rundata.config(payload)
    spec, path = rundata.training_data(payload, run_dir, data)
    if path is None:
        raise DatasetError(
            f"sqz compress fine-tunes on the training data, and {spec} is gone (not there, nor in {run_dir}); "
            "give --data where it moved"
        )
    ds = load_data(path, seed=cfg.get("seed", 0), preprocess=pre)
    train_split, val_split = validation_split(ds.train, cfg.get("val_fraction", 1 / 12), cfg.get("seed", 0))
    if limit:
        train_split = train_split.take(
            torch.randperm(len(train_split), generator=torch.Generator().manual_seed(seed))[:limit].numpy()
        )
    fill = torch.tensor([-m / s for m, s in zip(pre.mean, pre.std)])
    return FinetuneData(
        pre,
        *as_images(train_split, pre),
        *as_images(val_split, pre),
        *as_images(ds.test, pre),
        fill,
        rundata.mirrored(payload),
    )


def compress(
    ckpt: Path,
    out: Path,
    sparsity: float = 0.0,
    share_bits: int = 0,
    epochs: int = 2,
    data: str | None = None,
    limit: int = 0,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Write a plain (BatchNorm-folded) checkpoint to `out` with the passes applied, the run's calibration sample
    and split record beside it (`sqz.train.carry`); returns its record."""
    trained, payload = checkpoint.load(ckpt)
    carried = carry.plan(ckpt, out)
    d = finetune_data(payload, Path(ckpt).parent, data, limit, seed)
    pre, x, y, x_te, y_te, fill = d.pre, d.x, d.y, d.x_test, d.y_test, d.fill
    torch.manual_seed(seed)
    model, dead = remove_dead_taps(fold_batchnorm(trained), pre.size)
    record = {
        "source": str(ckpt),
        "dead_tap_fires": [i + 2 for i in dead],
        "sparsity_target": sparsity,
        "share_bits": share_bits,
        "epochs": epochs,
        "test_acc_before": evaluate(model, x_te, y_te)[1],
    }
    t0 = time.perf_counter()
    if sparsity > 0:
        pruner = GradualPruner(model, sparsity)
        finetune(model, x, y, fill, epochs, seed=seed, after_step=pruner, progress=progress, desc="prune", flip=d.flip)
        record["test_acc_pruned"] = evaluate(model, x_te, y_te)[1]
    if share_bits:
        sharer = WeightSharer(model, share_bits)
        finetune(
            model,
            x,
            y,
            fill,
            max(1, epochs // 2),
            lr=1e-4,
            seed=seed + 1,
            after_step=sharer,
            progress=progress,
            desc="share",
            flip=d.flip,
        )
        record["distinct_values_max"] = max(distinct_values(model))
    record.update(
        sparsity=sparsity_of(model), test_acc=evaluate(model, x_te, y_te)[1], seconds=round(time.perf_counter() - t0, 1)
    )
    full = {**payload.get("record", {}), "compression": record}
    checkpoint.save(out, model, pre, tuple(payload["classes"]), full)
    record["carried"] = carry.copy(carried)
    return record
