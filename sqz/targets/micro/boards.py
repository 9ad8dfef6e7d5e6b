"""Microcontroller profiles (data in boards.json): flash and SRAM with sources, model flash and RAM budgets."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from sqz.errors import InputError

BOARDS_FILE = Path(__file__).with_name("boards.json")


@dataclass(frozen=True)
class MicroProfile:
    """One microcontroller board: what its flash and SRAM leave for the model and the tensor arena."""

    name: str
    board: str
    soc: str
    core: str
    clock_mhz: int
    flash_bytes: int
    sram_bytes: int
    gcc_cpu: str | None
    model_flash_budget: int
    ram_budget: int
    sources: dict = field(default_factory=dict)
    budget_note: str = ""
    interpreter: str = "tflite-micro"
    metric: str = "file"

    @property
    def budget(self) -> str:
        """The flash budget as a size string, like the Linux profiles' `budget`."""
        return str(self.model_flash_budget)

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(BOARDS_FILE.read_text())


def profiles() -> list[MicroProfile]:
    """Every microcontroller profile, in the order of boards.json."""
    return [MicroProfile(**p) for p in _data()["profiles"]]


def is_micro(name: str | None) -> bool:
    return bool(name) and any(p.name == name.strip().lower() for p in profiles())


def get(name: str) -> MicroProfile:
    key = name.strip().lower()
    for p in profiles():
        if p.name == key:
            return p
    raise InputError(f"unknown microcontroller target {name!r}; choose one of {', '.join(p.name for p in profiles())}")


def margin() -> dict:
    return dict(_data()["arena_margin"])


def board_arena(host_arena: int) -> int:
    """The arena to give a 32-bit board: the host-measured size plus the stated margin, rounded up."""
    m = margin()
    return int(math.ceil(host_arena * (1 + m["percent"] / 100) / m["round_to"]) * m["round_to"])


def table(items: list[MicroProfile] | None = None) -> str:
    """A plain-text table of the microcontroller profiles, with where the figures come from."""
    items = profiles() if items is None else items
    kib = lambda n: f"{n // 1024:,} KiB"
    head = ("target", "board", "soc", "core", "MHz", "flash", "SRAM", "model flash", "arena+I/O RAM")
    rows = [
        (
            p.name,
            p.board,
            p.soc,
            p.core,
            str(p.clock_mhz),
            kib(p.flash_bytes),
            kib(p.sram_bytes),
            kib(p.model_flash_budget),
            kib(p.ram_budget),
        )
        for p in items
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    lines.append(
        "\nMicrocontrollers run the model compiled to C (sqz_model.c) or in TensorFlow Lite Micro "
        "(model_data.cc); sqz-export --int8 --target NAME writes both."
    )
    for p in items:
        docs = sorted({s.split(",")[0].split(":")[0].split(" (")[0] for s in p.sources.values()})
        lines.append(f"{p.name}: {p.budget_note}. Sources: {'; '.join(docs)}")
    return "\n".join(lines)
