"""The export report's per-class accuracy and confusion matrix: every artifact's, counted from its own answers."""

import json

from sqz.export import report as report_mod
from sqz.runtime.preprocess import Preprocess


def test_export_reports_per_class_accuracy_and_a_confusion_matrix(tiny_export):
    out, rep = tiny_export
    assert json.loads((out / "report.json").read_text())["artifacts"]["model_int8.tflite"]["confusion"]
    for name, a in [("torch", rep.torch), *rep.artifacts.items()]:
        conf = a["confusion"]
        assert sum(r["images"] for r in conf["per_class"]) == rep.eval_images, name
        assert sum(r["correct"] for r in conf["per_class"]) == round(a["accuracy"] * rep.eval_images), name
        assert [r["class"] for r in conf["per_class"]] == list(rep.labels)
    md = (out / report_mod.CLASSES_MD).read_text()
    int8 = rep.artifacts["model_int8.tflite"]["confusion"]
    assert "Confusion matrix of model_int8.tflite" in md
    for label, row in zip(rep.labels, int8["matrix"]):
        assert f"| {label} | " + " | ".join(map(str, row)) + " |" in md
    assert (out / report_mod.CONFUSION_PNG).read_bytes()[:4] == b"\x89PNG"


def test_no_evaluation_writes_no_class_report(tmp_path):
    rep = report_mod.ExportReport("", "", "", Preprocess(), (), {}, artifacts={"model.onnx": {"bytes": 1}})
    assert report_mod.write_classes(rep, tmp_path) == []
    assert not list(tmp_path.iterdir())
