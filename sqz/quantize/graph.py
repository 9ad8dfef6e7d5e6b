"""The operator graph sqz-export writes for a SqueezeNet at an input size, derived without building the model.

Shapes follow the PyTorch layers (convolutions floor, max pools ceil) with the config's stem stride and max-pool
placement; fires whose expand sees a 1x1 map lose their dead 3x3 taps as `sqz.train.surgery.remove_dead_taps`
does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqz.errors import InputError
from sqz.train.arch import CONV1, ArchConfig, fire_widths, skips


@dataclass
class Op:
    """One TFLite operator: its kind, the activation inputs (op indices, -1 the model input), the constant
    tensors it owns (shape, dtype), its output shape and options."""

    kind: str
    inputs: list[int]
    out: tuple[int, ...]
    consts: list[tuple[tuple[int, ...], str]] = field(default_factory=list)
    options: dict = field(default_factory=dict)


def conv_out(n: int, k: int, stride: int = 1, pad: int = 0) -> int:
    return (n + 2 * pad - k) // stride + 1


def pool_out(n: int) -> int:
    """MaxPool2d(3, 2, ceil_mode=True), as PyTorch sizes it (a window must start inside the map); where
    ceil and floor differ the export pads the bottom and right first (a PAD op, then a VALID pool)."""
    out = math.ceil((n - 3) / 2) + 1
    return out - 1 if (out - 1) * 2 >= n else out


def _conv(
    ops: list[Op], src: int, hw: int, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0, first: bool = False
) -> int:
    out = conv_out(hw, k, stride, pad)
    ops.append(
        Op(
            "conv",
            [src],
            (1, out, out, cout),
            [((cout, k, k, cin), "int8"), ((cout,), "int32")],
            {"padding": "valid" if first or (pad == 0 and k > 1) else "same", "stride": stride},
        )
    )
    return len(ops) - 1


def fire_sides(cfg: ArchConfig, size: int) -> list[int]:
    """The side of the map each fire module sees at a `size`² input; refused when a map would vanish."""
    pools = cfg.pool_positions
    hw = conv_out(size, CONV1[cfg.version][1], cfg.stem_stride)
    sides = []
    for i in range(9):
        hw = pool_out(hw) if hw >= 1 and i in pools else hw
        if hw < 1:
            raise InputError(
                f"input {size}x{size} is too small for SqueezeNet {cfg.name} with stem stride "
                f"{cfg.stem_stride} and max-pools at {','.join(map(str, pools))}: a feature map "
                "vanishes; give a larger input, --stem-stride 1 or fewer/later --pools"
            )
        sides.append(hw)
    return sides[:8]


def dead_fires(cfg: ArchConfig, size: int) -> list[int]:
    """Fires whose 3x3 expand sees a 1x1 map at a `size`² input (their taps other than the centre are dead)."""
    return [i for i, hw in enumerate(fire_sides(cfg, size)) if hw == 1 and i not in cfg.point_fires]


def ops(cfg: ArchConfig, size: int, dead_taps: bool = True) -> list[Op]:
    """The exported graph of `cfg` at a `size`² input, dead taps removed when `dead_taps`."""
    point = set(cfg.point_fires) | (set(dead_fires(cfg, size)) if dead_taps else set())
    pools = cfg.pool_positions
    graph: list[Op] = []
    c, k = CONV1[cfg.version]
    cur = _conv(graph, -1, size, cfg.in_channels, c, k, stride=cfg.stem_stride, first=True)
    if 0 in pools:
        cur = _pool(graph, cur)
    widths = fire_widths(cfg)
    for i, ((s, e1, e3), skip) in enumerate(zip(widths, skips(cfg, widths))):
        hw = graph[cur].out[1]
        sq = _conv(graph, cur, hw, c, s, 1)
        a = _conv(graph, sq, hw, s, e1, 1)
        b = _conv(graph, sq, hw, s, e3, 1) if i in point else _conv(graph, sq, hw, s, e3, 3, pad=1)
        graph.append(Op("concat", [a, b], (1, hw, hw, e1 + e3), options={"axis": 3}))
        nxt = len(graph) - 1
        if skip:
            side = _conv(graph, cur, hw, c, e1 + e3, 1) if skip == "conv" else cur
            graph.append(Op("add", [nxt, side], (1, hw, hw, e1 + e3)))
            nxt = len(graph) - 1
        cur, c = nxt, e1 + e3
        if i + 1 in pools:
            cur = _pool(graph, cur)
    hw = graph[cur].out[1]
    cur = _conv(graph, cur, hw, c, cfg.num_classes, 1)
    if hw > 1:
        graph.append(Op("mean", [cur], (1, 1, 1, cfg.num_classes), [((2,), "int32")]))
        cur = len(graph) - 1
    graph.append(Op("reshape", [cur], (1, cfg.num_classes), [((2,), "int32")]))
    return graph


def _pool(graph: list[Op], src: int) -> int:
    n, c = graph[src].out[1], graph[src].out[3]
    out = pool_out(n)
    if conv_out(n, 3, 2) != out:
        graph.append(Op("pad", [src], (1, 2 * out + 1, 2 * out + 1, c), [((4, 2), "int32")]))
        src = len(graph) - 1
    graph.append(Op("maxpool", [src], (1, out, out, c), options={"padding": "valid"}))
    return len(graph) - 1


def parameters(graph: list[Op]) -> int:
    """Weights and biases of the exported graph (the shape constants are not parameters)."""
    return sum(math.prod(shape) for op in graph if op.kind == "conv" for shape, _ in op.consts)
