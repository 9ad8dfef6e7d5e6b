"""A short fine-tuning loop for compression passes; `after_step` re-imposes masks or shared values."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from sqz.train.augment import random_crop, random_flip
from sqz.train.distill import Criterion
from sqz.train.progress import bar as progress_bar


def finetune(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    fill: torch.Tensor,
    epochs: int,
    lr: float = 2e-4,
    batch_size: int = 128,
    seed: int = 0,
    after_step: Callable[[int, int], None] | None = None,
    progress: bool = True,
    desc: str = "fine-tune",
    criterion: Criterion | None = None,
    flip: bool = True,
) -> nn.Module:
    """AdamW with a cosine learning rate; `after_step(step, total_steps)` runs after every update;
    `criterion(logits, images, labels)` replaces the label-smoothed cross-entropy (e.g. distillation); `flip`
    mirrors half of each batch (as the run's training did or did not)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    steps = (len(y) + batch_size - 1) // batch_size
    total = max(1, epochs * steps)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss_fn = criterion or (lambda logits, images, labels: ce(logits, labels))
    step = 0
    if after_step:
        after_step(0, total)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        bar = progress_bar(range(steps), progress, desc=f"{desc} {epoch + 1}/{epochs}", leave=False)
        for b in bar:
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb = random_crop(x[idx], 2, fill, gen)
            xb = random_flip(xb, gen) if flip else xb
            loss = loss_fn(model(xb), xb, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if after_step:
                after_step(step, total)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval()
