"""The plain reference of the small-set benchmark: a small torch CNN with a standard Adam recipe, trained on
exactly the files an sqz run trained on (its split.json), decoded with that run's Preprocess.

Network: four 3×3 conv + BatchNorm + ReLU blocks (16, 32, 64, 128 channels; 2×2 max-pool after the first
three; the first conv has stride 2 from 64 px up), global average pool, one linear layer.
Recipe: Adam (lr 1e-3, no weight decay), constant learning rate, batch 64, cross-entropy, as many epochs as the sqz
run it is compared with, a random shift of up to side/14 px (zero-padded crop) and random horizontal flips when the
sqz run flipped; the final epoch's weights.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sqz.runtime.preprocess import Preprocess, decode, normalize
from sqz.train.folder import read_split

REF_EPOCHS, REF_BATCH, REF_LR = 30, 64, 1e-3


def net(channels: int, classes: int, side: int) -> nn.Module:
    """The reference CNN."""

    def block(cin, cout, stride=1):
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(channels, 16, 2 if side >= 64 else 1),
        nn.MaxPool2d(2),
        *block(16, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.MaxPool2d(2),
        *block(64, 128),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, classes),
    )


def _tensors(root: Path, entries: list[dict], pre: Preprocess) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.stack([decode(root / e["path"], pre) for e in entries])
    return torch.from_numpy(normalize(x, pre)), torch.tensor([e["label"] for e in entries])


def _shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    i, j = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
    return padded[:, :, i : i + x.shape[2], j : j + x.shape[3]]


def train_reference(
    run_dir: Path, pre: Preprocess, n_classes: int, seed: int = 0, epochs: int = REF_EPOCHS, flip: bool = True
) -> dict:
    """Train the reference on `run_dir`'s recorded train split; its test accuracy on the recorded test split."""
    split = read_split(run_dir)
    root = Path(split["root"])
    x, y = _tensors(root, split["train"], pre)
    xt, yt = _tensors(root, split["test"], pre)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = net(pre.channels, n_classes, pre.size)
    opt = torch.optim.Adam(model.parameters(), lr=REF_LR)
    loss_fn = nn.CrossEntropyLoss()
    pad = max(1, pre.size // 14)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        for b in range(0, len(y), REF_BATCH):
            idx = order[b : b + REF_BATCH]
            xb = _shift(x[idx], pad, gen)
            if flip:
                mirror = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(mirror.view(-1, 1, 1, 1), xb.flip(3), xb)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xb), y[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xt[i : i + 256]).argmax(1) for i in range(0, len(yt), 256)])
    return {
        "test_acc": float((pred == yt).float().mean()),
        "test_images": len(yt),
        "train_images": len(y),
        "epochs": epochs,
        "batch_size": REF_BATCH,
        "lr": REF_LR,
        "train_seconds": seconds,
        "flip": flip,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
