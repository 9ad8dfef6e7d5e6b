"""Checkpoint → single-file ONNX, checked with onnx.checker, compared against torch with onnxruntime."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from sqz.runtime.onnx import ONNXSession
from sqz.train.model import SqueezeNet

OPSET = 17
INPUT, OUTPUT = "input", "logits"


def export_onnx(model: SqueezeNet, path: Path, size: int, opset: int = OPSET) -> Path:
    """Write `model` (eval mode, BatchNorm folded) as ONNX with a dynamic batch, and check it."""
    import onnx

    dummy = torch.zeros(1, model.cfg.in_channels, size, size)
    buf = io.BytesIO()
    torch.onnx.export(
        model.eval(),
        (dummy,),
        buf,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        opset_version=opset,
        do_constant_folding=True,
        dynamo=False,
    )
    proto = onnx.load_from_string(buf.getvalue())
    proto.producer_name, proto.producer_version = "sqz", ""
    onnx.checker.check_model(proto, full_check=True)
    path.write_bytes(proto.SerializeToString())
    return path


def chunk(x: np.ndarray, values: int = 1 << 19) -> int:
    """Images per forward pass so that a batch holds about `values` input values (2 MB): 512 at 32², 3 at 224²."""
    return max(1, min(512, values // max(1, x[0].size)))


@torch.no_grad()
def parity(model: SqueezeNet, onnx_path: Path, x: np.ndarray) -> dict:
    """Max abs logit difference and top-1 agreement of ONNX Runtime against torch on `x` (NCHW)."""
    rows = chunk(x)
    ref = torch.cat([model(torch.from_numpy(x[i : i + rows])) for i in range(0, len(x), rows)]).numpy()
    got = ONNXSession(onnx_path).run(x, batch=rows)
    return {
        "images": int(len(x)),
        "max_abs_diff": float(np.abs(ref - got).max()),
        "top1_agreement": float((ref.argmax(1) == got.argmax(1)).mean()),
    }
