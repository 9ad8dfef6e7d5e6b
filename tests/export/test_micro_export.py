"""sqz-export --int8 --target <micro>: the C sources and the measured arena land in the export, its manifest, its
report."""

import json

import pytest

from sqz.export.config import ExportConfig
from sqz.export.pipeline import export


@pytest.mark.slow
def test_export_for_the_nano_writes_c_sources_and_the_arena(tiny_run, tmp_path):
    out = tmp_path / "nano"
    rep = export(
        tiny_run / "model.pt",
        out=out,
        config=ExportConfig(int8=True, calib=32, eval_limit=64, target="nano33ble"),
        log=lambda m: None,
    )
    for name in ("sqz_model.c", "sqz_model.h", "model_data.cc", "model_data.h", "model_ops.h", "model_int8.tflite"):
        assert (out / name).is_file()
    man = json.loads((out / "manifest.json").read_text())
    arena = man["micro"]["arena"]
    assert arena["board"] > arena["host_smallest"] > 0 and man["micro"]["target"] == "nano33ble"
    c = man["micro"]["c"]
    assert f"#define SQZ_ARENA_BYTES {c['arena_bytes']}" in (out / "sqz_model.h").read_text()
    assert c["measured"]["cpu"] == "cortex-m4" and c["measured"]["ram_bytes"] < arena["board"]
    assert "C (sqz_model.c, no interpreter)" in (out / "report.md").read_text()
    assert rep.micro["verdict"]["fits"]
    assert "TensorFlow Lite Micro (nano33ble)" in (out / "report.md").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_micro_target_needs_int8_before_any_work(tmp_path):
    from click.testing import CliRunner

    from sqz.cli import export_main

    out = CliRunner().invoke(export_main, ["--target", "pico2", "--out", str(tmp_path / "x")])
    assert out.exit_code == 2 and "add --int8" in out.output
    assert not (tmp_path / "x" / "model.onnx").exists()
