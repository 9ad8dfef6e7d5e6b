"""Shared fixtures: a small real Fashion-MNIST subset, a model trained on it, and one export of it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Under `pytest -n 2` each worker, and every process it starts, computes on one thread: two workers with
# torch's default two threads each would oversubscribe the two cores, and OpenMP's waiting threads then spin.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

# Fixtures that train or export a trained model: every test using one is `slow` (`make test-fast` skips them).
SLOW_FIXTURES = {"tiny_run", "tiny_export", "two_process_run", "default_export"}


# Under `pytest -n 2` (make test), tests that build or use one cached emulated userland run in one worker, so
# no two processes build the same cache at once; the bundled model's full export is made once.
SHARED_CACHES = {"tests/targets/test_verify.py", "tests/targets/test_armenv.py", "tests/test_pythons.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SLOW_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)
        path = Path(str(item.fspath)).resolve().relative_to(Path(__file__).resolve().parents[1]).as_posix()
        if path in SHARED_CACHES:
            item.add_marker(pytest.mark.xdist_group("userlands"))
        elif "default_export" in fixtures:
            item.add_marker(pytest.mark.xdist_group("default_export"))


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
    train(TrainConfig(out=str(out), epochs=4, batch_size=64, lr=3e-3, seed=0), dataset=small_dataset, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, tiny_run) -> tuple[Path, dict]:
    """ONNX + TFLite float32 + full int8 of the tiny model, evaluated on 500 real test images."""
    from sqz.export.config import ExportConfig
    from sqz.export.pipeline import export

    out = tmp_path_factory.mktemp("tiny_export")
    rep = export(
        tiny_run / "model.pt", out=out, config=ExportConfig(int8=True, calib=64, eval_limit=500), log=lambda m: None
    )
    return out, rep


@pytest.fixture(scope="session")
def default_export(tmp_path_factory):
    """`sqz-export --int8` exactly as the README runs it (bundled model, all 10,000 test images, 500
    calibration images), in the user's environment (TensorFlow's log level not lowered); (out, process)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("default_export") / "exports" / "default"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run(
        [sys.executable, "-c", "from sqz.cli import export_main; export_main()", "--int8", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return out, r
