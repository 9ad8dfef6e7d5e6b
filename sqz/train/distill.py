"""Knowledge distillation: a loss that pulls a student's logits toward a frozen teacher's on the same batch."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Criterion = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def distillation(
    teacher: nn.Module, alpha: float = 0.9, temperature: float = 4.0, label_smoothing: float = 0.1
) -> Criterion:
    """`criterion(logits, images, labels)`: alpha·KL(teacher/T ‖ student/T)·T² + (1 − alpha)·cross-entropy."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def criterion(logits: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = nn.functional.log_softmax(teacher(images) / temperature, 1)
        kl = nn.functional.kl_div(
            nn.functional.log_softmax(logits / temperature, 1), target, reduction="batchmean", log_target=True
        )
        return alpha * kl * temperature**2 + (1 - alpha) * ce(logits, labels)

    return criterion
