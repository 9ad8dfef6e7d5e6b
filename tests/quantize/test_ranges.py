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


def _error(hist: np.ndarray, lo: float, hi: float, r: tuple[float, float]) -> float:
    """Squared rounding + clipping error of 255 steps over `r` for values histogrammed over [lo, hi]."""
    c = lo + (np.arange(len(hist)) + 0.5) * (hi - lo) / len(hist)
    step = (r[1] - r[0]) / 255
    q = np.clip(np.round((c - r[0]) / step), 0, 255) * step + r[0]
    return float((hist * (c - q) ** 2).sum() + hist.sum() * step * step / 12)


def test_least_error_range_clips_a_long_tail_and_keeps_a_full_one():
    from sqz.quantize.ranges import least_error_range

    rng = np.random.default_rng(0)
    tail = np.concatenate([rng.exponential(1.0, 200_000), [40.0]])  # a ReLU output with one outlier
    hist, _ = np.histogram(tail, 2048, (0.0, 40.0))
    lo, hi = least_error_range(hist, 0.0, 40.0)
    assert lo == 0.0 and 5.0 < hi < 30.0
    assert _error(hist, 0.0, 40.0, (lo, hi)) < 0.8 * _error(hist, 0.0, 40.0, (0.0, 40.0))
    flat, _ = np.histogram(rng.uniform(-3.0, 5.0, 100_000), 2048, (-3.0, 5.0))
    lo, hi = least_error_range(flat, -3.0, 5.0)
    assert lo <= 0.0 <= hi and hi > 4.8 and lo < -2.8  # nothing worth clipping
    assert least_error_range(np.zeros(2048), 0.0, 1.0) == (0.0, 1.0)
    assert least_error_range(hist, 2.0, 2.0) == (2.0, 2.0)


@pytest.mark.slow
def test_mse_ranges_narrow_hidden_activations_only(tiny_export, small_dataset):
    from tensorflow.lite.python import schema_py_generated as schema

    from sqz.quantize.calibrate import calibration_set
    from sqz.quantize.ranges import full_range_tensors, mse_ranges, recalibrate

    out, _ = tiny_export
    buf = (out / "model_float32.tflite").read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    x = calibration_set(small_dataset.train.x, small_dataset.preprocess, 40)
    full = float64_ranges(model, x)
    mse = mse_ranges(model, x)
    assert mse.keys() == full.keys()
    keep = full_range_tensors(model)
    sg = model.subgraphs[0]
    last_conv = max(i for i, op in enumerate(sg.operators)
                    if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.CONV_2D)
    assert sg.inputs[0] in keep and set(sg.outputs) <= keep and sg.operators[last_conv].outputs[0] in keep
    assert sg.operators[0].outputs[0] not in keep
    for i, (lo, hi) in mse.items():
        assert full[i][0] <= lo <= 0.0 or lo == full[i][0]
        assert hi <= full[i][1]
        if i in keep:
            assert (lo, hi) == full[i]
    narrowed = [i for i in mse if mse[i][1] < full[i][1]]
    assert len(narrowed) >= len(mse) // 3
    with pytest.raises(ValueError, match="minmax"):
        recalibrate(buf, buf, x, "percentile")
