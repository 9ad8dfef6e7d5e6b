"""The float graph sqz writes: `graph.ops` of a model's architecture with each convolution's float32 weights.

Built from the folded, dead-tap-free PyTorch model (or from zeros, to size a file before training); weights are
OHWI as TFLite stores them, biases float32, each conv keeps its PyTorch module name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqz.quantize.graph import Op, ops
from sqz.train.arch import ArchConfig


@dataclass
class Conv:
    """One convolution's parameters: float32 weight (out, kh, kw, in), float32 bias (out,), module name."""

    weight: np.ndarray
    bias: np.ndarray
    name: str


@dataclass
class FloatGraph:
    """Operators in execution order (op inputs index this list, -1 the graph input) and their conv parameters."""

    ops: list[Op]
    size: int
    channels: int
    convs: dict[int, Conv]

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, self.size, self.size, self.channels)

    def consumers(self) -> dict[int, list[int]]:
        """{tensor (op index, -1 the input): the ops that read it}."""
        out: dict[int, list[int]] = {-1: []}
        for i, op in enumerate(self.ops):
            out.setdefault(i, [])
            for j in op.inputs:
                out[j].append(i)
        return out


def from_model(model, size: int) -> FloatGraph:
    """The graph of a folded (BatchNorm-free) SqueezeNet at a `size`² input, with its weights."""
    import torch

    cfg = model.cfg
    graph = ops(cfg, size, dead_taps=False)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    at = [i for i, op in enumerate(graph) if op.kind == "conv"]
    if len(layers) != len(at) or any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()):
        raise ValueError(
            f"model does not match its architecture's graph ({len(layers)} convs, {len(at)} expected; "
            "fold BatchNorm first)"
        )
    convs = {}
    with torch.no_grad():
        for i, (name, m) in zip(at, layers):
            w = m.weight.detach().permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
            if w.shape != graph[i].consts[0][0] or m.stride[0] != graph[i].options["stride"]:
                raise ValueError(f"conv {name}: weight {w.shape} does not match the graph's {graph[i].consts[0][0]}")
            b = m.bias.detach().numpy().astype(np.float32) if m.bias is not None else np.zeros(len(w), np.float32)
            convs[i] = Conv(w, b, name)
    return FloatGraph(graph, size, cfg.in_channels, convs)


def placeholder(cfg: ArchConfig, size: int, dead_taps: bool = True) -> FloatGraph:
    """The graph of `cfg` at `size`² with zero weights: the file it writes has the bytes a trained one has."""
    graph = ops(cfg, size, dead_taps)
    convs = {
        i: Conv(np.zeros(op.consts[0][0], np.float32), np.zeros(op.consts[1][0], np.float32), f"conv{i}")
        for i, op in enumerate(graph)
        if op.kind == "conv"
    }
    return FloatGraph(graph, size, cfg.in_channels, convs)
