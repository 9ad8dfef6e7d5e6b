"""Same checkpoint, calibration set and versions → byte-identical ONNX, TFLite, packed files and manifest,
on this CPU and on another one."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqz.export.config import ExportConfig
from sqz.export.pipeline import export
from sqz.runtime.manifest import sha256

SAME = (
    "model.onnx",
    "model_float32.tflite",
    "model_int8.tflite",
    "model_float32.tflite.xz",
    "model_int8.tflite.xz",
    "manifest.json",
)


def test_exporting_twice_gives_identical_bytes(tiny_export, tiny_run, tmp_path):
    first, _ = tiny_export
    again = tmp_path / "again"
    export(
        tiny_run / "model.pt", out=again, config=ExportConfig(int8=True, calib=64, eval_limit=500), log=lambda m: None
    )
    assert {n: sha256(first / n) for n in SAME} == {n: sha256(again / n) for n in SAME}
    # the report differs only in how long each stage took
    a, b = (json.loads((d / "report.json").read_text()) for d in (first, again))
    assert a.pop("timings_s").keys() == b.pop("timings_s").keys()
    assert a == b


# Another x86-64 CPU, as far as this machine can play one: oneDNN, ATen and ruy limited to AVX2, and the float64
# calibration summing in another order (each convolution's input channels reversed: the same maths, other
# rounding in the last bits, as another BLAS kernel would give), which is what must not reach the int8 bytes.
OTHER_CPU = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "RUY_PATHS": "20"}
ROUNDING = """
import importlib.abc, importlib.util, sys

class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "sqz.quantize.float64":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            original = module.conv
            module.conv = lambda x, w, b, stride, same: original(x[..., ::-1], w[..., ::-1], b, stride, same)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _Hook())
"""


def _export_in_subprocess(ckpt, out, extra_env: dict, site=None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in OTHER_CPU}
    path = [str(Path(__file__).resolve().parents[2])] + ([str(site)] if site else [])
    env.update(extra_env, PYTHONPATH=os.pathsep.join(path + [env.get("PYTHONPATH", "")]))
    cmd = [
        sys.executable,
        "-m",
        "sqz.cli",
        "export",
        str(ckpt),
        "--int8",
        "--out",
        str(out),
        "--calib",
        "64",
        "--eval-limit",
        "200",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_export_is_byte_identical_on_another_cpu(tiny_run, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(ROUNDING)
    _export_in_subprocess(tiny_run / "model.pt", tmp_path / "here", {})
    _export_in_subprocess(tiny_run / "model.pt", tmp_path / "other", OTHER_CPU, site)
    assert {n: sha256(tmp_path / "here" / n) for n in SAME} == {n: sha256(tmp_path / "other" / n) for n in SAME}
