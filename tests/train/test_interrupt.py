import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from sqz.train import checkpoint
from sqz.train.loop import TrainConfig, train

pytestmark = pytest.mark.slow  # every test here trains and kills real runs

# budget none: the CLI runs train the published network, as the Python API run they are compared with does.
ARGS = dict(epochs=3, batch_size=32, lr=3e-3, seed=2, threads=1, budget="none")


@pytest.fixture(scope="module")
def npz(tmp_path_factory, fmnist):
    """1,200 real Fashion-MNIST training and 200 test images as an .npz."""
    path = tmp_path_factory.mktemp("npz") / "fm.npz"
    idx = np.random.default_rng(2).permutation(len(fmnist.train))[:1200]
    np.savez(
        path,
        x_train=fmnist.train.x[idx],
        y_train=fmnist.train.y[idx],
        x_test=fmnist.test.x[:200],
        y_test=fmnist.test.y[:200],
    )
    return path


def _start(npz, out, err_file, resume=False):
    cmd = [sys.executable, "-m", "sqz.cli", "train", "--data", str(npz), "--out", str(out)]
    cmd += [f"--{k.replace('_', '-')}={v}" for k, v in ARGS.items()] + (["--resume"] if resume else [])
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file.open("w"), env=env)


def _interrupt_during(proc, out, err_file, epoch, sig):
    """Send `sig` once `last.pt` holds epoch `epoch - 1`: the run is then inside `epoch`, earlier ones saved.
    (The checkpoint, not the progress bar, which a run writing into a file does not draw.)"""
    deadline, seen = time.monotonic() + 240, None
    while True:
        assert proc.poll() is None, err_file.read_text()[-2000:]
        assert time.monotonic() < deadline, "training never reached the epoch"
        last = out / "last.pt"
        stamp = last.stat().st_mtime_ns if last.is_file() else None
        if stamp and stamp != seen:
            seen = stamp
            if checkpoint.load_raw(last)["resume"]["epoch"] == epoch - 1:
                break
        time.sleep(0.05)
    proc.send_signal(sig)
    return proc.wait(timeout=60)


def test_killed_and_interrupted_runs_resume_to_the_uninterrupted_result(tmp_path, npz):
    full = train(TrainConfig(data=str(npz), out=str(tmp_path / "full"), **ARGS), progress=False)
    out, err = tmp_path / "cut", tmp_path / "stderr.txt"

    rc = _interrupt_during(_start(npz, out, err), out, err, 2, signal.SIGTERM)
    assert rc == 130 and "interrupted" in err.read_text()
    assert checkpoint.load_raw(out / "last.pt")["resume"]["epoch"] == 1 and not (out / "model.pt").exists()
    assert not list(out.glob(".*.tmp")), "SIGTERM leaves no temp files behind"

    rc = _interrupt_during(_start(npz, out, err, resume=True), out, err, 3, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert checkpoint.load_raw(out / "last.pt")["resume"]["epoch"] == 2 and not (out / "model.pt").exists()

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "train",
            "--data",
            str(npz),
            "--out",
            str(out),
            *[f"--{k.replace('_', '-')}={v}" for k, v in ARGS.items()],
            "--resume",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    a, pa = checkpoint.load(tmp_path / "full" / "model.pt")
    b, pb = checkpoint.load(out / "model.pt")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert pb["record"]["test_acc"] == full["test_acc"] and pb["record"]["test_loss"] == full["test_loss"]
    assert [h["train_loss"] for h in pb["record"]["history"]] == [h["train_loss"] for h in full["history"]]
    assert (out / "history.csv").read_text().count("\n") == 4 and (out / "curves.png").stat().st_size > 0
