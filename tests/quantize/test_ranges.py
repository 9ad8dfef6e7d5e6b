"""float64 calibration ranges: equal to what the float32 graph computes, up to float32 rounding."""

import numpy as np
import pytest

from sqz.quantize.ranges import float64_ranges


@pytest.mark.slow
def test_float64_ranges_match_the_float32_interpreter(tiny_export, small_dataset):
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import schema_py_generated as schema

    from sqz.quantize.calibrate import calibration_set

    out, rep = tiny_export
    buf = (out / "model_float32.tflite").read_bytes()
    x = calibration_set(small_dataset.train.x, small_dataset.preprocess, 40)
    ranges = float64_ranges(schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0)), x)
    it = Interpreter(model_content=buf, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    seen: dict[int, list[float]] = {}
    for img in x:
        it.set_tensor(it.get_input_details()[0]["index"], img[None])
        it.invoke()
        for i in ranges:
            v = it.get_tensor(i)
            lo, hi = seen.get(i, [np.inf, -np.inf])
            seen[i] = [min(lo, float(v.min())), max(hi, float(v.max()))]
    assert len(ranges) > 30 and set(seen) == set(ranges)
    streamed = float64_ranges(schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0)),
                              (x[i:i + 7] for i in range(0, len(x), 7)))
    as_float32 = lambda r: {i: (np.float32(lo), np.float32(hi)) for i, (lo, hi) in r.items()}
    assert as_float32(streamed) == as_float32(ranges)  # float64 sums may differ in the last bit by batch size
    for i, (lo, hi) in ranges.items():
        scale = max(abs(lo), abs(hi), 1e-6)
        assert abs(lo - seen[i][0]) <= 1e-5 * scale and abs(hi - seen[i][1]) <= 1e-5 * scale, i
