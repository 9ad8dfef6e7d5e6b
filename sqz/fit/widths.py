"""Channel counts of a SqueezeNet's prunable groups, as arithmetic on the architecture record (no torch).

A group is one convolution's output channels: a fire's squeeze, expand1x1 or expand3x3. Expands tied to a
simple bypass are not prunable."""

from __future__ import annotations

import dataclasses
import math

from sqz.train.arch import ArchConfig, fire_widths, skips

PARTS = ("squeeze", "expand1x1", "expand3x3")
Group = tuple[int, str]
# Rounds `sqz compress --fit` prunes in; each round may take a group down to a quarter.
ROUNDS = 2


def bypassed(cfg: ArchConfig, widths: list[tuple[int, int, int]] | None = None) -> list[int]:
    """Fires whose input is added to their output (the model adds it where the channel counts match)."""
    return [i for i, skip in enumerate(skips(cfg, list(widths or fire_widths(cfg)))) if skip == "identity"]


def groups(cfg: ArchConfig) -> list[Group]:
    """The prunable groups: every squeeze, and the expands not tied to a bypass."""
    tied = {j for i in bypassed(cfg) for j in (i - 1, i)}
    return [(i, part) for i in range(8) for part in PARTS if part == "squeeze" or i not in tied]


def counts(cfg: ArchConfig) -> dict[Group, int]:
    """Channel count of every group (prunable or not)."""
    return {(i, part): w[j] for i, w in enumerate(fire_widths(cfg)) for j, part in enumerate(PARTS)}


def with_counts(cfg: ArchConfig, new: dict[Group, int]) -> ArchConfig:
    """`cfg` with explicit fire widths: `new`'s counts where given, the current ones elsewhere."""
    cur = {**counts(cfg), **new}
    return dataclasses.replace(cfg, widths=tuple(tuple(cur[(i, p)] for p in PARTS) for i in range(8)))


def smallest(cfg: ArchConfig, rounds: int = ROUNDS) -> ArchConfig:
    """The smallest network `rounds` rounds can reach: every prunable group at a quarter per round."""
    have = counts(cfg)
    return with_counts(cfg, {g: max(1, math.ceil(have[g] * 0.25**rounds)) for g in groups(cfg)})
