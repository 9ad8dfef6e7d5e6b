"""Shared fixtures: a small real Fashion-MNIST subset, a model trained on it, and one export of it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def fmnist():
    from sqz.train.data import fashion_mnist

    return fashion_mnist()


@pytest.fixture(scope="session")
def small_dataset(fmnist):
    """3,000 real training and 600 real test images of Fashion-MNIST."""
    from sqz.train.data import Dataset

    rng = np.random.default_rng(1)
    tr = fmnist.train.take(rng.permutation(len(fmnist.train))[:3000])
    te = fmnist.test.take(np.arange(600))
    return Dataset("fashion-mnist-small", tr, te, fmnist.classes, fmnist.preprocess)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_dataset) -> Path:
    """A SqueezeNet 1.1 trained for 4 epochs on the small subset (about 30 s on 2 cores)."""
    from sqz.train.loop import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny_run")
    train(TrainConfig(out=str(out), epochs=4, batch_size=64, lr=3e-3, seed=0), dataset=small_dataset,
          progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, tiny_run) -> tuple[Path, dict]:
    """ONNX + TFLite float32 + full int8 of the tiny model, evaluated on 500 real test images."""
    from sqz.export.pipeline import export

    out = tmp_path_factory.mktemp("tiny_export")
    rep = export(tiny_run / "model.pt", out=out, int8=True, calib=64, eval_limit=500, log=lambda m: None)
    return out, rep
