"""Run inside bench/.venv-litert-torch: the same checkpoint → TFLite with litert-torch, PT2E full int8.

usage: peer_convert.py CHECKPOINT CALIBRATION.npy OUT.tflite   (calibration: float32 NCHW, normalised)
Prints one JSON line: the litert-torch version and the conversion's wall time in seconds.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch


def main(ckpt: str, calib_path: str, out: str) -> dict:
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    from sqz.train import checkpoint
    from sqz.train.surgery import fold_batchnorm

    t = time.perf_counter()
    model = fold_batchnorm(checkpoint.load(ckpt)[0]).eval()
    calib = torch.from_numpy(np.load(calib_path))
    args = (calib[:1],)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    )
    graph = torch.export.export(model, args).module()
    graph = quantize_pt2e.prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for i in range(len(calib)):
            graph(calib[i : i + 1])
    graph = quantize_pt2e.convert_pt2e(graph, fold_quantize=False)
    edge = litert_torch.convert(graph, args, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    edge.export(out)
    return {
        "litert_torch": litert_torch.__version__,
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t, 2),
        "calibration_images": int(len(calib)),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
