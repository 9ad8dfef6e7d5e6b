"""Activation ranges for int8 calibration, computed in float64 so that they do not depend on the CPU.

TensorFlow's calibrator runs the float32 graph with kernels whose summation order follows the CPU
(cache-sized blocking, SIMD width), so its min/max, and through them every activation scale and
int32 bias, differed between x86-64 machines. Here the same graph is evaluated in float64 and each
range is rounded to float32 once: the result is the same on any CPU.

Two rules pick a range from what the calibration images produce: `minmax` spans every value seen;
`mse` (the default) narrows each hidden activation to the range whose 255 int8 steps give the least
squared error over a histogram of its values, clipping the rare largest ones. The graph input and the
classifier head (the last convolution onward) always keep their full range, so logits never saturate.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

RULES = ("mse", "minmax")
BINS = 2048
ACTIVATIONS = {0: lambda x: x, 1: lambda x: np.maximum(x, 0.0), 2: lambda x: np.clip(x, -1.0, 1.0),
               3: lambda x: np.clip(x, 0.0, 6.0)}
BATCH = 32


class Unsupported(Exception):
    """The graph holds an operator this evaluator does not implement."""


def _pads(size: int, k: int, stride: int, same: bool) -> tuple[int, int, int]:
    """(output size, pad before, pad after) with TFLite's SAME / VALID rules."""
    if not same:
        return (size - k) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def _windows(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, same: bool, fill: float):
    """Sliding kh×kw windows of NHWC `x` → (N, OH, OW, kh, kw, C), padded with `fill`."""
    oh, t, b = _pads(x.shape[1], kh, sh, same)
    ow, l, r = _pads(x.shape[2], kw, sw, same)
    x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=fill)
    w = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    return w[:, : (oh - 1) * sh + 1: sh, : (ow - 1) * sw + 1: sw].transpose(0, 1, 2, 4, 5, 3)


def _conv(x, w, b, o):
    if o.dilationHFactor != 1 or o.dilationWFactor != 1:
        raise Unsupported("dilated CONV_2D")
    win = _windows(x, w.shape[1], w.shape[2], o.strideH, o.strideW, o.padding == 0, 0.0)
    y = np.tensordot(win, w, axes=([3, 4, 5], [1, 2, 3]))
    return ACTIVATIONS[o.fusedActivationFunction](y + (0.0 if b is None else b))


def _pool(x, o, average: bool):
    same = o.padding == 0
    if not average:
        y = _windows(x, o.filterHeight, o.filterWidth, o.strideH, o.strideW, same, -np.inf).max(axis=(3, 4))
    else:
        win = _windows(x, o.filterHeight, o.filterWidth, o.strideH, o.strideW, same, 0.0)
        ones = _windows(np.ones_like(x[:1, ..., :1]), o.filterHeight, o.filterWidth, o.strideH, o.strideW, same, 0.0)
        y = win.sum(axis=(3, 4)) / ones.sum(axis=(3, 4))
    return ACTIVATIONS[o.fusedActivationFunction](y)


def _run_op(name: str, ins: list, o, out_shape):
    x = ins[0]
    if name == "CONV_2D":
        return _conv(x, ins[1], ins[2] if len(ins) > 2 else None, o)
    if name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return _pool(x, o, name == "AVERAGE_POOL_2D")
    if name == "CONCATENATION":
        return ACTIVATIONS[o.fusedActivationFunction](np.concatenate(ins, axis=o.axis))
    if name == "RESHAPE":
        return x.reshape((len(x), *[int(d) for d in out_shape[1:]]))
    if name == "MEAN":
        return x.mean(axis=tuple(int(a) for a in np.ravel(ins[1])), keepdims=bool(o.keepDims))
    if name == "PAD":
        return np.pad(x, [tuple(int(v) for v in p) for p in ins[1]])
    raise Unsupported(name)


def _batches(inputs) -> Iterable[np.ndarray]:
    """An array in slices of BATCH images, or any iterable of NHWC batches as it is."""
    if isinstance(inputs, np.ndarray):
        return (inputs[i:i + BATCH] for i in range(0, len(inputs), BATCH))
    return inputs


def _activations(model, inputs) -> Iterator[dict[int, np.ndarray]]:
    """{tensor index: float64 value} of every non-constant tensor of subgraph 0, one dict per batch."""
    sg = model.subgraphs[0]
    if len(sg.inputs) != 1:
        raise Unsupported(f"{len(sg.inputs)} inputs")
    names = _op_names(model)
    consts = _constants(model)
    for batch in _batches(inputs):
        vals = {sg.inputs[0]: np.asarray(batch, np.float64)}
        for op in sg.operators:
            name = names[op.opcodeIndex]
            ins = [None if i < 0 else vals[i] if i in vals else consts[i] for i in op.inputs]
            if len(op.outputs) != 1:
                raise Unsupported(f"{name} with {len(op.outputs)} outputs")
            vals[op.outputs[0]] = _run_op(name, ins, op.builtinOptions, sg.tensors[op.outputs[0]].shape)
        yield vals


def _op_names(model) -> list[str]:
    """The builtin operator name of each operator code of `model`."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return [names[c.builtinCode] for c in model.operatorCodes]


def _constants(model) -> dict[int, np.ndarray]:
    """{tensor index: float64 value} of every tensor of subgraph 0 that holds data."""
    sg = model.subgraphs[0]
    out = {}
    for i, t in enumerate(sg.tensors):
        data = model.buffers[t.buffer].data
        if data is None or len(data) == 0:
            continue
        dtype = {0: np.float32, 2: np.int32, 4: np.int64}.get(t.type)
        if dtype is None:
            raise Unsupported(f"constant of type {t.type}")
        out[i] = np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype).reshape(t.shape).astype(np.float64)
    return out


def float64_ranges(model, inputs: np.ndarray | Iterable[np.ndarray]) -> dict[int, tuple[float, float]]:
    """{tensor index: (min, max)} over `inputs` (NHWC, an array or batches of it) for every tensor of
    subgraph 0 of a float ModelT."""
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    for vals in _activations(model, inputs):
        for i, v in vals.items():
            lo[i] = min(lo.get(i, np.inf), float(v.min()))
            hi[i] = max(hi.get(i, -np.inf), float(v.max()))
    return {i: (lo[i], hi[i]) for i in lo}


def full_range_tensors(model) -> set[int]:
    """Tensors that keep their min/max under every rule: the graph input, and the classifier head, i.e.
    the graph outputs back through shape and pooling ops to the output of the last convolution."""
    sg = model.subgraphs[0]
    names = _op_names(model)
    producer = {op.outputs[0]: op for op in sg.operators}
    keep = set(sg.inputs)
    todo = list(sg.outputs)
    while todo:
        t = todo.pop()
        keep.add(t)
        op = producer.get(t)
        if op is not None and names[op.opcodeIndex] not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            todo += [i for i in op.inputs[:1] if i >= 0]
    return keep


def least_error_range(hist: np.ndarray, lo: float, hi: float, levels: int = 255) -> tuple[float, float]:
    """The sub-range of [lo, hi] (0 kept inside) whose `levels` uniform steps give the least squared error
    over values histogrammed in `hist` (equal bins over [lo, hi]): rounding plus clipping."""
    if hi <= lo or hist.sum() == 0:
        return lo, hi
    centres = lo + (np.arange(len(hist)) + 0.5) * (hi - lo) / len(hist)
    best = (np.inf, (lo, hi))
    for a in np.linspace(1.0, 0.2, 81):
        a_lo, a_hi = min(lo * a, 0.0) if lo < 0 else lo, max(hi * a, 0.0)
        step = (a_hi - a_lo) / levels
        if step <= 0:
            continue
        q = np.clip(np.round((centres - a_lo) / step), 0, levels) * step + a_lo
        err = float((hist * (centres - q) ** 2).sum() + hist.sum() * step * step / 12)
        if err < best[0]:
            best = (err, (a_lo, a_hi))
    return best[1]


def mse_ranges(model, inputs: Callable[[], Iterable[np.ndarray]] | np.ndarray) -> dict[int, tuple[float, float]]:
    """`float64_ranges` with every hidden activation narrowed by `least_error_range`; two passes over
    `inputs` (an array, or a callable returning fresh batches)."""
    again = (lambda: inputs) if isinstance(inputs, np.ndarray) else inputs
    full = float64_ranges(model, again())
    keep = full_range_tensors(model)
    hists: dict[int, np.ndarray] = {}
    for vals in _activations(model, again()):
        for i, v in vals.items():
            if i in keep or full[i][1] <= full[i][0]:
                continue
            h, _ = np.histogram(v, BINS, full[i])
            hists[i] = hists.get(i, 0) + h
    return {i: (least_error_range(hists[i], *r) if i in hists else r) for i, r in full.items()}


def recalibrate(calibrated: bytes, float_model: bytes, inputs: Callable[[], Iterable[np.ndarray]] | np.ndarray,
                rule: str = "mse") -> bytes:
    """`calibrated` (TensorFlow's min/max stats) with every min/max replaced by its float64 value under
    `rule` (see the module); `inputs` is an array or a callable returning fresh batches."""
    if rule not in RULES:
        raise ValueError(f"unknown range rule {rule!r}; one of {', '.join(RULES)}")
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    load = lambda b: schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(b, 0))
    float_graph = load(float_model)
    ranges = (mse_ranges(float_graph, inputs) if rule == "mse"
              else float64_ranges(float_graph, inputs if isinstance(inputs, np.ndarray) else inputs()))
    model = load(calibrated)
    for i, t in enumerate(model.subgraphs[0].tensors):
        q = t.quantization
        if q is None or q.min is None or len(q.min) == 0:
            continue
        if i not in ranges or len(q.min) != 1:
            raise Unsupported(f"tensor {i} has calibration stats but no float64 range")
        q.min, q.max = [float(np.float32(ranges[i][0]))], [float(np.float32(ranges[i][1]))]
    builder = flatbuffers.Builder(len(calibrated))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
