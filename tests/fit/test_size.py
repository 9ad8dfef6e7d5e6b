"""`sqz size`: the predicted full-int8 .tflite bytes against real exports, and the command's output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sqz.fit.size import QUANT_BYTES, lower_bound, predict
from sqz.quantize.graph import ops
from sqz.train.arch import ArchConfig
from tests.export.real_exports import export_random

# (arch, input side, channels, classes, metaparameters): 48²–224² here, 32² in the figures below and in
# test_int4_prediction (a trained export); 1–3 channels, 2–1000 classes, both versions, dead taps (32², 40²)
# and none, a PAD before a ceil-mode pool (40², 1.0 at 128²), MEAN (> 1x1) and RESHAPE-only heads; simple and
# complex bypass (ADD, 1x1 skip convolutions without ReLU); late down-sampling (pools moved, stem stride 1, a
# pool after the last fire). Each model has its own random weights and biases, so exact agreement also shows
# that the size does not depend on the weight values.
CONFIGS = [
    ("1.1", 224, 3, 10, {}),
    ("1.1", 64, 1, 2, {"sr": 0.25, "freq": 1, "incr_e": 64}),
    ("1.1", 48, 3, 1000, {}),
    ("1.1", 40, 1, 10, {"base_e": 96, "pct3x3": 0.25}),
    ("1.0", 128, 3, 100, {}),
    ("1.1-bypass", 96, 3, 10, {}),
    ("1.1-complex", 96, 3, 10, {}),
    ("1.1", 32, 1, 10, {"pools": (2, 4, 6)}),
    ("1.0", 40, 3, 10, {"stem_stride": 1, "pools": (0, 3, 7, 8)}),
]


@pytest.mark.slow
@pytest.mark.parametrize("arch,size,channels,classes,meta", CONFIGS, ids=lambda v: str(v))
def test_prediction_matches_a_real_export(tmp_path, arch, size, channels, classes, meta):
    """Exact: the flatbuffer is rebuilt, not fitted."""
    real = export_random(tmp_path, arch, size, channels, classes, **meta).stat().st_size
    cfg = ArchConfig.named(arch, num_classes=classes, in_channels=channels, **meta)
    assert predict(cfg, size)["file_bytes"] == real
    report = json.loads((tmp_path / "export" / "report.json").read_text())
    assert report["artifacts"]["model_float32.tflite"]["max_abs_diff_vs_torch"] < 1e-2  # converted right
    gate = json.loads((tmp_path / "export" / "report.json").read_text())["gate"]
    if real > gate["budget"]:
        assert gate["routes"] and all(r["bytes"] <= gate["budget"] for r in gate["routes"])
    else:
        assert "routes" not in gate


def test_known_sizes_of_the_issue():
    """The default model (onnx2tf wrote 408,408 B: tensor names, metadata, a signature and a buffer per activation,
    none of which an interpreter reads) and 224² RGB, 10 classes (onnx2tf: 819,424 B)."""
    assert predict(ArchConfig(num_classes=10, in_channels=1), 32)["file_bytes"] == 406_136
    assert predict(ArchConfig(num_classes=10, in_channels=3), 224)["file_bytes"] == 817_096


def test_int4_prediction_is_the_written_int4_file(tiny_run, small_dataset, tmp_path):
    """`--weights int4` keeps every byte count but the filters': the prediction equals the file written for the
    trained tiny model with every conv in INT4, and the default model's figure."""
    from sqz.export.tflite import convert
    from sqz.quantize import floatgraph
    from sqz.train import checkpoint
    from sqz.train.surgery import fold_batchnorm, remove_dead_taps

    model, payload = checkpoint.load(tiny_run / "model.pt")
    cfg, size = ArchConfig.from_dict(payload["arch"]), payload["preprocess"]["size"]
    net, _ = remove_dead_taps(fold_batchnorm(model), size)
    names = [c.name for c in floatgraph.from_model(net, size).convs.values()]
    files = convert(
        net,
        small_dataset.preprocess,
        tmp_path,
        small_dataset.train.x[:32],
        "minmax",
        {"weights": "int4", "layers": names},
    )
    assert predict(cfg, size)["file_bytes"] == files["int8"].stat().st_size  # 32², dead taps
    assert (
        predict(cfg, size, weights="int4")["file_bytes"]
        == files["int4"].stat().st_size
        < predict(cfg, size)["file_bytes"]
    )
    assert predict(ArchConfig(num_classes=10, in_channels=1), 32, weights="int4")["file_bytes"] == 249_176


def test_known_sizes_of_other_architectures():
    """Measured on real exports (`test_prediction_matches_a_real_export`, random weights and biases)."""
    assert predict(ArchConfig.named("1.1-bypass", num_classes=10, in_channels=3), 96)["file_bytes"] == 817_640
    assert predict(ArchConfig.named("1.1-complex", num_classes=10, in_channels=3), 96)["file_bytes"] == 1_191_000
    assert predict(ArchConfig(num_classes=10, in_channels=1, pools=(2, 4, 6)), 32)["file_bytes"] == 553_592
    three_pads = ArchConfig.named("1.0", num_classes=10, in_channels=3, stem_stride=1, pools=(0, 3, 7, 8))
    assert predict(three_pads, 40)["file_bytes"] == 831_680  # three PADs, each with its paddings


def test_complex_bypass_graph_has_its_skip_convolutions_and_adds():
    from sqz.quantize.graph import ops

    plain, cx = (ops(ArchConfig.named(a, num_classes=10, in_channels=3), 96) for a in ("1.1", "1.1-complex"))
    convs = [op for op in cx if op.kind == "conv"]
    assert len(convs) == len([op for op in plain if op.kind == "conv"]) + 4 == 30
    assert sum(op.kind == "add" for op in cx) == 8
    skips = [cx[op.inputs[1]] for op in cx if op.kind == "add"]
    assert [op.out[3] for op in skips if op.kind == "conv"] == [128, 256, 384, 512]


@pytest.mark.parametrize("kw,dead", [({}, [6, 7, 8, 9]), ({"pools": (2, 4, 6)}, [8, 9]), ({"stem_stride": 1}, [])])
def test_placement_moves_the_dead_taps_and_the_bytes(kw, dead):
    p = predict(ArchConfig(num_classes=10, in_channels=1, **kw), 32)
    assert p["dead_tap_fires"] == dead
    assert (p["file_bytes"] == 406_136) == (not kw)


def test_too_small_an_input_for_the_placement_is_one_clear_error():
    from sqz.errors import InputError

    with pytest.raises(InputError, match="too small .*pools at 0,1,2,3"):
        predict(ArchConfig(num_classes=10, in_channels=1, pools=(0, 1, 2, 3)), 28)


def test_breakdown_adds_up_and_counts_parameters():
    p = predict(ArchConfig(num_classes=10, in_channels=3), 96)
    b = p["breakdown"]
    assert sum(b.values()) == p["file_bytes"]
    assert b["weights_int8"] + b["biases_int32"] // 4 == p["parameters"] == 727_626
    assert 0 < b["structure"] < 20_000


def test_lower_bound_is_the_breakdowns_conv_bytes_and_under_the_file():
    cfg = ArchConfig(num_classes=10, in_channels=3)
    graph, p = ops(cfg, 96), predict(cfg, 96)
    b = p["breakdown"]
    activations = QUANT_BYTES * (len(graph) + 1)
    assert lower_bound(graph) == b["weights_int8"] + b["biases_int32"] + b["quantization"] - activations
    assert lower_bound(graph) < p["file_bytes"]


def test_sqz_size_json_and_text():
    cmd = [
        sys.executable,
        "-m",
        "sqz.cli",
        "size",
        "--arch",
        "1.1",
        "--size",
        "224",
        "--channels",
        "3",
        "--classes",
        "10",
    ]
    r = subprocess.run(cmd + ["--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["file_bytes"] == 817_096 and out["fits"] is False and out["weights"] == "int8"
    r = subprocess.run(cmd + ["--base-e", "64", "--incr-e", "64"], capture_output=True, text=True)
    assert r.returncode == 0 and "fits the 500,000 B budget" in r.stdout
    r = subprocess.run(cmd + ["--weights", "int4", "--json"], capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["file_bytes"] == 454_760
    r = subprocess.run(cmd + ["--weights", "mixed"], capture_output=True, text=True)
    assert r.returncode == 0 and "454,760 to 817,096 B" in r.stdout
    r = subprocess.run(cmd + ["--weights", "int2"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("sqz: error:")
    small = cmd[:7] + ["32", "--channels", "1", "--classes", "10", "--json"]
    r = subprocess.run(small + ["--pools", "2,4,6"], capture_output=True, text=True)
    out = json.loads(r.stdout)
    assert out["file_bytes"] == 553_592 and out["pools"] == [2, 4, 6] and out["stem_stride"] == 2
    for bad in (["--pools", "0,x"], ["--pools", "0,9"], ["--stem-stride", "3"], ["--pools", "0,1,2,3,4"]):
        r = subprocess.run(small + bad, capture_output=True, text=True)
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and r.stderr.startswith("sqz: error:"), bad
