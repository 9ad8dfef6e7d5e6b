"""Plan the C model's activation memory: one static arena, each buffer placed at an offset no buffer alive at the
same time overlaps. A reshape shares its input's bytes; the inputs of a channel concatenation that only convs write
and only the concatenation reads are written straight into it (at their channel offset); a conv read only by a
max-pool keeps just the pool window's rows of its output (a band), computed as the pool needs them."""

from __future__ import annotations

from dataclasses import dataclass

from sqz.export.cgraph import CModel

ALIGN = 4


@dataclass(frozen=True)
class Place:
    """Where a tensor lives: arena byte offset of its first pixel, channel offset and channels per pixel."""

    offset: int
    channel: int
    stride: int


@dataclass
class Plan:
    """Every activation's place (the graph input is the caller's buffer, not in the arena) and the arena size;
    `fused` lists the concatenations whose inputs were written in place, `pooled` the convs (→ their max-pool) whose
    output lives as a band of rows."""

    places: dict[int, Place]
    size: int
    fused: set[int]
    pooled: dict[int, int]


def _fusable(model: CModel, n: int, producers: dict[int, int], readers: dict[int, list[int]]) -> bool:
    op = model.ops[n]
    if op.kind != "concat" or len(set(op.inputs)) != len(op.inputs):
        return False
    return all(
        t in producers
        and model.ops[producers[t]].kind == "conv"
        and readers[t] == [n]
        and model.tensors[t].shape[:-1] == model.tensors[op.output].shape[:-1]
        for t in op.inputs
    )


def _band(
    model: CModel, n: int, producers: dict[int, int], readers: dict[int, list[int]], fused_inputs: set[int]
) -> int | None:
    """The max-pool op that alone reads conv op n's output (which no concatenation holds), else None."""
    op = model.ops[n]
    t = op.output
    if op.kind != "conv" or t == model.output or t in fused_inputs or len(readers[t]) != 1:
        return None
    pool = readers[t][0]
    return pool if model.ops[pool].kind == "maxpool" else None


def band_bytes(model: CModel, conv: int, pool: int) -> int:
    """Bytes of the rows a fused conv keeps: the pool's filter height times one output row of the conv."""
    h, w, c = model.tensors[model.ops[conv].output].hwc
    return min(model.ops[pool].params["filter"][0], h) * w * c


def plan(model: CModel) -> Plan:
    """Offsets for every activation tensor of `model` (greedy by size, buffers reused once dead)."""
    producers = {op.output: i for i, op in enumerate(model.ops)}
    readers: dict[int, list[int]] = {t: [] for t in model.tensors}
    for i, op in enumerate(model.ops):
        for t in op.inputs:
            readers[t].append(i)
    root: dict[int, tuple[int, int]] = {}  # tensor → (root tensor, channel offset)
    fused = set()
    for i, op in enumerate(model.ops):
        if op.kind == "reshape" and op.inputs[0] != model.input:
            root[op.output] = root.get(op.inputs[0], (op.inputs[0], 0))
        if _fusable(model, i, producers, readers):
            fused.add(i)
            at = 0
            for t in op.inputs:
                root[t] = (op.output, at)
                at += model.tensors[t].shape[-1]
    inputs_in_place = {t for i in fused for t in model.ops[i].inputs}
    pooled = {
        n: pool
        for n in range(len(model.ops))
        if (pool := _band(model, n, producers, readers, inputs_in_place)) is not None
    }
    sizes = {t: x.size for t, x in model.tensors.items()}
    for n, pool in pooled.items():
        sizes[model.ops[n].output] = band_bytes(model, n, pool)
    top = lambda t: root[t][0] if t in root else t  # noqa: E731
    life: dict[int, list[int]] = {}
    for i, op in enumerate(model.ops):
        for t in [op.output, *op.inputs]:
            if t == model.input:
                continue
            r = top(t)
            span = life.setdefault(r, [i, i])
            span[0], span[1] = min(span[0], i), max(span[1], i)
    life[top(model.output)][1] = len(model.ops)
    offsets: dict[int, int] = {}
    size = 0
    for r in sorted(life, key=lambda r: (-sizes[r], life[r][0])):
        busy = sorted(
            (offsets[o], offsets[o] + sizes[o])
            for o in offsets
            if life[o][0] <= life[r][1] and life[r][0] <= life[o][1]
        )
        at = 0
        for lo, hi in busy:
            if at + sizes[r] <= lo:
                break
            at = max(at, -(-hi // ALIGN) * ALIGN)
        offsets[r] = at
        size = max(size, at + sizes[r])
    places = {}
    for t in model.tensors:
        if t == model.input:
            continue
        r = top(t)
        channel = root[t][1] if t in root else 0
        places[t] = Place(offsets[r], channel, model.tensors[r].shape[-1])
    return Plan(places, -(-size // ALIGN) * ALIGN, fused, pooled)
