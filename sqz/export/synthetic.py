"""A full-int8 .tflite of any architecture without training: He-initialised random weights, activation ranges
calibrated on random images. For kernel tests and instruction counts, where the values do not matter but every
operator, shape and quantisation parameter must be real."""

from __future__ import annotations

import numpy as np

from sqz.quantize.flatbuffer import serialise
from sqz.quantize.floatgraph import placeholder
from sqz.quantize.qgraph import quantise
from sqz.quantize.ranges import measure
from sqz.train.arch import ArchConfig


def random_int8(cfg: ArchConfig, size: int, seed: int = 0, images: int = 8, int4: bool = False) -> bytes:
    """The .tflite bytes of `cfg` at a `size`² input with random weights (dead taps removed); with `int4`, every
    conv but the first has INT4 weights."""
    rng = np.random.default_rng(seed)
    fg = placeholder(cfg, size)
    for c in fg.convs.values():
        fan_in = int(np.prod(c.weight.shape[1:]))
        c.weight[...] = rng.normal(0, np.sqrt(2 / fan_in), c.weight.shape).astype(np.float32)
        c.bias[...] = rng.normal(0, 0.05, c.bias.shape).astype(np.float32)
    x = rng.normal(0, 1, (images, size, size, cfg.in_channels)).astype(np.float32)
    ranges = measure(fg, lambda: [x], "minmax")
    four = {c.name for i, c in sorted(fg.convs.items())[1:]} if int4 else set()
    return serialise(fg, quantise(fg, ranges, int4=four))
