"""The quantised graph: a float graph with int8 (or INT4) weights, int32 biases and every scale and zero point.

TFLite's int8 scheme: weights symmetric per output channel (zero point 0, values in -127..127, or -7..7 for
INT4), biases int32 at input scale × weight scale, activations asymmetric with 0 exactly representable. Scales
and values follow TFLite's quantiser: elementwise float32 arithmetic (IEEE-exact on every CPU) from the float32
ranges, rounding half away from zero. Max-pool, pad and reshape keep their input's scale, a concatenation's
inputs its output's (`sqz.quantize.ranges.owners`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqz.quantize.floatgraph import FloatGraph
from sqz.quantize.ranges import Ranges, owners

INT8_LEVELS = (-128, 127)
WEIGHT_MAX = {8: 127, 4: 7}
INT32 = np.iinfo(np.int32)


@dataclass(frozen=True)
class Activation:
    """An int8 tensor's affine quantisation: real = scale × (q − zero_point)."""

    scale: float
    zero_point: int


@dataclass
class QConv:
    """A convolution's integer parameters: `bits`-bit weights (OHWI, stored in int8), their per-channel scales,
    int32 biases and theirs."""

    bits: int
    weight: np.ndarray
    weight_scales: np.ndarray
    bias: np.ndarray
    bias_scales: np.ndarray


@dataclass
class QuantGraph:
    """`graph` with an Activation for every tensor (op index, -1 the input) and a QConv for every conv."""

    graph: FloatGraph
    acts: dict[int, Activation]
    convs: dict[int, QConv]


def round_away(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (C's `round`), in float64 (exact for float32 inputs)."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def activation(lo: float, hi: float) -> Activation:
    """Asymmetric int8 parameters for values in [lo, hi], widened to hold 0 (float32, as TFLite's quantiser);
    an all-zero tensor gets scale 1."""
    f = np.float32
    qmin, qmax = f(INT8_LEVELS[0]), f(INT8_LEVELS[1])
    rmin, rmax = min(f(lo), f(0)), max(f(hi), f(0))
    scale = (rmax - rmin) / (qmax - qmin)
    if scale == 0:
        return Activation(1.0, INT8_LEVELS[0])
    zero = qmin - rmin / scale
    return Activation(float(scale), int(min(max(round_away(zero), qmin), qmax)))


def weights(w: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(values in ±(2^(bits-1) − 1), float32 per-output-channel scales max|w| / that) of an OHWI float32 filter,
    each value rounded from w × (1 / scale) in float32. An all-zero channel takes the layer's largest scale."""
    top = np.float32(WEIGHT_MAX[bits])
    amax = np.abs(w.reshape(len(w), -1)).max(1).astype(np.float32)
    amax = np.where(amax > 0, amax, amax.max() if amax.max() > 0 else np.float32(1)).astype(np.float32)
    scale = amax / top
    inv = (np.float32(1) / scale).reshape(-1, *([1] * (w.ndim - 1)))
    q = round_away((w.astype(np.float32) * inv).astype(np.float32))
    return np.clip(q, -top, top).astype(np.int8), scale


def bias(b: np.ndarray, in_scale: float, w_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 values, float32 scales in_scale × w_scale) of a float32 bias; each value rounded from
    b × (1 / scale) in float32."""
    scales = (np.float32(in_scale) * w_scales.astype(np.float32)).astype(np.float32)
    inv = np.where(scales > 0, 1.0 / np.maximum(scales.astype(np.float64), 1e-300), 0.0).astype(np.float32)
    q = round_away((b.astype(np.float32) * inv).astype(np.float32))
    return np.clip(q, -INT32.max, INT32.max).astype(np.int32), scales


def quantise(fg: FloatGraph, ranges: Ranges, int4: set[str] = frozenset()) -> QuantGraph:
    """The quantised graph of `fg` with activation `ranges` (`sqz.quantize.ranges.measure`); the convs named in
    `int4` get 4-bit weights."""
    own = owners(fg)
    acts = {t: activation(*ranges[o]) for t, o in own.items()}
    convs = {}
    for i, c in fg.convs.items():
        bits = 4 if c.name in int4 else 8
        q, ws = weights(c.weight, bits)
        qb, bs = bias(c.bias, acts[fg.ops[i].inputs[0]].scale, ws)
        convs[i] = QConv(bits, q, ws, qb, bs)
    unknown = set(int4) - {c.name for c in fg.convs.values()}
    if unknown:
        raise ValueError(f"no conv named {', '.join(sorted(unknown))} in the graph")
    return QuantGraph(fg, acts, convs)


def placeholder_ranges(fg: FloatGraph) -> Ranges:
    """A range for every tensor that owns a scale, for sizing a file before calibration."""
    return {t: (-1.0, 1.0) for t in set(owners(fg).values())}
