"""Every artifact the bench compares, made in this run: sqz's export, ONNX Runtime int8, litert-torch int8."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from bench import peer_venv
from sqz.export.config import ExportConfig
from sqz.export.onnx import INPUT, export_onnx, parity
from sqz.export.pipeline import export
from sqz.export.tflite import convert
from sqz.runtime.preprocess import Preprocess, normalize
from sqz.train import checkpoint
from sqz.train.arch import ArchConfig
from sqz.train.model import build
from sqz.train.surgery import fold_batchnorm, remove_dead_taps

REPO = Path(__file__).resolve().parents[1]
IMAGENET = Preprocess(size=224, content=224, channels=3, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
ORT_INT8 = {"s8s8": ("QInt8", "QInt8"), "u8s8": ("QUInt8", "QInt8")}
RANGES = inspect.signature(export).parameters["ranges"].default  # the activation-range rule sqz-export uses
STAGE_ONNX = "ONNX export + check + parity"


def _seconds(t: float) -> float:
    return round(time.perf_counter() - t, 2)


def default_model(ckpt: Path, out: Path, calib: int, log) -> dict:
    """sqz's own export of the checkpoint (its report gives sizes, accuracy, stage times) + what the bench needs."""
    log(f"sqz export of {ckpt} (full int8, {calib} calibration images, every test image) …")
    config = ExportConfig(int8=True, calib=calib, ranges=RANGES)
    rep = export(ckpt, out=out, config=config, log=lambda m: log("  " + m)).to_dict()
    trained, payload = checkpoint.load(ckpt)
    from sqz.quantize.calibrate import calibration_set
    from sqz.train.data import load as load_data

    cfg = payload.get("record", {}).get("config", {})
    ds = load_data(cfg.get("data", "fashion-mnist"), seed=cfg.get("seed", 0))
    pre = Preprocess.from_dict(payload["preprocess"])
    calib_nchw = calibration_set(ds.train.x, pre, calib, 0).transpose(0, 3, 1, 2).copy()
    t = rep["timings_s"]
    stages = {
        STAGE_ONNX: t.get("onnx"),
        tflite_stage(rep.get("calibration_images"), rep.get("calibration_ranges")): t.get("tflite+int8"),
        "checks (every artifact on the test set)": t.get("evaluate"),
    }
    return {
        "name": "default",
        "title": f"Fashion-MNIST SqueezeNet {payload['arch'].get('version', '1.1')} "
        f"({pre.size}², {pre.channels} channel, {len(payload['classes'])} classes)",
        "checkpoint": str(ckpt),
        "dir": out,
        "torch": fold_batchnorm(trained).eval(),
        "preprocess": pre,
        "classes": list(payload["classes"]),
        "calibration": calib_nchw,
        "calibration_kind": f"{len(calib_nchw)} real training images",
        "test_x": normalize(ds.test.x, pre),
        "test_y": ds.test.y,
        "report": rep,
        "stages_s": stages,
        "notes": export_notes(rep),
        "bench_x": normalize(ds.test.x[:16], pre),
        "bench_input": "16 real test images",
    }


def squeezenet224(out: Path, calib: int, log) -> dict:
    """A 224², 3-channel, 1000-class SqueezeNet 1.1, random weights (seed 0), exported stage by stage."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build(ArchConfig(version="1.1", num_classes=1000, in_channels=3, batch_norm=False)).eval()
    with torch.no_grad():  # distinct non-zero biases, as trained ones are: identical zero tensors would be
        for conv in model.modules():  # shared through Identity nodes in the ONNX graph, which ORT cannot quantize
            if isinstance(conv, torch.nn.Conv2d) and conv.bias is not None:
                conv.bias.uniform_(-0.05, 0.05)
    classes = [f"class_{i}" for i in range(1000)]
    checkpoint.save(out / "model.pt", model, IMAGENET, tuple(classes), record={"note": "random init, seed 0"})
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (calib + 16, 224, 224, 3), dtype=np.uint8)
    calib_nchw, bench_x = normalize(pixels[:calib], IMAGENET), normalize(pixels[calib:], IMAGENET)
    stages = {}
    log("SqueezeNet 1.1 224²: ONNX …")
    t = time.perf_counter()
    net, dead = remove_dead_taps(fold_batchnorm(model), 224)  # what sqz-export converts (no-ops at 224², no BN)
    export_onnx(net, out / "model.onnx", 224)
    par = parity(net, out / "model.onnx", bench_x)
    stages[STAGE_ONNX] = _seconds(t)
    log(f"SqueezeNet 1.1 224²: TFLite float32 + full int8 (sqz's writer, {RANGES} ranges over {calib} images) …")
    t = time.perf_counter()
    tfl = convert(net, IMAGENET, out, pixels[:calib], RANGES)  # uint8 as decoded: convert normalises itself
    stages[tflite_stage(calib, RANGES)] = _seconds(t)
    t = time.perf_counter()
    from sqz.runtime.model import Model, open_session

    for path in tfl.values():
        Model(path, open_session(path), IMAGENET, classes).logits(pixels[calib:])
    stages[f"checks (both .tflite files on the {len(pixels) - calib} bench images)"] = _seconds(t)
    return {
        "name": "squeezenet224",
        "title": "SqueezeNet 1.1, ImageNet shape (224², 3 channels, 1000 classes), random init",
        "checkpoint": str(out / "model.pt"),
        "dir": out,
        "torch": model,
        "preprocess": IMAGENET,
        "classes": classes,
        "calibration": calib_nchw,
        "calibration_kind": f"{calib} deterministic images (seeded uniform pixels; no ImageNet here)",
        "test_x": None,
        "test_y": None,
        "report": {"onnx_parity": par},
        "stages_s": stages,
        "notes": [
            "Random weights (torch.manual_seed(0); conv biases uniform in ±0.05); sqz's export stages were run "
            "one by one here (no dataset to evaluate on), the same functions `sqz-export` calls"
            + (f" (dead taps removed in fires {', '.join(str(i + 2) for i in dead)})" if dead else "")
            + "."
        ],
        "bench_x": bench_x,
        "bench_input": "16 deterministic images (seeded uniform pixels)",
    }


def tflite_stage(images, ranges) -> str:
    """The name of sqz's TFLite stage: both files written in-process by sqz's own flatbuffer writer."""
    return (
        f"TFLite float32 + full int8 (sqz's own writer, both files; float64 {ranges} calibration over {images} images)"
    )


def export_notes(rep: dict) -> list[str]:
    """What sqz's export did beyond a plain conversion, from its report (so the peer comparison is read right)."""
    notes = []
    dead = rep.get("dead_taps") or {}
    if dead.get("fires"):
        notes.append(
            f"sqz's export replaced the 3×3 expand taps of fires {', '.join(map(str, dead['fires']))}, "
            f"which only ever see zero padding at this input size, by their centre tap "
            f"({dead['parameters_before']:,} → {dead['parameters_after']:,} parameters, max |Δlogit| "
            f"{dead.get('max_abs_logit_change', 0):.2g}); torch and litert-torch run the checkpoint "
            "as trained."
        )
    return notes


def ort_int8(m: dict, log) -> dict[str, float]:
    """ONNX Runtime static QDQ int8 of model.onnx, per channel, MinMax on the same calibration images."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self, x: np.ndarray) -> None:
            self.batches = iter([{INPUT: x[i : i + 32]} for i in range(0, len(x), 32)])

        def get_next(self):
            return next(self.batches, None)

    seconds = {}
    for kind, (act, weight) in ORT_INT8.items():
        log(f"{m['name']}: ONNX Runtime int8 QDQ {kind.upper()} (quantize_static) …")
        t = time.perf_counter()
        quantize_static(
            str(m["dir"] / "model.onnx"),
            str(m["dir"] / f"model_ort_int8_{kind}.onnx"),
            Reader(m["calibration"]),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=getattr(QuantType, act),
            weight_type=getattr(QuantType, weight),
            calibrate_method=CalibrationMethod.MinMax,
        )
        seconds[kind] = _seconds(t)
    return seconds


def litert_torch_int8(m: dict, log) -> dict:
    """The same checkpoint through litert-torch (PT2E int8), in its own venv; None fields if it failed."""
    np.save(m["dir"] / "calibration_nchw.npy", m["calibration"].astype(np.float32))
    dest = m["dir"] / "model_litert_torch_int8.tflite"
    log(f"{m['name']}: litert-torch PT2E int8 (own venv) …")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [
            str(peer_venv.python()),
            str(REPO / "bench" / "peer_convert.py"),
            m["checkpoint"],
            str(m["dir"] / "calibration_nchw.npy"),
            str(dest),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    if proc.returncode != 0 or not dest.exists():
        tail = " | ".join([ln for ln in proc.stderr.splitlines() if ln.strip()][-3:])
        log(f"  litert-torch failed: {tail[:300]}")
        return {"ok": False, "error": tail[:300]}
    return {"ok": True, **json.loads(proc.stdout.strip().splitlines()[-1])}
