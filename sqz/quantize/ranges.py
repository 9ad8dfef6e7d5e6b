"""Activation ranges for int8 calibration, measured in float64 and rounded to float32 once (the same on any CPU).

Two rules pick a range from what the calibration images produce: `minmax` spans every value seen;
`mse` (the default) narrows each hidden activation to the range whose 255 int8 steps give the least
squared error over a histogram of its values, clipping the rare largest ones. The graph input and the
classifier head (the last convolution onward) always keep their full range, so logits never saturate.
Both take one pass over the images: the histogram's bins double in width whenever a larger value arrives.

Only tensors whose range decides a scale are measured: TFLite's kernels assume that max-pool, pad and
reshape keep their input's scale and that a concatenation's inputs share its output's (`owners`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from sqz.errors import ModelFileError
from sqz.quantize.float64 import float64_params, forward
from sqz.quantize.floatgraph import FloatGraph

RULES = ("mse", "minmax")
BINS = 4096
SAME_AS_INPUT = ("maxpool", "pad", "reshape")
Ranges = dict[int, tuple[float, float]]


def owners(fg: FloatGraph) -> dict[int, int]:
    """{tensor: the tensor whose range quantises it}; tensors are op indices, -1 the graph input. Single-input
    same-scale ops take their input's, the inputs of a concatenation take its output's."""
    own = {-1: -1}
    for i, op in enumerate(fg.ops):
        own[i] = own[op.inputs[0]] if op.kind in SAME_AS_INPUT else i
    for i, op in enumerate(fg.ops):
        if op.kind == "concat":
            for j in op.inputs:
                if own[j] != j or len(fg.consumers()[j]) != 1:
                    raise ValueError(f"concatenation {i}: input {j} cannot take its scale")
                own[j] = i
    return own


def full_range_tensors(fg: FloatGraph) -> set[int]:
    """The graph input and the classifier head: the output back through shape and pooling ops to the last conv."""
    keep = {-1}
    i = len(fg.ops) - 1
    while i >= 0:
        keep.add(i)
        if fg.ops[i].kind == "conv":
            break
        i = fg.ops[i].inputs[0]
    return keep


def least_error_range(
    hist: np.ndarray, lo: float, hi: float, levels: int = 255, centres: np.ndarray | None = None
) -> tuple[float, float]:
    """The sub-range of [lo, hi] (0 kept inside) whose `levels` uniform steps give the least squared error
    over values histogrammed in `hist` (at `centres`; default: equal bins over [lo, hi]): rounding plus clipping."""
    if hi <= lo or hist.sum() == 0:
        return lo, hi
    if centres is None:
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


@dataclass
class Histogram:
    """Counts of a tensor's values in BINS equal bins over [0, top) and, for negative values, (-top, 0]; `top` is
    a power of two, doubled (bins merged pairwise, exactly) whenever a value reaches it."""

    top: float = 0.0
    pos: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))
    neg: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.int64))

    def add(self, v: np.ndarray, lo: float, hi: float) -> None:
        """Count `v`, whose least and largest values are `lo` and `hi`."""
        reach = max(hi, -lo)
        if reach >= self.top:
            self._grow(math.ldexp(1.0, math.frexp(reach)[1]) if reach > 0 else 1.0)
        if lo >= 0:
            self.pos += self._count(v)
        else:
            self.pos += self._count(v[v >= 0])
            self.neg += self._count(-v[v < 0])

    def _count(self, a: np.ndarray) -> np.ndarray:
        scaled = np.multiply(a.reshape(-1), BINS / self.top)
        return np.bincount(scaled.astype(np.intp), minlength=BINS)

    def _grow(self, top: float) -> None:
        f = int(round(top / self.top)) if self.top else 1
        for name in ("pos", "neg"):
            h = getattr(self, name)
            if f >= BINS:
                merged = np.zeros(BINS, np.int64)
                merged[0] = h.sum()
            else:
                merged = np.zeros(BINS, np.int64)
                merged[: BINS // f] = h.reshape(-1, f).sum(1)
            setattr(self, name, merged)
        self.top = top

    def narrowed(self, lo: float, hi: float) -> tuple[float, float]:
        """`least_error_range` of [lo, hi] over these counts."""
        width = self.top / BINS
        centres = (np.arange(BINS) + 0.5) * width
        return least_error_range(
            np.concatenate([self.neg[::-1], self.pos]), lo, hi, centres=np.concatenate([-centres[::-1], centres])
        )


def _pass(fg: FloatGraph, batches: Iterable[np.ndarray], visit: Callable[[int, np.ndarray], None]) -> None:
    params = float64_params(fg)
    for x in batches:
        forward(fg, x, visit, params)


def observe(
    fg: FloatGraph, batches: Iterable[np.ndarray], tensors: set[int], histogram: set[int] = frozenset()
) -> tuple[Ranges, dict[int, Histogram]]:
    """({tensor: (min, max)} in float64 over every image of `batches` (NHWC), {tensor: Histogram} for those in
    `histogram`), in one pass."""
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    hists = {i: Histogram() for i in histogram}

    def visit(i: int, v: np.ndarray) -> None:
        if i in tensors:
            v_lo, v_hi = float(v.min()), float(v.max())
            if not (np.isfinite(v_lo) and np.isfinite(v_hi)):
                raise ModelFileError(
                    f"operator {i} gives NaN or infinite values on the calibration images: the "
                    "checkpoint's weights are damaged or its training diverged; retrain it"
                )
            lo[i], hi[i] = min(lo.get(i, np.inf), v_lo), max(hi.get(i, -np.inf), v_hi)
            if i in hists:
                hists[i].add(v, v_lo, v_hi)

    _pass(fg, batches, visit)
    return {i: (lo[i], hi[i]) for i in lo}, hists


def minmax_ranges(fg: FloatGraph, batches: Iterable[np.ndarray], tensors: set[int]) -> Ranges:
    """{tensor: (min, max)} in float64 over every image of `batches` (NHWC)."""
    return observe(fg, batches, tensors)[0]


def mse_ranges(fg: FloatGraph, batches: Iterable[np.ndarray], tensors: set[int]) -> Ranges:
    """`minmax_ranges` with every hidden activation narrowed by `least_error_range` over its histogram."""
    full, hists = observe(fg, batches, tensors, tensors - full_range_tensors(fg))
    return {i: (hists[i].narrowed(*r) if i in hists and r[1] > r[0] else r) for i, r in full.items()}


def measure(fg: FloatGraph, batches: Callable[[], Iterable[np.ndarray]], rule: str = "mse") -> Ranges:
    """{tensor: (min, max) as float32 values} for every tensor that owns a scale, over the calibration images
    `batches()` yields (NHWC float32 as the model sees them)."""
    if rule not in RULES:
        raise ValueError(f"unknown range rule {rule!r}; one of {', '.join(RULES)}")
    tensors = set(owners(fg).values())
    found = (mse_ranges if rule == "mse" else minmax_ranges)(fg, batches(), tensors)
    if set(found) != tensors:
        raise ValueError("no calibration images")
    return {i: (float(np.float32(lo)), float(np.float32(hi))) for i, (lo, hi) in found.items()}
