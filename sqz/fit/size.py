"""File bytes of the full-int8 .tflite sqz-export would write, before anything is trained.

The prediction is sqz's own writer run on the architecture's graph with zero weights: the file it would write,
so the byte count is exact by construction. Weight values never change the size (no constant is shared).
"""

from __future__ import annotations

import math

from sqz.quantize import floatgraph, qgraph
from sqz.quantize import graph as graph_mod
from sqz.quantize.flatbuffer import serialise
from sqz.train.arch import ArchConfig

BIAS_BYTES = 4  # an int32 bias
QUANT_BYTES = 12  # one quantisation entry: a float32 scale and an int64 zero point
CHANNEL_BYTES = BIAS_BYTES + 2 * QUANT_BYTES  # a conv output channel's bias, and its weights' and bias's entries


def serialised(cfg: ArchConfig, size: int, dead_taps: bool = True, int4: bool = False) -> bytes:
    """The full-int8 file of `cfg` at `size`² with zero weights (every conv in INT4 when `int4`)."""
    fg = floatgraph.placeholder(cfg, size, dead_taps)
    layers = {c.name for c in fg.convs.values()} if int4 else set()
    return serialise(fg, qgraph.quantise(fg, qgraph.placeholder_ranges(fg), layers))


def conv_bytes(weights: int, channels: int) -> int:
    """Bytes convs with `weights` int8 weights and `channels` output channels put in the full-int8 file,
    flatbuffer structure and activation quantisation aside."""
    return weights + CHANNEL_BYTES * channels


def conv_totals(graph: list[graph_mod.Op]) -> tuple[int, int]:
    """(int8 weights, output channels) summed over the convs of `graph`."""
    convs = [op for op in graph if op.kind == "conv"]
    return sum(math.prod(op.consts[0][0]) for op in convs), sum(op.consts[1][0][0] for op in convs)


def lower_bound(graph: list[graph_mod.Op]) -> int:
    """Bytes no full-int8 file of `graph` can be under: its convs' `conv_bytes`."""
    return conv_bytes(*conv_totals(graph))


def breakdown(graph: list[graph_mod.Op], total: int) -> dict:
    """Where the bytes go: int8 weights, int32 biases, per-channel quantisation (a float32 scale and an int64
    zero point per output channel, for weights and again for biases), and the flatbuffer structure."""
    weights, channels = conv_totals(graph)
    biases = BIAS_BYTES * channels
    quant = 2 * QUANT_BYTES * channels + QUANT_BYTES * (len(graph) + 1)
    return {
        "weights_int8": weights,
        "biases_int32": biases,
        "quantization": quant,
        "structure": total - weights - biases - quant,
    }


def predict(cfg: ArchConfig, size: int, dead_taps: bool = True, weights: str = "int8") -> dict:
    """`{"file_bytes", "parameters", "dead_tap_fires", "breakdown"}` for `cfg` exported at a `size`² input;
    `weights` int4: the file with every conv filter in INT4 (`int8_file_bytes` beside it)."""
    if weights not in ("int8", "int4"):
        raise ValueError(f"weights {weights!r}: predicted for int8 or int4")
    graph = graph_mod.ops(cfg, size, dead_taps)
    total = len(serialised(cfg, size, dead_taps))
    out = {
        "file_bytes": total,
        "parameters": graph_mod.parameters(graph),
        "dead_tap_fires": [i + 2 for i in graph_mod.dead_fires(cfg, size)] if dead_taps else [],
        "breakdown": breakdown(graph, total),
    }
    if weights == "int4":
        out.update(file_bytes=len(serialised(cfg, size, dead_taps, int4=True)), int8_file_bytes=total)
    return out
