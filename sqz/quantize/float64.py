"""Run a float graph in float64 with numpy (NHWC), visiting every activation once and freeing it after its last use.

Calibration measures activation ranges here rather than in float32 kernels, whose summation order follows the
CPU: rounded to float32 once, the ranges come out the same on any machine.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sqz.quantize.floatgraph import FloatGraph


def pads(size: int, k: int, stride: int, same: bool) -> tuple[int, int, int]:
    """(output size, pad before, pad after) under TFLite's SAME / VALID rules."""
    if not same:
        return (size - k) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, same: bool) -> np.ndarray:
    """ReLU(conv(x, w) + b) for NHWC `x` and OHWI `w` (both float64), as one matrix product: a k×k kernel reads
    k² shifted copies of the input laid side by side (tap-major, channels innermost, as OHWI stores them)."""
    n, h, wd, c = x.shape
    o, kh, kw, _ = w.shape
    if kh == kw == 1 and stride == 1:
        y = x.reshape(-1, c) @ w.reshape(o, c).T
        oh, ow = h, wd
    else:
        oh, t, bt = pads(h, kh, stride, same)
        ow, lf, r = pads(wd, kw, stride, same)
        if t or bt or lf or r:
            x = np.pad(x, ((0, 0), (t, bt), (lf, r), (0, 0)))
        cols = np.empty((n, oh, ow, kh * kw, c))
        for i in range(kh):
            for j in range(kw):
                cols[:, :, :, i * kw + j] = x[
                    :, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride
                ]
        y = cols.reshape(n * oh * ow, kh * kw * c) @ w.reshape(o, kh * kw * c).T
    y += b
    np.maximum(y, 0.0, out=y)
    return y.reshape(n, oh, ow, o)


def max_pool(x: np.ndarray, k: int = 3, stride: int = 2) -> np.ndarray:
    """VALID k×k max-pool with `stride`, as the maximum of k² strided slices."""
    oh, ow = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    y = None
    for i in range(k):
        for j in range(k):
            s = x[:, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride]
            y = s.copy() if y is None else np.maximum(y, s, out=y)
    return y


def forward(
    fg: FloatGraph, x: np.ndarray, visit: Callable[[int, np.ndarray], None] | None = None, params: dict | None = None
) -> np.ndarray:
    """The output of `fg` on NHWC `x` in float64; `visit(i, value)` sees each op's output (-1: the input).
    `params`: float64 weights by op index (from `float64_params`), to convert them once for many batches."""
    params = params or float64_params(fg)
    uses = {i: len(c) for i, c in fg.consumers().items()}
    vals = {-1: np.asarray(x, np.float64)}
    if visit:
        visit(-1, vals[-1])
    for i, op in enumerate(fg.ops):
        ins = [vals[j] for j in op.inputs]
        if op.kind == "conv":
            w, b = params[i]
            y = conv(ins[0], w, b, op.options["stride"], op.options["padding"] == "same")
        elif op.kind == "maxpool":
            y = max_pool(ins[0])
        elif op.kind == "pad":
            y = np.pad(ins[0], ((0, 0), (0, op.out[1] - ins[0].shape[1]), (0, op.out[2] - ins[0].shape[2]), (0, 0)))
        elif op.kind == "concat":
            y = np.concatenate(ins, axis=3)
        elif op.kind == "add":
            y = ins[0] + ins[1]
        elif op.kind == "mean":
            y = ins[0].mean(axis=(1, 2), keepdims=True)
        elif op.kind == "reshape":
            y = ins[0].reshape(len(ins[0]), *op.out[1:])
        else:
            raise ValueError(f"operator {op.kind!r} has no float64 evaluation")
        if visit:
            visit(i, y)
        vals[i] = y
        for j in set(op.inputs):
            uses[j] -= op.inputs.count(j)
            if uses[j] == 0:
                del vals[j]
    return vals[len(fg.ops) - 1]


def float64_params(fg: FloatGraph) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{conv op index: (weight, bias)} in float64."""
    return {i: (c.weight.astype(np.float64), c.bias.astype(np.float64)) for i, c in fg.convs.items()}


def rows(size: int) -> int:
    """Images per float64 batch: 32 up to 64², fewer above so that activations stay near 100 MB."""
    return max(1, min(32, 32 * 64 * 64 // (size * size)))
