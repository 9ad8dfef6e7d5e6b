"""One training epoch: augmentation, forward and backward under AMP, the optimiser and schedule steps."""

from __future__ import annotations

import time

import torch

from sqz.errors import InputError
from sqz.train import distributed, recipe
from sqz.train.augment import crop_pad, random_crop, random_flip
from sqz.train.parts import Parts
from sqz.train.progress import bar as progress_bar


def train_epoch(p: Parts, src, cfg, ctx: distributed.Context, epoch: int, progress: bool) -> tuple[dict, list[str]]:
    """This epoch's history row (train loss/accuracy over all ranks, speed, learning rate) and the
    unreadable images met; at least one readable training image must have been seen."""
    p.model.train()
    head_only = epoch < p.heads
    if head_only:
        p.net.features.eval()  # the pretrained features' statistics stay as they are
    t0 = time.perf_counter()
    seen, loss_sum, correct, bad = 0, 0.0, 0, []
    bar = progress_bar(
        src.train_batches(epoch, ctx, p.gen, cfg.batch_size),
        progress,
        total=p.steps,
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        leave=False,
        unit="batch",
    )
    for xb, yb, unreadable in bar:
        # Batch norm cannot train on one image; a rank with fewer (all unreadable, or a trailing
        # single image) takes a zero-weight step on blank images so DDP's all-reduce stays in step.
        bad += unreadable
        live = len(yb) >= (2 if cfg.batch_norm else 1)
        if not live and ctx.world == 1:
            p.sched.step()
            continue
        if not live:
            xb, yb = torch.zeros(2, *xb.shape[1:]), torch.zeros(2, dtype=torch.int64)
        if src.augment == "pad-crop":
            xb = random_crop(xb, cfg.crop_pad or crop_pad(src.preprocess.size), p.fill, p.gen)
            if cfg.flip:
                xb = random_flip(xb, p.gen)
        xb, yb = distributed.to_device(xb, ctx.device, p.channels_last), yb.to(ctx.device, non_blocking=True)
        with p.autocast():
            logits = p.model(xb)
            loss = p.loss_fn(logits, yb)
        if not live:
            loss = loss * 0.0
        _step(p, loss, head_only)
        if live:
            seen += len(yb)
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
        if progress and seen:
            bar.set_postfix(
                loss=f"{loss_sum / seen:.3f}",
                acc=f"{correct / seen:.3f}",
                img_s=f"{seen * ctx.world / (time.perf_counter() - t0):.0f}",
            )
    seen, loss_sum, correct = distributed.all_sum(ctx, [seen, loss_sum, correct])
    if not seen:
        raise InputError(f"{cfg.data}: no readable training image in epoch {epoch + 1}")
    return {
        "epoch": epoch + 1,
        "train_loss": loss_sum / seen,
        "train_acc": correct / seen,
        "seconds": time.perf_counter() - t0,
        "images_per_s": seen / (time.perf_counter() - t0),
        "lr": p.sched.get_last_lr()[-1],
        **({"phase": recipe.phase(epoch, p.heads)} if p.heads else {}),
    }, bad


def _step(p: Parts, loss: torch.Tensor, head_only: bool = False) -> None:
    """Backward, optimiser step (through the fp16 loss scaler when there is one) and schedule step; a
    classifier-only step leaves the features as they are."""
    p.opt.zero_grad(set_to_none=True)
    if p.scaler is not None:
        p.scaler.scale(loss).backward()
        if head_only:
            recipe.hold_features(p.net)
        p.scaler.step(p.opt)
        p.scaler.update()
    else:
        loss.backward()
        if head_only:
            recipe.hold_features(p.net)
        p.opt.step()
    p.sched.step()
