"""The headline commands end to end, as a user runs them."""

import json
import subprocess
import sys

from PIL import Image

# What TensorFlow's C++ start-up writes to the terminal when it is imported (CUDA stubs, factory
# registrations, the computation placer, absl's pre-init notice, CPU-feature and oneDNN notes).
TF_NOISE = (
    "cudart_stub",
    "cuda_dnn",
    "cuda_blas",
    "cuda_fft",
    "computation_placer",
    "absl::InitializeLog",
    "cpu_feature_guard",
    "oneDNN custom operations",
    "Unable to register",
)


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sqz.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_sqz_export_int8_on_the_bundled_model(default_export):
    """`sqz-export --int8` with no checkpoint: the bundled default, real test images, a printed table,
    and none of TensorFlow's start-up noise in the terminal (the user's environment, not the suite's)."""
    out, r = default_export
    noise = [ln for ln in (r.stdout + r.stderr).splitlines() if any(n in ln for n in TF_NOISE)]
    assert not noise, noise
    assert "model_int8.tflite" in r.stdout and "int8/int8" in r.stdout and "budget 500,000 B" in r.stdout
    rep = json.loads((out / "report.json").read_text())
    torch_acc, int8 = rep["torch"]["accuracy"], rep["artifacts"]["model_int8.tflite"]
    assert torch_acc >= 0.90
    assert abs(int8["accuracy"] - torch_acc) <= 0.005 and int8["top1_agreement"] >= 0.99


def test_sqz_run_prints_top_k(tiny_export, small_dataset, tmp_path):
    out, _ = tiny_export
    Image.fromarray(small_dataset.test.x[3, :, :, 0]).save(tmp_path / "img.png")
    r = _run("run", str(out / "model_int8.tflite"), str(tmp_path / "img.png"), "--top", "2", "--json")
    assert r.returncode == 0, r.stderr
    pred = json.loads(r.stdout)["predictions"][0]
    assert len(pred["top"]) == 2 and pred["top"][0]["label"] in small_dataset.classes
    r = _run("run", str(out / "model_int8.tflite"), str(tmp_path / "missing.png"))
    assert r.returncode == 2 and "not a readable image" in r.stderr and "Traceback" not in r.stderr


def test_train_cli_errors_are_one_line(tmp_path):
    r = _run("train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such dataset" in r.stderr
    r = _run("export", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no such checkpoint" in r.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_export_takes_budget_and_metric_from_a_target(tiny_run, tmp_path):
    from sqz.gate.budget import parse_budget
    from sqz.targets.profiles import get

    out = tmp_path / "exp"
    r = _run(
        "export",
        str(tiny_run / "model.pt"),
        "--int8",
        "--calib",
        "16",
        "--eval-limit",
        "100",
        "--target",
        "rpi-zero2w",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    gate = json.loads((out / "report.json").read_text())["gate"]
    profile = get("rpi-zero2w")
    assert gate["target"] == "rpi-zero2w" and gate["metric"] == profile.metric
    assert gate["budget"] == parse_budget(profile.budget)
    assert "target rpi-zero2w" in r.stdout
    r = _run("export", str(tiny_run / "model.pt"), "--target", "rpi-zero", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "ARMv6" in r.stderr


def test_train_takes_the_papers_metaparameters(tmp_path):
    """--base-e/--incr-e/--pct3x3/--sr/--freq reach the built model's channel counts and the checkpoint."""
    import numpy as np
    import torch

    from sqz.train import checkpoint
    from sqz.train.model import Fire

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (80, 16, 16), dtype=np.uint8), y=np.arange(80) % 2)
    out = tmp_path / "run"
    r = _run(
        "train",
        "--data",
        str(tmp_path / "d.npz"),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--out",
        str(out),
        "--base-e",
        "96",
        "--incr-e",
        "32",
        "--pct3x3",
        "0.25",
        "--sr",
        "0.25",
        "--freq",
        "4",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    model, payload = checkpoint.load(out / "model.pt")
    assert payload["record"]["config"]["metaparameters"] == {
        "base_e": 96,
        "incr_e": 32,
        "pct3x3": 0.25,
        "sr": 0.25,
        "freq": 4,
    }
    fires = [m for m in model.features if isinstance(m, Fire)]
    widths = [(f.squeeze[0].out_channels, f.expand1x1[0].out_channels, f.expand3x3[0].out_channels) for f in fires]
    assert widths == [(24, 72, 24)] * 4 + [(32, 96, 32)] * 4
    assert model(torch.zeros(1, 1, 20, 20)).shape == (1, 2)
    for bad in (["--pct3x3", "1.5"], ["--sr", "0"], ["--freq", "0"], ["--base-e", "-3"]):
        r = _run("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "no"), *bad)
        assert r.returncode == 2 and bad[0] in r.stderr and "Traceback" not in r.stderr
    r = _run("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "no"), "--base-e", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "give a larger --base-e" in r.stderr


def test_train_init_refuses_a_file_that_is_not_weights(tmp_path):
    (tmp_path / "w.pth").write_text("hello")
    r = _run("train", "--init", str(tmp_path / "w.pth"), "--out", str(tmp_path / "o"), "--epochs", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--init" in r.stderr and "not a readable" in r.stderr


def test_sqz_train_budget_picks_and_records_metaparameters(tmp_path):
    """`sqz train --budget`: the choice and its predicted bytes on the terminal and in metrics.json; without
    --budget a model whose export fits (32² grey, 10 classes as Fashion-MNIST) trains with no warning."""
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8), y=np.arange(40) % 10)
    r = _run(
        "train",
        "--data",
        str(tmp_path / "d.npz"),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        str(tmp_path / "a"),
        "--budget",
        "300KB",
    )
    assert r.returncode == 0, r.stderr
    assert "budget 300,000 B: SqueezeNet 1.1 with base_e" in r.stderr and "predicted full-int8 file" in r.stderr
    plan = json.loads((tmp_path / "a" / "metrics.json").read_text())["size_plan"]
    assert plan["predicted_bytes"] <= 300_000 and plan["metaparameters"]["base_e"]
    r = _run(
        "train", "--data", str(tmp_path / "d.npz"), "--epochs", "1", "--batch-size", "8", "--out", str(tmp_path / "b")
    )
    assert r.returncode == 0 and "warning" not in r.stderr
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["size_plan"]["fits"] is True
