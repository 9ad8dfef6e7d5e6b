import subprocess
import sys
from pathlib import Path

import pytest

import sqz
from sqz.compress.channelfit import fit, targets
from sqz.errors import InputError
from sqz.fit.size import predict
from sqz.train import checkpoint
from sqz.train.model import count_parameters

BUNDLED = Path(sqz.__file__).parent / "models" / "fashion_mnist_1.1.pt"


def test_round_targets_step_geometrically_to_the_budget():
    assert targets(400_000, 300_000, 1) == [300_000]
    t = targets(400_000, 100_000, 2)
    assert t == [200_000, 100_000]


def test_an_unreachable_budget_is_one_line_and_exit_2(tmp_path):
    with pytest.raises(InputError, match="smallest network"):
        fit(BUNDLED, tmp_path / "o.pt", 15_000, log=lambda m: None)
    r = subprocess.run(
        [sys.executable, "-m", "sqz.cli", "compress", str(BUNDLED), "--fit", "15kB", "--out", str(tmp_path / "o.pt")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "smallest network" in r.stderr
    assert not (tmp_path / "o.pt").exists()


def test_fit_removes_channels_and_its_export_fits_the_budget(tiny_run, tmp_path):
    from sqz.export.config import ExportConfig
    from sqz.export.pipeline import export

    src = tiny_run / "model.pt"
    model, payload = checkpoint.load(src)
    size = payload["preprocess"]["size"]
    before = predict(model.cfg, size)["file_bytes"]
    budget = before - 30_000
    out = tmp_path / "fit.pt"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "compress",
            str(src),
            "--fit",
            str(budget),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--limit",
            "256",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{budget:,} B" in r.stdout
    small, saved = checkpoint.load(out)
    rec = saved["record"]["compression"]["fit"]
    assert small.cfg.widths and count_parameters(small) == rec["parameters"] < rec["parameters_before"]
    assert rec["file_bytes"] <= budget < rec["file_bytes_before"]
    rep = export(
        out, out=tmp_path / "export", config=ExportConfig(int8=True, calib=32, eval_limit=100), log=lambda m: None
    )
    assert rep.artifacts["model_int8.tflite"]["bytes"] == rec["file_bytes"] <= budget
