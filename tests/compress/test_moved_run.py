"""`sqz compress` finds a moved run's training data beside its checkpoint, as `sqz-export` does, and says what
to do when it is gone. The run is an untrained checkpoint beside a 40-image .npz, so each test takes seconds."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sqz.cli import main
from sqz.train import checkpoint
from sqz.train.arch import ArchConfig
from sqz.train.data import load
from sqz.train.model import build


@pytest.fixture
def moved(tmp_path, monkeypatch) -> Path:
    """A run directory (a narrow SqueezeNet, 36 kB as int8) that records `data.npz`, relative to where training
    ran, as its data, with that file inside it; the directory moved, the current directory one without it."""
    run = tmp_path / "project"
    run.mkdir()
    rng = np.random.default_rng(0)
    np.savez(run / "data.npz", x=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), y=np.arange(40) % 2)
    pre = load(str(run / "data.npz")).preprocess
    model = build(ArchConfig(num_classes=2, in_channels=1, base_e=32, incr_e=16, sr=0.125))
    checkpoint.save(run / "model.pt", model, pre, ("a", "b"), {"config": {"data": "data.npz", "seed": 0}})
    shutil.move(str(run), tmp_path / "moved")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path / "moved"


# --fit 100kB: the 36 kB model already fits, so the data is read and evaluated on, and nothing is pruned.
@pytest.mark.parametrize("how", [["--prune", "0.3"], ["--fit", "100kB"]])
def test_a_moved_run_compresses_on_the_data_beside_its_checkpoint(moved, how):
    out = moved.parent / "out" / "small.pt"
    r = CliRunner().invoke(main, ["compress", str(moved / "model.pt"), *how, "--epochs", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert checkpoint.load(out)[1]["record"]["config"]["data"] == "data.npz"


def test_compressing_a_run_whose_data_is_gone_says_to_give_data(moved):
    (moved / "data.npz").unlink()
    r = CliRunner().invoke(main, ["compress", str(moved / "model.pt"), "--prune", "0.3", "--out", "x.pt"])
    assert r.exit_code == 2 and "data.npz is gone" in r.output and "give --data" in r.output
    assert not Path("x.pt").exists()
