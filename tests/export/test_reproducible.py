"""Same checkpoint, calibration set and versions → byte-identical ONNX, TFLite, packed files and manifest."""

import json

from sqz.export.pipeline import export
from sqz.runtime.manifest import sha256

SAME = ("model.onnx", "model_float32.tflite", "model_int8.tflite", "model_float32.tflite.xz",
        "model_int8.tflite.xz", "manifest.json")


def test_exporting_twice_gives_identical_bytes(tiny_export, tiny_run, tmp_path):
    first, _ = tiny_export
    again = tmp_path / "again"
    export(tiny_run / "model.pt", out=again, int8=True, calib=64, eval_limit=500, log=lambda m: None)
    assert {n: sha256(first / n) for n in SAME} == {n: sha256(again / n) for n in SAME}
    # the report differs only in how long each stage took
    a, b = (json.loads((d / "report.json").read_text()) for d in (first, again))
    assert a.pop("timings_s").keys() == b.pop("timings_s").keys()
    assert a == b
