"""`python -m sqz.export.onnx2tf_run ARGS`: onnx2tf with int8 calibration ranges computed in float64.

TensorFlow's calibrator gives CPU-dependent float32 ranges; this entry point, run in the conversion
subprocess, lets it calibrate and then replaces every range by `sqz.quantize.ranges` (see there). It also turns
off onnx2tf 1.29.24's Add "rescue guard", which breaks every bypass (see `_keep_add_layout`).
"""

from __future__ import annotations

import sys

import numpy as np


def _patch() -> None:
    from tensorflow.lite.python.optimize import calibrator

    from sqz.quantize.ranges import Unsupported, recalibrate

    original = calibrator.Calibrator.calibrate

    def calibrate(self, dataset_gen):
        samples = list(dataset_gen())
        stats = original(self, lambda: iter(samples))
        try:
            if not all(isinstance(s, dict) and len(s) == 1 for s in samples):
                raise Unsupported("a model with several inputs")
            inputs = np.concatenate([np.asarray(next(iter(s.values()))) for s in samples])
            return recalibrate(stats, self._model_content, inputs)
        except Unsupported as exc:
            print(f"sqz: float64 calibration cannot evaluate {exc}; TensorFlow's float32 ranges kept "
                  "(the int8 bytes may then differ between CPUs)", file=sys.stderr)
            return stats

    calibrator.Calibrator.calibrate = calibrate


def _keep_add_layout() -> None:
    """onnx2tf 1.29.24's Add compares its NHWC result with the ONNX (NCHW) output shape, finds them unequal
    whenever channels != height, and "rescues" the sum by transposing both inputs to NCHW, which breaks the
    next layer of every SqueezeNet bypass. That transpose is used only there: an identity turns the rescue off."""
    import onnx2tf.ops.Add as add_op

    add_op.transpose_with_flexing_deterrence = lambda input_tensor, perm, **kwargs: input_tensor


def main(argv: list[str]) -> None:
    _patch()
    _keep_add_layout()
    from onnx2tf import main as onnx2tf_main

    sys.argv = ["onnx2tf", *argv]
    onnx2tf_main()


if __name__ == "__main__":
    main(sys.argv[1:])
