import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from sqz.errors import InputError, ModelFileError
from sqz.export.config import ExportConfig
from sqz.export.pipeline import export
from sqz.gate import check
from sqz.runtime.manifest import sha256


def test_export_writes_checked_artifacts_and_an_honest_report(tiny_export):
    out, rep = tiny_export
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "classes.md",
        "confusion.png",
        "manifest.json",
        "model.onnx",
        "model_float32.tflite",
        "model_float32.tflite.xz",
        "model_int8.tflite",
        "model_int8.tflite.xz",
        "report.json",
        "report.md",
    ]
    int8 = rep.artifacts["model_int8.tflite"]
    assert int8["io"]["input"]["dtype"] == "int8" and int8["io"]["output"]["dtype"] == "int8"
    assert int8["precision"] == "int8" and int8["io"]["input"]["layout"] == "NHWC"
    assert rep.artifacts["model_float32.tflite"]["precision"] == "float32"
    assert int8["bytes"] < rep.artifacts["model_float32.tflite"]["bytes"] / 3
    for name, a in rep.artifacts.items():
        assert a["sha256"] == sha256(out / name) and a["bytes"] == (out / name).stat().st_size
    torch_acc = rep.torch["accuracy"]
    assert abs(rep.artifacts["model.onnx"]["accuracy"] - torch_acc) < 1e-9
    assert abs(rep.artifacts["model_float32.tflite"]["accuracy"] - torch_acc) <= 0.002
    assert int8["top1_agreement"] >= 0.95 and abs(int8["accuracy"] - torch_acc) < 0.03
    assert rep.gate["artifacts"]["model_float32.tflite"]["fits"] is False
    assert json.loads((out / "report.json").read_text())["eval_images"] == 500
    assert "model_int8.tflite" in (out / "report.md").read_text()
    assert rep.calibration_ranges == "mse" and "ranges of least rounding error" in (out / "report.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["labels"][0] == "T-shirt/top" and manifest["preprocess"]["content"] == 28


def test_bad_input_leaves_the_previous_export_alone(tiny_export, tiny_run, tmp_path):
    out, _ = tiny_export
    before = {p.name: sha256(p) for p in out.iterdir()}
    with pytest.raises(InputError, match="--calib"):
        export(
            tiny_run / "model.pt", out=out, config=ExportConfig(int8=True, calib=0, eval_limit=50), log=lambda m: None
        )
    with pytest.raises(ModelFileError):
        export(out / "report.json", out=out, log=lambda m: None)
    assert {p.name: sha256(p) for p in out.iterdir()} == before
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        export(tiny_run / "model.pt", out=tmp_path / "afile", config=ExportConfig(eval_limit=50), log=lambda m: None)


def _ctrl_c_default() -> None:
    """A suite started in the background (`cmd &` in a script) passes SIGINT on as ignored, and Python keeps an
    ignored SIGINT ignored; the export must see Ctrl-C as a terminal would deliver it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_export_keeps_previous_artifacts(tiny_export, tiny_run, tmp_path):
    """SIGINT in the middle of a real export: previous files intact, no partial file, no staging dir.
    (Into a copy of the shared export: a failure here must not change what other tests read.)"""
    out = shutil.copytree(tiny_export[0], tmp_path / "out")
    before = {p.name: sha256(p) for p in out.iterdir()}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "export",
            str(tiny_run / "model.pt"),
            "--int8",
            "--calib",
            "32",
            "--eval-limit",
            "100",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_default,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".sqz-staging") for p in out.iterdir()):
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert {p.name: sha256(p) for p in out.iterdir()} == before


def test_export_verdict_honours_the_packed_metric(tiny_export, tiny_run, tmp_path):
    """A budget between the int8 file's packed and plain sizes: over by `file`, fits by `packed`, as `sqz check`
    says."""
    _, rep = tiny_export
    a = rep.artifacts["model_int8.tflite"]
    between = (a["bytes"] + a["packed"]["bytes"]) // 2
    out = tmp_path / "packed"
    got = export(
        tiny_run / "model.pt",
        out=out,
        config=ExportConfig(int8=True, calib=64, eval_limit=100, budget=str(between), metric="packed"),
        log=lambda m: None,
    )
    g = got.gate
    v = g["artifacts"]["model_int8.tflite"]
    assert g["metric"] == "packed" and v["packed_bytes"] <= between < v["bytes"]
    assert v["fits"] and v["packed_fits"] and not v["file_fits"] and v["over_bytes"] == 0
    assert check([out / "model_int8.tflite"], budget=str(between), metric="packed")[0].fits
    assert not check([out / "model_int8.tflite"], budget=str(between), metric="file")[0].fits
    line = next(ln for ln in (out / "report.md").read_text().splitlines() if "model_int8.tflite file" in ln)
    assert "gate metric packed" in line and line.endswith("— over; packed " + f"{v['packed_bytes']:,} B — fits")
    with pytest.raises(InputError, match="unknown metric"):
        export(tiny_run / "model.pt", out=tmp_path / "x", config=ExportConfig(metric="zip"), log=lambda m: None)
