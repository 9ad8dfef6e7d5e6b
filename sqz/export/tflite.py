"""ONNX → TFLite float32 and full-integer int8 with onnx2tf, run isolated in a subprocess.

onnx2tf writes the float32 file and a SavedModel; `sqz/export/onnx2tf_run.py` makes the one full-int8
file from it, streaming the uint8 calibration images and computing their ranges in float64, so the int8
file is byte-identical on every x86-64 CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from sqz.errors import ToolError
from sqz.export.onnx2tf_run import INT8_NAME
from sqz.runtime.preprocess import Preprocess

SAMPLE_NAME = "calibration_image_sample_data_20x128x128x3_float32.npy"


def convert(onnx_path: Path, out_dir: Path, calibration: np.ndarray | None = None, pre: Preprocess | None = None,
            per_channel: bool = True, timeout: float = 900, verbose: bool = False,
            ranges: str = "mse") -> dict[str, Path]:
    """Convert a copy of `onnx_path`; returns {"float32": path, "int8": path (with calibration)}.

    onnx2tf's and TensorFlow's output is captured (shown only in a failure's message) unless
    `verbose`, which passes it, TensorFlow's C++ logging included, to stderr.

    `calibration` is uint8 (N, content, content, C), decoded with `pre`; the conversion normalises it
    one image at a time exactly as the runtime does, so it calibrates on what the model sees; `ranges`
    is the activation-range rule (`sqz.quantize.ranges`).
    """
    if calibration is not None and pre is None:
        raise ValueError("calibration images need their Preprocess")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sqz-onnx2tf-") as work:
        work = Path(work)
        src = work / "model.onnx"
        shutil.copyfile(onnx_path, src)
        # onnx2tf looks for this file in the working directory for 3-channel inputs and downloads
        # it when absent; a local stand-in keeps it offline and is never used for our calibration.
        np.save(work / SAMPLE_NAME, np.zeros((20, 128, 128, 3), np.float32))
        cmd = [sys.executable, "-m", "sqz.export.onnx2tf_run"]
        if calibration is not None:
            calib, pre_json = work / "calibration_uint8.npy", work / "preprocess.json"
            np.save(calib, np.ascontiguousarray(calibration, dtype=np.uint8))
            pre_json.write_text(json.dumps(pre.to_dict()))
            cmd += ["--calib", str(calib), str(pre_json), "per-channel" if per_channel else "per-tensor", ranges]
        cmd += ["--", "-i", str(src), "-o", str(work / "tf"), "-b", "1", "-coion", "-n"]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0" if verbose else "3", "CUDA_VISIBLE_DEVICES": "",
               "PYTHONHASHSEED": "0"}
        shown = {"stdout": sys.stderr, "stderr": sys.stderr} if verbose else {"capture_output": True}
        try:
            proc = subprocess.run(cmd, cwd=work, env=env, text=True, timeout=timeout, **shown)
        except FileNotFoundError:
            raise ToolError("onnx2tf is not installed; pip install 'sqz[export]'") from None
        except subprocess.TimeoutExpired:
            raise ToolError(f"onnx2tf did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0:
            tail = [ln for ln in ((proc.stderr or "") + (proc.stdout or "")).splitlines() if ln.strip()][-3:]
            tail = tail or ["its output is above"]
            raise ToolError(f"onnx2tf failed (exit {proc.returncode}): {' | '.join(tail)[:400]}")
        found = {"float32": work / "tf" / "model_float32.tflite"}
        if calibration is not None:
            found["int8"] = work / "tf" / INT8_NAME
        result = {}
        for kind, path in found.items():
            if not path.exists():
                raise ToolError(f"onnx2tf finished but wrote no {path.name}")
            dest = out_dir / f"model_{kind}.tflite"
            shutil.move(str(path), dest)
            result[kind] = dest
    return result
