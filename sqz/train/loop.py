"""The training loop: AdamW one-cycle, validation each epoch, atomic checkpoints, resume; one process or
many under torchrun (DistributedDataParallel, `--batch-size` per process, the learning rate as given)."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from sqz import __version__
from sqz.errors import InputError
from sqz.files import atomic_write
from sqz.train import checkpoint, distributed, history, pretrained, stream
from sqz.train.augment import random_crop, random_flip
from sqz.train.data import Dataset, load
from sqz.train.memory import MemorySource, to_tensor
from sqz.train.model import ArchConfig

__all__ = ["TrainConfig", "train", "evaluate", "to_tensor"]
ARTIFACTS = ("last.pt", "model.pt", "metrics.json", "history.csv", "history.json", "curves.png")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """One training run; every field is recorded in the checkpoint."""

    data: str = "fashion-mnist"
    arch: str = "1.1"
    out: str = "runs/default"
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    batch_norm: bool | None = None
    crop_pad: int = 2
    flip: bool = True
    val_fraction: float = 1 / 12
    seed: int = 0
    threads: int = 0
    limit: int = 0
    metaparameters: dict = field(default_factory=dict)
    device: str = "auto"
    precision: str = "auto"
    workers: int = -1
    tensorboard: bool = False
    init: str = ""
    freeze_features: bool = False
    size: int = 0
    channels: int = 0
    resize: str = "crop"


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on normalised images."""
    model.eval()
    device = next(model.parameters()).device
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch):
        xb, yb = x[i:i + batch].to(device), y[i:i + batch].to(device)
        logits = model(xb)
        loss += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return loss / len(y), correct / len(y)


@torch.no_grad()
def _evaluate_shards(net: nn.Module, batches: Iterator, ctx: distributed.Context, autocast,
                     channels_last: bool) -> tuple[float, float, list[str]]:
    """Like `evaluate`, over each rank's share, summed across ranks; also the unreadable images met."""
    net.eval()
    loss, correct, n, bad = 0.0, 0, 0, []
    for x, y, skipped in batches:
        bad += skipped
        if not len(y):
            continue
        x, y = _on(x, ctx, channels_last), y.to(ctx.device)
        with autocast():
            logits = net(x)
        loss += nn.functional.cross_entropy(logits.float(), y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    loss, correct, n = distributed.all_sum(ctx, [loss, correct, n])
    if not n:
        return float("nan"), float("nan"), bad
    return loss / n, correct / n, bad


def _on(x: torch.Tensor, ctx: distributed.Context, channels_last: bool) -> torch.Tensor:
    x = x.to(ctx.device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _precision(cfg: TrainConfig, ctx: distributed.Context) -> torch.dtype | None:
    """The autocast dtype: bf16 (or fp16 where bf16 is unsupported) on CUDA; None (fp32) on CPU."""
    if cfg.precision not in PRECISIONS:
        raise InputError(f"--precision {cfg.precision}: use one of {', '.join(PRECISIONS)}")
    if ctx.device.type != "cuda":
        if cfg.precision in ("bf16", "fp16"):
            raise InputError(f"--precision {cfg.precision} is for CUDA; CPU training stays fp32 "
                             "(use --precision auto or fp32)")
        return None
    if cfg.precision == "fp32":
        return None
    if cfg.precision == "bf16" or (cfg.precision == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def _rng_state(gen: torch.Generator, ctx: distributed.Context) -> dict:
    state = {"torch": torch.get_rng_state(), "gen": gen.get_state()}
    if ctx.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(ctx.device)
    return state


def _set_rng_state(state: dict, gen: torch.Generator, ctx: distributed.Context) -> None:
    torch.set_rng_state(state["torch"])
    gen.set_state(state["gen"])
    if "cuda" in state and ctx.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], ctx.device)


def _source(cfg: TrainConfig, dataset: Dataset | None, ctx: distributed.Context):
    """In memory for a given Dataset, Fashion-MNIST, .npz and IDX; streamed from disk for an image folder."""
    if dataset is None and cfg.data != "fashion-mnist" and Path(cfg.data).is_dir():
        if cfg.workers < -1:
            raise InputError(f"--workers {cfg.workers}: give 0 (decode in the training process) or more")
        workers = cfg.workers if cfg.workers >= 0 else stream.default_workers(ctx.world)
        folder = stream.index(Path(cfg.data), cfg.seed, size=cfg.size, channels=cfg.channels, resize=cfg.resize)
        folder = pretrained.adapt(folder, cfg.init)
        return stream.FolderSource(folder, cfg.seed, cfg.val_fraction,
                                   cfg.limit, workers, flip=cfg.flip, pin_memory=ctx.device.type == "cuda")
    if cfg.size or cfg.channels:
        raise InputError(f"--size and --channels apply to image folders; {cfg.data} holds images of a fixed size")
    data = pretrained.adapt(dataset or load(cfg.data, seed=cfg.seed), cfg.init)
    return MemorySource(data, cfg.seed, cfg.val_fraction, cfg.limit)


def train(cfg: TrainConfig, resume: bool = False, dataset: Dataset | None = None,
          progress: bool = True, stop_after: int = 0) -> dict:
    """Train per `cfg`, writing `last.pt` and the history each epoch, `model.pt` + `metrics.json` at the end.

    Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set) every process trains its shard with
    DistributedDataParallel and only rank 0 writes files or prints. `stop_after` ends the run after
    that many epochs as an interruption would (tests use it).
    """
    cfg = replace(cfg, batch_norm=pretrained.resolve_batch_norm(cfg.batch_norm, cfg.init))
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0:
        raise InputError("epochs and batch size must be at least 1 and the learning rate positive")
    if cfg.batch_norm and cfg.batch_size < 2:
        raise InputError("--batch-size 1 cannot train batch norm; give 2 or more, or --no-batch-norm")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a directory")
    threads = torch.get_num_threads()
    ctx = distributed.start(cfg.device)
    try:
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        return _train(cfg, ctx, resume, dataset, progress and ctx.main, stop_after)
    finally:
        distributed.stop(ctx)
        torch.set_num_threads(threads)


def _train(cfg: TrainConfig, ctx: distributed.Context, resume: bool, dataset: Dataset | None,
           progress: bool, stop_after: int) -> dict:
    out = Path(cfg.out)
    amp = _precision(cfg, ctx)
    cuda = ctx.device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=amp)) if amp else contextlib.nullcontext
    torch.manual_seed(cfg.seed)
    src = _source(cfg, dataset, ctx)
    pre = src.preprocess
    fill = torch.tensor([-m / s for m, s in zip(pre.mean, pre.std)], dtype=torch.float32)

    arch = ArchConfig.named(cfg.arch, num_classes=len(src.classes), in_channels=pre.channels,
                            batch_norm=cfg.batch_norm, **cfg.metaparameters)
    net = pretrained.start(arch, cfg.init, src.classes, cfg.freeze_features,
                           tqdm.write if progress else None).to(ctx.device)
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = src.steps(ctx, cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    if ctx.world > 1:
        torch.manual_seed(cfg.seed + 7919 * (ctx.rank + 1))
        gen.manual_seed(cfg.seed + 104729 * (ctx.rank + 1))
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    rows: list[dict] = []
    start_epoch = 0
    last = out / "last.pt"
    skipped: set[str] = set()
    if resume:
        if not last.exists():
            raise InputError(f"--resume: no {last} to resume from; start without --resume")
        _, payload = checkpoint.load(last)
        state = payload.get("resume")
        if not state:
            raise InputError(f"{last} holds no resume state")
        if int(state.get("world_size", 1)) != ctx.world:
            raise InputError(f"{last} was written by {state.get('world_size', 1)} process(es) and this run has "
                             f"{ctx.world}; resume with the same torchrun --nnodes x --nproc_per_node")
        net.load_state_dict(payload["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng_ranks"][ctx.rank] if ctx.world > 1 else state["rng"], gen, ctx)
        start_epoch, rows = int(state["epoch"]), list(payload["record"]["history"])
        skipped = set(state.get("skipped", []))
    if ctx.main:
        for name in ARTIFACTS:
            for stale in out.glob(f".{name}.*.tmp"):
                stale.unlink(missing_ok=True)
    model = net
    if ctx.world > 1:
        model = DistributedDataParallel(net, device_ids=[ctx.device.index] if cuda else None)
    board = history.Board(out) if cfg.tensorboard and ctx.main else None

    record = {"config": asdict(cfg), "dataset": src.name, "classes": list(src.classes),
              "train_images": src.n_train, "val_images": src.n_val, "test_images": src.n_test,
              "skipped_images": src.skipped + len(skipped), "sqz_version": __version__,
              "torch_version": str(torch.__version__), "threads": torch.get_num_threads(),
              "world_size": ctx.world, "effective_batch_size": cfg.batch_size * ctx.world,
              "device": ctx.device.type, "precision": str(amp).replace("torch.", "") if amp else "fp32",
              "data_path": "streamed" if src.streamed else "memory", "augment": src.augment,
              "history": rows}

    def note_skipped(paths: list[str], where: str) -> None:
        new = sorted({p for part in distributed.gather(ctx, paths) for p in part} - skipped)
        skipped.update(new)
        record["skipped_images"] = src.skipped + len(skipped)
        if ctx.main:
            stream.warn_skipped(new, where)

    try:
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            t0 = time.perf_counter()
            seen, loss_sum, correct, bad = 0, 0.0, 0, []
            bar = tqdm(src.train_batches(epoch, ctx, gen, cfg.batch_size), total=steps,
                       desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False, unit="batch")
            for xb, yb, unreadable in bar:
                # Batch norm cannot train on one image; a rank with fewer (all unreadable, or a trailing
                # single image) takes a zero-weight step on blank images so DDP's all-reduce stays in step.
                bad += unreadable
                live = len(yb) >= (2 if cfg.batch_norm else 1)
                if not live and ctx.world == 1:
                    sched.step()
                    continue
                if not live:
                    xb, yb = torch.zeros(2, *xb.shape[1:]), torch.zeros(2, dtype=torch.int64)
                if src.augment == "pad-crop":
                    xb = random_crop(xb, cfg.crop_pad, fill, gen)
                    if cfg.flip:
                        xb = random_flip(xb, gen)
                xb, yb = _on(xb, ctx, cuda), yb.to(ctx.device, non_blocking=True)
                with autocast():
                    logits = model(xb)
                    loss = loss_fn(logits, yb)
                if not live:
                    loss = loss * 0.0
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                sched.step()
                if live:
                    seen += len(yb)
                    loss_sum += loss.item() * len(yb)
                    correct += (logits.argmax(1) == yb).sum().item()
                if progress and seen:
                    bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}",
                                    img_s=f"{seen * ctx.world / (time.perf_counter() - t0):.0f}")
            seen, loss_sum, correct = distributed.all_sum(ctx, [seen, loss_sum, correct])
            if not seen:
                raise InputError(f"{cfg.data}: no readable training image in epoch {epoch + 1}")
            row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                   "seconds": time.perf_counter() - t0, "images_per_s": seen / (time.perf_counter() - t0),
                   "lr": sched.get_last_lr()[0]}
            if src.n_val:
                row["val_loss"], row["val_acc"], val_bad = _evaluate_shards(
                    net, src.eval_batches("val", ctx), ctx, autocast, cuda)
                bad += val_bad
            if src.streamed:
                note_skipped(bad, f"epoch {epoch + 1}")
                row["skipped_images"] = record["skipped_images"]
            rows.append(row)
            if progress:
                tqdm.write(f"epoch {epoch + 1}/{cfg.epochs}  loss {row['train_loss']:.4f}  "
                           f"acc {row['train_acc']:.4f}  val {row.get('val_acc', float('nan')):.4f}  "
                           f"{row['images_per_s']:.0f} img/s")
            resume_state = {"epoch": epoch + 1, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                            "rng": _rng_state(gen, ctx), "world_size": ctx.world,
                            "scaler": scaler.state_dict() if scaler is not None else None,
                            "skipped": sorted(skipped)}
            if ctx.world > 1:
                resume_state["rng_ranks"] = distributed.gather(ctx, _rng_state(gen, ctx))
            if ctx.main:
                checkpoint.save(last, net, pre, src.classes, record, resume_state)
                history.write(out, rows)
                if board:
                    board.log(row)
            if stop_after and epoch + 1 >= stop_after:
                return record

        record["test_loss"], record["test_acc"], test_bad = _evaluate_shards(
            net, src.eval_batches("test", ctx), ctx, autocast, cuda)
        if src.streamed:
            note_skipped(test_bad, "test set")
        record["parameters"] = sum(p.numel() for p in net.parameters())
        if ctx.main:
            checkpoint.save(out / "model.pt", net, pre, src.classes, record)
            atomic_write(out / "metrics.json",
                                    lambda tmp: tmp.write_text(json.dumps(record, indent=2, default=float)))
        return record
    finally:
        if board:
            board.close()
