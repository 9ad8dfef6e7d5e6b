"""`python -m sqz.export.onnx2tf_run ARGS`: onnx2tf with int8 calibration ranges computed in float64.

TensorFlow's calibrator gives CPU-dependent float32 ranges; this entry point, run in the conversion
subprocess, lets it calibrate and then replaces every range by `sqz.quantize.ranges` (see there).
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


def main(argv: list[str]) -> None:
    _patch()
    from onnx2tf import main as onnx2tf_main

    sys.argv = ["onnx2tf", *argv]
    onnx2tf_main()


if __name__ == "__main__":
    main(sys.argv[1:])
