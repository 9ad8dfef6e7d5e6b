"""The training loop: AdamW one-cycle, validation each epoch, atomic checkpoints, resume; one process or
many under torchrun (DistributedDataParallel, `--batch-size` per process, the learning rate as given)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from sqz.errors import InputError
from sqz.train import best as best_mod
from sqz.train import (
    calibsample,
    confusion,
    distributed,
    download,
    folder,
    history,
    pretrained,
    recipe,
    schedule,
    snapshot,
    stream,
)
from sqz.train import resume as resume_run
from sqz.train.arch import ArchConfig
from sqz.train.data import Dataset, load
from sqz.train.epoch import train_epoch
from sqz.train.evaluate import evaluate
from sqz.train.memory import MemorySource
from sqz.train.parts import build_parts, distribute, precision
from sqz.train.record import new_record, note_skipped
from sqz.train.snapshot import ARTIFACTS

__all__ = ["TrainConfig", "train", "ARTIFACTS"]


@dataclass
class TrainConfig:
    """One training run; every field is recorded in the checkpoint."""

    data: str = "fashion-mnist"
    arch: str = "1.1"
    out: str = "runs/default"
    epochs: int | str = "auto"
    batch_size: int | str = "auto"
    lr: float = schedule.PEAK_LR
    weight_decay: float | str = "auto"
    label_smoothing: float = 0.1
    batch_norm: bool | None = None
    crop_pad: int = 0
    flip: bool = False
    val_fraction: float = 1 / 12
    seed: int = 0
    threads: int = 0
    limit: int = 0
    metaparameters: dict = field(default_factory=dict)
    stem_stride: int = 2
    pools: tuple[int, ...] = ()
    budget: str = ""
    device: str = "auto"
    precision: str = "auto"
    workers: int = -1
    tensorboard: bool = False
    init: str = ""
    freeze_features: bool = False
    size: int = 0
    channels: int = 0
    resize: str = "crop"


def _source(cfg: TrainConfig, dataset: Dataset | None, ctx: distributed.Context):
    """In memory for a given Dataset, Fashion-MNIST, .npz and IDX; streamed from disk for an image folder."""
    if dataset is None and cfg.data != "fashion-mnist" and Path(cfg.data).is_dir():
        if cfg.workers < -1:
            raise InputError(f"--workers {cfg.workers}: give 0 (decode in the training process) or more")
        workers = cfg.workers if cfg.workers >= 0 else stream.default_workers(ctx.world)
        listed = folder.index(Path(cfg.data), cfg.seed, size=cfg.size, channels=cfg.channels, resize=cfg.resize)
        return stream.FolderSource(
            pretrained.adapt(listed, cfg.init),
            cfg.seed,
            cfg.val_fraction,
            cfg.limit,
            workers,
            flip=cfg.flip,
            pin_memory=ctx.device.type == "cuda",
        )
    if cfg.size or cfg.channels:
        raise InputError(f"--size and --channels apply to image folders; {cfg.data} holds images of a fixed size")
    data = pretrained.adapt(dataset or load(cfg.data, seed=cfg.seed), cfg.init)
    return MemorySource(data, cfg.seed, cfg.val_fraction, cfg.limit)


def _store_sample(out: Path, src, seed: int) -> None:
    """The run's calibration sample (OUT/calibration.npz), so that export needs no training data."""
    if src.streamed:
        x, y = calibsample.from_items(src.train, src.preprocess, seed=seed)
    else:
        x, y = calibsample.from_arrays(src.train_raw.x, src.train_raw.y, seed=seed)
    calibsample.write(out, x, y, src.preprocess)


def train(
    cfg: TrainConfig,
    resume: bool = False,
    dataset: Dataset | None = None,
    progress: bool = True,
    stop_after: int = 0,
    plan: Callable[[int, int, int], dict] | None = None,
) -> dict:
    """Train per `cfg`, writing `last.pt` and the history each epoch, `model.pt` + `metrics.json` at the end.

    Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set) every process trains its shard with
    DistributedDataParallel and only rank 0 writes files or prints. `stop_after` ends the run after
    that many epochs as an interruption would (tests use it). `plan(size, channels, classes)`, called once
    the data is known, may return `metaparameters` to train with and a `size_plan` to record
    (`sqz.fit.plan.train_plan`: training to a size budget).
    """
    if cfg.init == "imagenet":
        cfg = replace(cfg, init=str(download.imagenet(ArchConfig.named(cfg.arch).version)))
    cfg = replace(cfg, batch_norm=pretrained.resolve_batch_norm(cfg.batch_norm, cfg.init))
    cfg = replace(cfg, epochs=schedule.parse(cfg.epochs), batch_size=schedule.parse(cfg.batch_size, "--batch-size"))
    cfg = replace(cfg, weight_decay=schedule.parse_decay(cfg.weight_decay))
    if cfg.lr <= 0:
        raise InputError("the learning rate must be positive")
    if cfg.batch_norm and cfg.batch_size == 1:
        raise InputError("--batch-size 1 cannot train batch norm; give 2 or more, or --no-batch-norm")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a directory")
    threads = torch.get_num_threads()
    ctx = distributed.start(cfg.device)
    try:
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        return _train(cfg, ctx, resume, dataset, progress and ctx.main, stop_after, plan)
    finally:
        distributed.stop(ctx)
        torch.set_num_threads(threads)


def _train(
    cfg: TrainConfig,
    ctx: distributed.Context,
    resume: bool,
    dataset: Dataset | None,
    progress: bool,
    stop_after: int,
    plan: Callable[[int, int, int], dict] | None = None,
) -> dict:
    out = Path(cfg.out)
    precision(cfg.precision, ctx)
    torch.manual_seed(cfg.seed)
    src = _source(cfg, dataset, ctx)
    planned = plan(src.preprocess.size, src.preprocess.channels, len(src.classes)) if plan else {}
    if planned.get("metaparameters"):
        cfg = replace(cfg, metaparameters={**cfg.metaparameters, **planned["metaparameters"]})
    if planned.get("placement"):
        cfg = replace(cfg, **planned["placement"])
    payload = resume_run.load(out, asdict(cfg), ctx.world) if resume else None
    epochs, batch, chosen = schedule.resolve(cfg.epochs, cfg.batch_size, src.n_train, ctx.world)
    if payload:
        resume_run.check_epochs(out, payload, epochs)
    decay, decay_chosen = schedule.resolve_decay(cfg.weight_decay, src.preprocess.channels)
    run = replace(cfg, epochs=epochs, batch_size=batch, weight_decay=decay)
    p = build_parts(run, ctx, src, tqdm.write if progress and ctx.main else None)
    start_epoch, rows, skipped = 0, [], set()
    if payload:
        start_epoch, rows, skipped = resume_run.restore(payload, p.net, p.opt, p.sched, p.scaler, p.gen, ctx)
    best = best_mod.Best.from_dict(payload["resume"].get("best") if payload else None)
    if ctx.main and progress and src.streamed:
        tqdm.write(folder.describe(src.folder))
    if ctx.main and progress:
        tqdm.write(chosen)
        tqdm.write(decay_chosen)
    if ctx.main and progress and p.heads:
        tqdm.write(
            f"fine-tuning: the classifier alone for {p.heads} epoch(s), then the whole net with the pretrained "
            f"features at {recipe.FEATURES_LR_SCALE:g} x the learning rate"
        )
    if ctx.main:
        snapshot.clean_stale(out, ARTIFACTS + (folder.SPLIT_FILE, calibsample.SAMPLE_FILE))
        if src.streamed:
            folder.write_split(out, src.folder, {"train": src.train, "val": src.val, "test": src.test})
        _store_sample(out, src, cfg.seed)
    distribute(p, ctx)
    record = new_record(run, src, ctx, p.amp, rows, skipped)
    record["config"].update(epochs=cfg.epochs, batch_size=cfg.batch_size, weight_decay=cfg.weight_decay)  # as asked
    record.update(epochs=epochs, batch_size=batch, steps_per_epoch=p.steps, optimizer_steps=epochs * p.steps)
    record["weight_decay"] = decay
    if cfg.init:
        record["fine_tune"] = {
            "classifier_epochs": p.heads,
            "features_lr_scale": recipe.FEATURES_LR_SCALE,
            "frozen_features": cfg.freeze_features,
        }
    if "size_plan" in planned:
        record["size_plan"] = planned["size_plan"]
    board = history.Board(out) if cfg.tensorboard and ctx.main else None
    try:
        for epoch in range(start_epoch, epochs):
            row, bad = train_epoch(p, src, run, ctx, epoch, progress)
            if src.n_val:
                row["val_loss"], row["val_acc"], val_bad = evaluate(
                    p.net, src.eval_batches("val", ctx), ctx=ctx, autocast=p.autocast, channels_last=p.channels_last
                )
                bad += val_bad
            if src.streamed:
                note_skipped(record, skipped, src, ctx, bad, f"epoch {epoch + 1}")
                row["skipped_images"] = record["skipped_images"]
            rows.append(row)
            best_mod.update(best, row, p.net)
            if progress:
                tqdm.write(
                    f"epoch {epoch + 1}/{epochs}  loss {row['train_loss']:.4f}  "
                    f"acc {row['train_acc']:.4f}  val {row.get('val_acc', float('nan')):.4f}  "
                    f"{row['images_per_s']:.0f} img/s"
                )
            snapshot.save_epoch(out, p, src, record, rows, epoch + 1, skipped, ctx, board, best)
            if stop_after and epoch + 1 >= stop_after:
                return record
        best_mod.restore(best, p.net, record, epochs)
        if progress and best.state_dict is not None:
            tqdm.write(f"kept epoch {best.epoch} (best validation accuracy {best.val_acc:.4f})")
        counts = torch.zeros(len(src.classes), len(src.classes), dtype=torch.int64)
        record["test_loss"], record["test_acc"], test_bad = evaluate(
            p.net,
            src.eval_batches("test", ctx),
            ctx=ctx,
            autocast=p.autocast,
            channels_last=p.channels_last,
            confusion=counts,
        )
        record["test_confusion"] = confusion.summary(counts.numpy(), src.classes)
        if src.streamed:
            note_skipped(record, skipped, src, ctx, test_bad, "test set")
        record["parameters"] = sum(t.numel() for t in p.net.parameters())
        snapshot.save_final(out, p, src, record, ctx)
        return record
    finally:
        if board:
            board.close()
