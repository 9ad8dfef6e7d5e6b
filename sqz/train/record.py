"""The run record (configuration, data, environment, history, final figures) and its count of
unreadable images, agreed across ranks."""

from __future__ import annotations

from dataclasses import asdict

import torch

from sqz import __version__
from sqz.train import distributed, stream
from sqz.train.augment import crop_pad, crop_scale


def new_record(
    cfg, src, ctx: distributed.Context, amp: torch.dtype | None, rows: list[dict], skipped: set[str]
) -> dict:
    """The record every checkpoint of this run carries; `rows` is the (possibly restored) history."""
    return {
        "config": asdict(cfg),
        "dataset": src.name,
        "classes": list(src.classes),
        "train_images": src.n_train,
        "val_images": src.n_val,
        "test_images": src.n_test,
        "skipped_images": src.skipped + len(skipped),
        "sqz_version": __version__,
        "torch_version": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "world_size": ctx.world,
        "effective_batch_size": cfg.batch_size * ctx.world,
        "device": ctx.device.type,
        "precision": str(amp).replace("torch.", "") if amp else "fp32",
        "data_path": "streamed" if src.streamed else "memory",
        "augment": src.augment,
        "augmentation": augmentation(cfg, src),
        **({"layout": src.layout, "final_split": src.final} if src.streamed else {}),
        "history": rows,
    }


def note_skipped(record: dict, skipped: set[str], src, ctx: distributed.Context, paths: list[str], where: str) -> None:
    """Add every rank's newly met unreadable images to `skipped` and the record; rank 0 warns once."""
    new = sorted({p for part in distributed.gather(ctx, paths) for p in part} - skipped)
    skipped.update(new)
    record["skipped_images"] = src.skipped + len(skipped)
    if ctx.main:
        stream.warn_skipped(new, where)


def augmentation(cfg, src) -> dict:
    """What the training images went through: the crop (its area range or shift) and whether they were mirrored."""
    size = src.preprocess.size
    crop = (
        {"crop_scale": list(crop_scale(size))}
        if src.augment == "resized-crop"
        else {"crop_pad": cfg.crop_pad or crop_pad(size)}
    )
    return {"kind": src.augment, **crop, "flip": bool(cfg.flip)}
