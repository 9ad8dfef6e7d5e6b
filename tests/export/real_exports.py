"""Real exports of randomly initialised SqueezeNets for given (arch, size, channels, classes, metaparameters):
a checkpoint saved with sqz.train.checkpoint.save, exported by sqz.export.pipeline.export on a small .npz of
random pixels (calibration and evaluation counts kept small).

Biases are drawn at random, as a trained model's are. sqz's writer stores every constant on its own, so file
bytes do not depend on the weight values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sqz.runtime.preprocess import Preprocess
from sqz.train import checkpoint
from sqz.train.arch import ArchConfig
from sqz.train.model import build


def content_side(size: int) -> int:
    """The image side that makes sqz's .npz loader pick `size` (it pads images of ≤ 28 px by 4)."""
    return size - 4 if size <= 32 else size


def export_random(out: Path, arch: str, size: int, channels: int, classes: int, seed: int = 0, **meta) -> Path:
    """The int8 .tflite of a random-init model exported by the pipeline into `out`."""
    from sqz.export.config import ExportConfig
    from sqz.export.pipeline import export

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    side = content_side(size)
    n = 24
    x = rng.integers(0, 256, (n, side, side, channels), dtype=np.uint8)
    y = rng.integers(0, classes, n)
    names = np.array([f"c{i}" for i in range(classes)])
    np.savez(out / "data.npz", x=x, y=y, classes=names)
    torch.manual_seed(seed)
    cfg = ArchConfig.named(arch, num_classes=classes, in_channels=channels, **meta)
    pre = Preprocess(size=size, content=side, channels=channels, mean=(0.5,) * channels, std=(0.25,) * channels)
    model = build(cfg).eval()
    with torch.no_grad():
        for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
            conv.bias.uniform_(-0.1, 0.1)
    checkpoint.save(
        out / "model.pt", model, pre, tuple(names.tolist()), {"config": {"data": str(out / "data.npz"), "seed": 0}}
    )
    export(
        out / "model.pt",
        out=out / "export",
        config=ExportConfig(calib=4, eval_limit=4, data=str(out / "data.npz")),
        log=lambda m: None,
    )
    return out / "export" / "model_int8.tflite"
