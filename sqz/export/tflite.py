"""A folded model → model_float32.tflite and, calibrated, model_int8.tflite (plus an INT4/mixed variant), all
written by sqz: float graph → float64 activation ranges → quantised graph → flatbuffer. No TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from sqz.files import write_bytes
from sqz.quantize import float64, floatgraph, qgraph
from sqz.quantize import ranges as ranges_mod
from sqz.quantize.flatbuffer import serialise
from sqz.runtime.preprocess import Preprocess, normalize


def batches(images: np.ndarray, pre: Preprocess) -> Iterator[np.ndarray]:
    """uint8 images (N × content × content × C) normalised as the model sees them, NHWC float32, a float64
    evaluation batch at a time."""
    rows = float64.rows(pre.size)
    for i in range(0, len(images), rows):
        yield normalize(np.asarray(images[i : i + rows]), pre).transpose(0, 2, 3, 1)


def convert(
    net,
    pre: Preprocess,
    out_dir: Path,
    calibration: np.ndarray | None = None,
    ranges: str = "mse",
    int4: dict | None = None,
) -> dict[str, Path]:
    """Write the float32 file and, with `calibration` (uint8 images decoded with `pre`), the full-int8 file whose
    activation ranges follow the rule `ranges`; `int4` {"weights": int4|mixed, "layers": conv names} adds
    model_<weights>.tflite with those convs in INT4. Returns {"float32": path, "int8": path, "int4": path}."""
    fg = floatgraph.from_model(net, pre.size)
    out = {"float32": Path(out_dir) / "model_float32.tflite"}
    write_bytes(out["float32"], serialise(fg))
    if calibration is None:
        return out
    found = ranges_mod.measure(fg, lambda: batches(calibration, pre), ranges)
    out["int8"] = Path(out_dir) / "model_int8.tflite"
    write_bytes(out["int8"], serialise(fg, qgraph.quantise(fg, found)))
    if int4:
        out["int4"] = Path(out_dir) / f"model_{int4['weights']}.tflite"
        write_bytes(out["int4"], serialise(fg, qgraph.quantise(fg, found, set(int4["layers"]))))
    return out
