"""Training to a size budget: the paper's design space searched for the configuration with the most parameters
whose full-int8 export fits, and the warning `sqz train` prints when the export will not fit."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

from sqz.export import graph as graph_mod
from sqz.export.size import predict
from sqz.gate.budget import DEFAULT_BUDGET, parse_budget
from sqz.train.model import ArchConfig

# SqueezeNet paper, section 5: base_e, incr_e, pct3x3, squeeze ratio SR and freq (fires per width step).
SPACE = {"base_e": (32, 48, 64, 80, 96, 112, 128), "incr_e": (16, 32, 48, 64, 96, 128),
         "pct3x3": (0.125, 0.25, 0.375, 0.5, 0.625, 0.75), "sr": (0.125, 0.25, 0.375, 0.5, 0.75, 1.0),
         "freq": (1, 2, 3, 4)}
META = tuple(SPACE)


def _lower_bound(graph: list[graph_mod.Op]) -> int:
    """Bytes no file for `graph` can be under: weights, int32 biases and two per-channel scale + zero point."""
    channels = sum(op.consts[1][0][0] for op in graph if op.kind == "conv")
    return graph_mod.parameters(graph) + 3 * channels + 24 * channels


def choose(arch: str, size: int, channels: int, classes: int, budget: str | int = DEFAULT_BUDGET,
           space: dict | None = None) -> dict:
    """The design-space configuration with the most parameters whose export fits `budget`:
    `{"metaparameters", "file_bytes", "parameters", "budget"}`; None for `metaparameters` when none fits."""
    limit = parse_budget(budget)
    base = ArchConfig.named(arch, num_classes=classes, in_channels=channels)
    candidates = []
    for values in itertools.product(*(space or SPACE).values()):
        cfg = dataclasses.replace(base, **dict(zip(META, values)))
        graph = graph_mod.ops(cfg, size)
        if _lower_bound(graph) <= limit:
            candidates.append((graph_mod.parameters(graph), values, cfg))
    candidates.sort(key=lambda c: (-c[0], c[1][::-1]))
    for params, values, cfg in candidates:
        p = predict(cfg, size)
        if p["file_bytes"] <= limit:
            return {"metaparameters": dict(zip(META, values)), "file_bytes": p["file_bytes"],
                    "parameters": params, "budget": limit}
    return {"metaparameters": None, "file_bytes": None, "parameters": None, "budget": limit}


def describe(meta: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in meta.items())


def over_warning(arch: str, size: int, channels: int, classes: int, metaparameters: dict | None = None,
                 budget: str | int = DEFAULT_BUDGET) -> tuple[dict, str | None]:
    """The predicted export of this training run, and a warning line when it will not fit `budget`."""
    limit = parse_budget(budget)
    cfg = ArchConfig.named(arch, num_classes=classes, in_channels=channels, **(metaparameters or {}))
    p = predict(cfg, size)
    over = p["file_bytes"] - limit
    note = {"predicted_bytes": p["file_bytes"], "parameters": p["parameters"], "budget": limit,
            "fits": over <= 0}
    if over <= 0:
        return note, None
    return note, (f"warning: the full-int8 export of this model ({size}x{size}x{channels}, {classes} classes) "
                  f"will be {p['file_bytes']:,} B, over the {limit:,} B budget by {over:,} B "
                  f"({100 * over / limit:.1f} %); `sqz train --budget {budget}` picks metaparameters that fit")


def train_plan(arch: str, budget: str | None, metaparameters: dict | None = None,
               log: Callable[[str], None] = print) -> Callable[[int, int, int], dict]:
    """The `plan` hook `sqz.train.loop.train` calls once it knows the input size, channels and classes:
    with `budget`, the chosen metaparameters (printed with their predicted bytes); without, the default
    budget's warning when the export will not fit."""

    def plan(size: int, channels: int, classes: int) -> dict:
        if not budget:
            note, warning = over_warning(arch, size, channels, classes, metaparameters)
            if warning:
                log(warning)
            return {"size_plan": note}
        chosen = choose(arch, size, channels, classes, budget)
        if chosen["metaparameters"] is None:
            from sqz.errors import BudgetError

            raise BudgetError(f"--budget {budget}: no SqueezeNet {arch} in the design space fits at "
                              f"{size}x{size}x{channels} with {classes} classes; give a larger budget")
        log(f"budget {chosen['budget']:,} B: SqueezeNet {arch} with {describe(chosen['metaparameters'])} — "
            f"{chosen['parameters']:,} parameters, predicted full-int8 file {chosen['file_bytes']:,} B")
        return {"metaparameters": chosen["metaparameters"],
                "size_plan": {"budget": chosen["budget"], "predicted_bytes": chosen["file_bytes"],
                              "parameters": chosen["parameters"], "metaparameters": chosen["metaparameters"],
                              "fits": True}}

    return plan
