"""Training to a size budget: the paper's design space (metaparameters and, at small inputs, where the network
down-samples) searched for the configuration with the most parameters whose full-int8 export fits, and the
warning `sqz train` prints when the export will not fit."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

from sqz.errors import InputError
from sqz.fit.size import lower_bound, predict
from sqz.gate.budget import DEFAULT_BUDGET, parse_budget
from sqz.quantize import graph as graph_mod
from sqz.train.arch import ArchConfig

# SqueezeNet paper, section 5: base_e, incr_e, pct3x3, squeeze ratio SR and freq (fires per width step).
SPACE = {
    "base_e": (32, 48, 64, 80, 96, 112, 128),
    "incr_e": (16, 32, 48, 64, 96, 128),
    "pct3x3": (0.125, 0.25, 0.375, 0.5, 0.625, 0.75),
    "sr": (0.125, 0.25, 0.375, 0.5, 0.75, 1.0),
    "freq": (1, 2, 3, 4),
}
META = tuple(SPACE)
# Later down-sampling (paper, section 3.1) searched at small inputs: (stem stride, pool positions).
LATE = {
    "1.1": ((2, (1, 3, 5)), (2, (2, 4, 6)), (1, (0, 2, 4))),
    "1.0": ((2, (1, 4, 8)), (2, (2, 5, 8)), (1, (0, 3, 7))),
}


def placements(arch: str, size: int, channels: int, classes: int) -> list[tuple[int, tuple[int, ...]]]:
    """(stem stride, pools) to search: the published placement and, where it leaves fires on 1x1 maps (dead taps,
    at small inputs), later ones. Elsewhere every placement gives the same file and the later ones cost compute."""
    base = ArchConfig.named(arch, num_classes=classes, in_channels=channels)
    found = [(2, base.pool_positions)]
    if graph_mod.dead_fires(base, size):
        for stride, pools in LATE[base.version]:
            try:
                graph_mod.fire_sides(dataclasses.replace(base, stem_stride=stride, pools=pools), size)
            except InputError:
                continue
            found.append((stride, pools))
    return found


def _lateness(cfg: ArchConfig, size: int) -> int:
    """Map area the fire modules see: larger is later down-sampling."""
    return sum(hw * hw for hw in graph_mod.fire_sides(cfg, size))


def choose(
    arch: str,
    size: int,
    channels: int,
    classes: int,
    budget: str | int = DEFAULT_BUDGET,
    space: dict | None = None,
    where: list[tuple[int, tuple[int, ...]]] | None = None,
) -> dict:
    """The design-space configuration with the most parameters whose export fits `budget`, ties going to later
    down-sampling, over the placements `where` (default: `placements`): `{"metaparameters", "stem_stride",
    "pools", "file_bytes", "parameters", "budget"}`; None for `metaparameters` when none fits."""
    limit = parse_budget(budget)
    base = ArchConfig.named(arch, num_classes=classes, in_channels=channels)
    candidates = []
    for stride, pools in where or placements(arch, size, channels, classes):
        placed = dataclasses.replace(base, stem_stride=stride, pools=tuple(pools))
        late = _lateness(placed, size)
        for values in itertools.product(*(space or SPACE).values()):
            cfg = dataclasses.replace(placed, **dict(zip(META, values)))
            graph = graph_mod.ops(cfg, size)
            if lower_bound(graph) <= limit:
                candidates.append((graph_mod.parameters(graph), late, values, cfg))
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2][::-1]))
    for params, _, values, cfg in candidates:
        p = predict(cfg, size)
        if p["file_bytes"] <= limit:
            return {
                "metaparameters": dict(zip(META, values)),
                "stem_stride": cfg.stem_stride,
                "pools": list(cfg.pool_positions),
                "published_pools": not cfg.pools,
                "file_bytes": p["file_bytes"],
                "parameters": params,
                "budget": limit,
            }
    return {"metaparameters": None, "file_bytes": None, "parameters": None, "budget": limit}


def describe(meta: dict, chosen: dict | None = None) -> str:
    """`base_e 96, …` and, when `chosen` moved the down-sampling, its stem stride and pools."""
    text = ", ".join(f"{k} {v}" for k, v in meta.items())
    if chosen and (chosen.get("stem_stride", 2) != 2 or not chosen.get("published_pools", True)):
        text += f", stem stride {chosen['stem_stride']}, pools {','.join(map(str, chosen['pools']))}"
    return text


def flags(chosen: dict) -> str:
    """The `sqz train` options that rebuild `chosen`'s placement (empty for the published one)."""
    out = "" if chosen.get("stem_stride", 2) == 2 else f" --stem-stride {chosen['stem_stride']}"
    return out + ("" if chosen.get("published_pools", True) else f" --pools {','.join(map(str, chosen['pools']))}")


def over_warning(
    arch: str,
    size: int,
    channels: int,
    classes: int,
    metaparameters: dict | None = None,
    budget: str | int = DEFAULT_BUDGET,
    placement: dict | None = None,
) -> tuple[dict, str | None]:
    """The predicted export of this training run, and a warning line when it will not fit `budget`."""
    limit = parse_budget(budget)
    cfg = ArchConfig.named(
        arch, num_classes=classes, in_channels=channels, **(metaparameters or {}), **(placement or {})
    )
    p = predict(cfg, size)
    over = p["file_bytes"] - limit
    note = {"predicted_bytes": p["file_bytes"], "parameters": p["parameters"], "budget": limit, "fits": over <= 0}
    if over <= 0:
        return note, None
    return note, (
        f"warning: the full-int8 export of this model ({size}x{size}x{channels}, {classes} classes) "
        f"will be {p['file_bytes']:,} B, over the {limit:,} B budget by {over:,} B "
        f"({100 * over / limit:.1f} %); `sqz train --budget {budget}` picks metaparameters that fit"
    )


def placement_note(
    arch: str,
    size: int,
    channels: int,
    classes: int,
    metaparameters: dict | None = None,
    budget: str | int = DEFAULT_BUDGET,
) -> str | None:
    """When the published placement leaves fires on 1x1 maps at `size`, a line naming the latest placement
    whose export still fits `budget` (larger maps: more accuracy for more compute); else None."""
    meta = metaparameters or {}
    base = ArchConfig.named(arch, num_classes=classes, in_channels=channels, **meta)
    dead = graph_mod.dead_fires(base, size)
    if not dead:
        return None
    limit = parse_budget(budget)
    for stride, pools in reversed(LATE[base.version]):
        try:
            p = predict(
                ArchConfig.named(
                    arch, num_classes=classes, in_channels=channels, stem_stride=stride, pools=pools, **meta
                ),
                size,
            )
        except InputError:
            continue
        if p["file_bytes"] <= limit:
            flag = "--stem-stride 1" if stride == 1 else f"--pools {','.join(map(str, pools))}"
            return (
                f"note: at {size}x{size} fires {', '.join(str(i + 2) for i in dead)} see 1x1 maps; {flag} keeps "
                f"the maps larger ({p['file_bytes']:,} B, fits {limit:,} B; more accuracy for more compute, "
                "see docs/bench/small_sets.md)"
            )
    return None


NO_BUDGET = "none"


def default_budget(budget: str | None, shape_given: bool, init: str) -> tuple[str, str]:
    """(the budget `sqz train` trains to, "" for the published network; why). With no --budget and no
    architecture options or --init, the default budget: the design-space configuration that fits it."""
    if budget and budget.strip().lower() == NO_BUDGET:
        return "", "--budget none: the published network"
    if budget:
        parse_budget(budget)
        return budget, f"--budget {budget}"
    if init:
        return "", "--init: the published network the weights belong to"
    if shape_given:
        return "", "architecture options given"
    return DEFAULT_BUDGET, f"no architecture options: the default budget {DEFAULT_BUDGET}"


def train_plan(
    arch: str,
    budget: str | None,
    metaparameters: dict | None = None,
    log: Callable[[str], None] = print,
    placement: dict | None = None,
    why: str = "",
) -> Callable[[int, int, int], dict]:
    """The `plan` hook `sqz.train.loop.train` calls once it knows the input size, channels and classes:
    with `budget`, the chosen metaparameters and placement (printed with their predicted bytes and `why`, beside
    the published network's; a given `placement` {"stem_stride", "pools"} is kept); without, the default budget's
    warning when the export will not fit."""

    def plan(size: int, channels: int, classes: int) -> dict:
        if not budget:
            note, warning = over_warning(arch, size, channels, classes, metaparameters, placement=placement)
            if warning:
                log(warning)
            hint = None if placement else placement_note(arch, size, channels, classes, metaparameters)
            if hint:
                log(hint)
            return {"size_plan": note}
        where = None
        if placement:
            given = ArchConfig.named(arch, **placement)
            where = [(given.stem_stride, given.pool_positions)]
        chosen = choose(arch, size, channels, classes, budget, where=where)
        if chosen["metaparameters"] is None:
            from sqz.errors import BudgetError

            raise BudgetError(
                f"--budget {budget}: no SqueezeNet {arch} in the design space fits at "
                f"{size}x{size}x{channels} with {classes} classes; give a larger budget"
            )
        published = predict(ArchConfig.named(arch, num_classes=classes, in_channels=channels), size)["file_bytes"]
        log(
            f"budget {chosen['budget']:,} B: SqueezeNet {arch} with {describe(chosen['metaparameters'], chosen)} — "
            f"{chosen['parameters']:,} parameters, predicted full-int8 file {chosen['file_bytes']:,} B"
            + (
                f" ({why}; the design-space configuration with the most parameters that fits at {size}x{size}x"
                f"{channels}; the published network would be {published:,} B; --budget none trains it)"
                if why
                else ""
            )
        )
        chosen_placement = {
            "stem_stride": chosen["stem_stride"],
            "pools": () if chosen["published_pools"] else tuple(chosen["pools"]),
        }
        return {
            "metaparameters": chosen["metaparameters"],
            "placement": chosen_placement,
            "size_plan": {
                "budget": chosen["budget"],
                "predicted_bytes": chosen["file_bytes"],
                "parameters": chosen["parameters"],
                "metaparameters": chosen["metaparameters"],
                "stem_stride": chosen["stem_stride"],
                "pools": chosen["pools"],
                "fits": True,
                "why": why or f"--budget {budget}",
                "published_bytes": published,
            },
        }

    return plan
