"""The training loop: AdamW one-cycle, validation each epoch, atomic checkpoints, resume."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sqz import __version__
from sqz.errors import InputError
from sqz.runtime.preprocess import normalize
from sqz.train import checkpoint
from sqz.train.augment import random_crop, random_flip
from sqz.train.data import Dataset, Split, load, validation_split
from sqz.train.model import ArchConfig, build


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
    batch_norm: bool = True
    crop_pad: int = 2
    flip: bool = True
    val_fraction: float = 1 / 12
    seed: int = 0
    threads: int = 0
    limit: int = 0
    metaparameters: dict = field(default_factory=dict)


def to_tensor(split: Split, pre) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised float NCHW images and int64 labels, in chunks to bound memory."""
    chunks = [torch.from_numpy(normalize(split.x[i:i + 4096], pre)) for i in range(0, len(split), 4096)]
    return torch.cat(chunks), torch.from_numpy(split.y)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on normalised images."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch):
        logits = model(x[i:i + batch])
        loss += nn.functional.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
        correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    return loss / len(y), correct / len(y)


def _subset(split: Split, n: int, seed: int) -> Split:
    if not n or n >= len(split):
        return split
    return split.take(np.random.default_rng(seed).permutation(len(split))[:n])


def _rng_state(gen: torch.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "gen": gen.get_state()}


def train(cfg: TrainConfig, resume: bool = False, dataset: Dataset | None = None,
          progress: bool = True, stop_after: int = 0) -> dict:
    """Train per `cfg`, writing `last.pt` each epoch and `model.pt` + `metrics.json` at the end.

    `stop_after` ends the run after that many epochs as an interruption would (tests use it).
    """
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0:
        raise InputError("epochs and batch size must be at least 1 and the learning rate positive")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a directory")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    ds = dataset or load(cfg.data, seed=cfg.seed)
    pre = ds.preprocess
    train_split, val_split = validation_split(ds.train, cfg.val_fraction, cfg.seed)
    train_split = _subset(train_split, cfg.limit, cfg.seed)
    val_split = _subset(val_split, cfg.limit // 5 if cfg.limit else 0, cfg.seed)
    test_split = _subset(ds.test, cfg.limit // 5 if cfg.limit else 0, cfg.seed)
    x_tr, y_tr = to_tensor(train_split, pre)
    x_val, y_val = to_tensor(val_split, pre) if len(val_split) else (None, None)
    fill = torch.tensor([-m / s for m, s in zip(pre.mean, pre.std)], dtype=torch.float32)

    arch = ArchConfig.named(cfg.arch, num_classes=len(ds.classes), in_channels=pre.channels,
                            batch_norm=cfg.batch_norm, **cfg.metaparameters)
    model = build(arch)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = (len(y_tr) + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    history: list[dict] = []
    start_epoch = 0
    last = out / "last.pt"
    if resume:
        if not last.exists():
            raise InputError(f"--resume: no {last} to resume from; start without --resume")
        _, payload = checkpoint.load(last)
        state = payload.get("resume")
        if not state:
            raise InputError(f"{last} holds no resume state")
        model.load_state_dict(payload["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        gen.set_state(state["rng"]["gen"])
        start_epoch, history = int(state["epoch"]), list(payload["record"]["history"])

    record = {"config": asdict(cfg), "dataset": ds.name, "classes": list(ds.classes),
              "train_images": len(y_tr), "val_images": len(val_split), "test_images": len(test_split),
              "skipped_images": ds.skipped, "sqz_version": __version__, "torch_version": str(torch.__version__),
              "threads": torch.get_num_threads(), "history": history}
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(y_tr), generator=gen)
        seen, loss_sum, correct = 0, 0.0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                   leave=False, unit="batch")
        for b in bar:
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            xb = random_crop(xb, cfg.crop_pad, fill, gen)
            if cfg.flip:
                xb = random_flip(xb, gen)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += len(yb)
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}",
                            img_s=f"{seen / (time.perf_counter() - t0):.0f}")
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "seconds": time.perf_counter() - t0, "images_per_s": seen / (time.perf_counter() - t0),
               "lr": sched.get_last_lr()[0]}
        if x_val is not None:
            row["val_loss"], row["val_acc"] = evaluate(model, x_val, y_val)
        history.append(row)
        if progress:
            tqdm.write(f"epoch {epoch + 1}/{cfg.epochs}  loss {row['train_loss']:.4f}  "
                       f"acc {row['train_acc']:.4f}  val {row.get('val_acc', float('nan')):.4f}  "
                       f"{row['images_per_s']:.0f} img/s")
        resume_state = {"epoch": epoch + 1, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                        "rng": _rng_state(gen)}
        checkpoint.save(last, model, pre, ds.classes, record, resume_state)
        if stop_after and epoch + 1 >= stop_after:
            return record

    x_te, y_te = to_tensor(test_split, pre)
    record["test_loss"], record["test_acc"] = evaluate(model, x_te, y_te)
    record["parameters"] = sum(p.numel() for p in model.parameters())
    checkpoint.save(out / "model.pt", model, pre, ds.classes, record)
    checkpoint.atomic_write(out / "metrics.json",
                            lambda tmp: tmp.write_text(json.dumps(record, indent=2, default=float)))
    return record
