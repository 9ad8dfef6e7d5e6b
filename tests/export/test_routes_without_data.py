"""Every export route with the training data gone: checkpoints made from a run (`sqz compress`, `--fit`) carry its
calibration sample and split record, so they export like the run; what cannot work says what it needs in one
line. A small generated RGB folder is trained on, compressed into other directories, then moved away."""

import json
import shutil

import pytest
from click.testing import CliRunner

from sqz.cli import export_main, main
from sqz.runtime.manifest import sha256
from tests.test_end_to_end import _write


@pytest.fixture(scope="module")
def gone(tmp_path_factory):
    """(root, runner): run/ trained at 32², fit/fit.pt and pruned/pruned.pt made from it, the photos moved away."""
    root = tmp_path_factory.mktemp("routes")
    data = _write(root / "photos")
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "train",
            "--data",
            str(data),
            "--size",
            "32",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--workers",
            "0",
            "--out",
            str(root / "run"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        [
            "compress",
            str(root / "run" / "model.pt"),
            "--fit",
            "300kB",
            "--rounds",
            "1",
            "--epochs",
            "1",
            "--out",
            str(root / "fit" / "fit.pt"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        [
            "compress",
            str(root / "run" / "model.pt"),
            "--prune",
            "0.3",
            "--epochs",
            "1",
            "--out",
            str(root / "pruned" / "pruned.pt"),
        ],
    )
    assert r.exit_code == 0, r.output
    shutil.move(str(data), root / "archived")
    return root, runner


def _export(gone, ckpt, *args):
    root, runner = gone
    out = root / ("exp-" + "-".join([ckpt.replace("/", "_"), *[a.strip("-") for a in args]]))
    r = runner.invoke(export_main, [str(root / ckpt), "--int8", "--calib", "16", "--out", str(out), *args])
    return r, out


@pytest.mark.slow
@pytest.mark.parametrize("ckpt", ["run/model.pt", "fit/fit.pt", "pruned/pruned.pt"])
def test_each_checkpoint_calibrates_from_the_runs_sample_with_the_data_gone(gone, ckpt):
    root, _ = gone
    r, out = _export(gone, ckpt)
    assert r.exit_code == 0, r.output
    assert "evaluation skipped: the training data" in r.output
    rep = json.loads((out / "report.json").read_text())
    sample = root / ckpt.split("/")[0] / "calibration.npz"
    assert rep["calibration_source"] == f"the run's stored sample {sample} (sha256 {sha256(sample)})"
    assert sha256(sample) == sha256(root / "run" / "calibration.npz")
    assert (root / ckpt.split("/")[0] / "split.json").read_bytes() == (root / "run" / "split.json").read_bytes()
    assert (out / "model_int8.tflite").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    "route", [["--no-eval"], ["--target", "nano33ble"], ["--weights", "int4"]], ids=["no-eval", "micro", "int4"]
)
def test_every_route_works_or_says_what_it_needs(gone, route):
    r, out = _export(gone, "fit/fit.pt", *route)
    if route[0] == "--weights":
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
        assert "fine-tunes on the training data" in r.output and "give --data DIR" in r.output
        assert not (out / "model_int4.tflite").exists() and not (out / "model_int8.tflite").exists()
        return
    assert r.exit_code == 0, r.output
    assert (out / "model_int8.tflite").is_file()
    if route[0] == "--target":
        assert (out / "model_data.cc").is_file() and "micro" in json.loads((out / "manifest.json").read_text())


@pytest.mark.slow
def test_a_directory_holding_another_runs_sample_is_refused_before_any_work(gone):
    root, runner = gone
    other = root / "other"
    other.mkdir()
    (other / "calibration.npz").write_bytes(b"another run's sample")
    r = runner.invoke(
        main,
        ["compress", str(root / "fit" / "fit.pt"), "--prune", "0.3", "--epochs", "1", "--out", str(other / "x.pt")],
    )
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "already holds another run's calibration.npz" in r.output and not (other / "x.pt").exists()
