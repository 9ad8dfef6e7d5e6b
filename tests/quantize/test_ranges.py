"""float64 calibration ranges: what the written float32 file computes, up to float32 rounding; the mse rule."""

import numpy as np
import pytest


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


@pytest.fixture(scope="module")
def tiny_graph(tiny_run, small_dataset):
    from sqz.export.tflite import batches
    from sqz.quantize import floatgraph
    from sqz.train import checkpoint
    from sqz.train.surgery import fold_batchnorm, remove_dead_taps

    model, _ = checkpoint.load(tiny_run / "model.pt")
    pre = small_dataset.preprocess
    net, _ = remove_dead_taps(fold_batchnorm(model), pre.size)
    images = small_dataset.train.x[:40]
    return floatgraph.from_model(net, pre.size), lambda: batches(images, pre), images


def test_float64_ranges_match_the_float32_interpreter(tiny_graph, small_dataset):
    from ai_edge_litert.interpreter import Interpreter

    from sqz.quantize.flatbuffer import serialise
    from sqz.quantize.ranges import minmax_ranges, owners
    from sqz.runtime.preprocess import normalize

    fg, batches, images = tiny_graph
    tensors = set(owners(fg).values())
    ranges = minmax_ranges(fg, batches(), tensors)
    buf = serialise(fg)
    it = Interpreter(model_content=buf, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    ops = it._get_ops_details()
    index = {-1: it.get_input_details()[0]["index"], **{n: op["outputs"][0] for n, op in enumerate(ops)}}
    seen: dict[int, list[float]] = {}
    for img in normalize(images, small_dataset.preprocess).transpose(0, 2, 3, 1):
        it.set_tensor(index[-1], img[None])
        it.invoke()
        for i in ranges:
            v = it.get_tensor(index[i])
            lo, hi = seen.get(i, [np.inf, -np.inf])
            seen[i] = [min(lo, float(v.min())), max(hi, float(v.max()))]
    assert len(ranges) > 15 and set(seen) == set(ranges) == tensors
    whole = np.concatenate(list(batches()))
    streamed = minmax_ranges(fg, (whole[i : i + 7] for i in range(0, len(whole), 7)), tensors)  # other sums
    as_float32 = lambda r: {i: (np.float32(lo), np.float32(hi)) for i, (lo, hi) in r.items()}
    assert as_float32(streamed) == as_float32(ranges)
    for i, (lo, hi) in ranges.items():
        scale = max(abs(lo), abs(hi), 1e-6)
        assert abs(lo - seen[i][0]) <= 1e-5 * scale and abs(hi - seen[i][1]) <= 1e-5 * scale, i


def test_mse_ranges_narrow_hidden_activations_only(tiny_graph):
    from sqz.quantize.ranges import full_range_tensors, measure

    fg, batches, _ = tiny_graph
    full = measure(fg, batches, "minmax")
    mse = measure(fg, batches, "mse")
    assert mse.keys() == full.keys()
    keep = full_range_tensors(fg)
    last_conv = max(i for i, op in enumerate(fg.ops) if op.kind == "conv")
    assert -1 in keep and len(fg.ops) - 1 in keep and last_conv in keep and 0 not in keep
    for i, (lo, hi) in mse.items():
        assert full[i][0] <= lo <= 0.0 or lo == full[i][0]
        assert hi <= full[i][1]
        if i in keep:
            assert (lo, hi) == full[i]
    narrowed = [i for i in mse if mse[i][1] < full[i][1]]
    assert len(narrowed) >= len(mse) // 3
    with pytest.raises(ValueError, match="minmax"):
        measure(fg, batches, "percentile")


def test_a_diverged_model_is_one_clear_error(tiny_graph):
    from sqz.errors import ModelFileError
    from sqz.quantize.ranges import measure

    fg, batches, _ = tiny_graph
    conv = next(iter(fg.convs.values()))
    saved = conv.weight.copy()
    conv.weight[0, 0, 0, 0] = np.nan
    try:
        with pytest.raises(ModelFileError, match="NaN or infinite.*retrain"):
            measure(fg, batches, "mse")
    finally:
        conv.weight[...] = saved
