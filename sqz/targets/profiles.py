"""Every board profile in one registry, looked up by name with `get`: Linux boards (profiles.json: arch, interpreter,
threads, size budget and metric) and microcontrollers (micro/boards.json: flash and SRAM, model and RAM budgets)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal, TypeAlias, overload

from sqz.errors import InputError
from sqz.gate import DEFAULT_BUDGET, DEFAULT_METRIC

LINUX_FILE = Path(__file__).with_name("profiles.json")
MICRO_FILE = Path(__file__).parent / "micro" / "boards.json"
ARCHES = ("aarch64", "armv7l")
ARMV6_REASON = (
    "it is ARMv6 without NEON; the armv7l TFLite wheels need ARMv7 + NEON, so sqz cannot run there. "
    "Use a Raspberry Pi Zero 2 W, 3, 4 or 5"
)
KIND_NAMES = {"linux": "a Linux board", "micro": "a microcontroller"}

Kind: TypeAlias = Literal["linux", "micro"]


@dataclass(frozen=True)
class LinuxProfile:
    """One Linux board and OS: what sqz needs to check, verify and deploy for it."""

    kind: ClassVar[Kind] = "linux"

    name: str
    board: str
    soc: str
    os: str
    arch: str
    interpreter: str
    threads: int
    budget: str
    metric: str
    qemu_cpu: str
    latency_ms: float | None
    resolver: str = "default"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MicroProfile:
    """One microcontroller board: what its flash and SRAM leave for the model and the tensor arena."""

    kind: ClassVar[Kind] = "micro"

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


Profile: TypeAlias = LinuxProfile | MicroProfile


@lru_cache(maxsize=1)
def _linux_data() -> dict:
    return json.loads(LINUX_FILE.read_text())


@lru_cache(maxsize=1)
def _micro_data() -> dict:
    return json.loads(MICRO_FILE.read_text())


def linux_profiles() -> list[LinuxProfile]:
    """Every Linux board profile, in the order of profiles.json."""
    return [LinuxProfile(**p) for p in _linux_data()["profiles"]]


def micro_profiles() -> list[MicroProfile]:
    """Every microcontroller profile, in the order of micro/boards.json."""
    return [MicroProfile(**p) for p in _micro_data()["profiles"]]


def profiles() -> list[Profile]:
    """Every profile: the Linux boards, then the microcontrollers."""
    return [*linux_profiles(), *micro_profiles()]


def _names(items: Sequence[Profile]) -> str:
    """The profiles' names, comma-separated."""
    return ", ".join(p.name for p in items)


@overload
def get(name: str, kind: Literal["linux"]) -> LinuxProfile: ...
@overload
def get(name: str, kind: Literal["micro"]) -> MicroProfile: ...
@overload
def get(name: str, kind: None = None) -> Profile: ...
def get(name: str, kind: Kind | None = None) -> Profile:
    """The profile called `name`, of either kind unless `kind` is given; InputError that names the choices (every
    target, or those of `kind`) or says why an ARMv6 board cannot work."""
    key = name.strip().lower()
    found = next((p for p in profiles() if p.name == key), None)
    if found is None:
        unsupported = _linux_data()["unsupported"]
        if key in unsupported:
            raise InputError(f"target {name!r} ({unsupported[key]}) is not supported: {ARMV6_REASON}")
        raise InputError(f"unknown target {name!r}; choose one of {_names(profiles())} (see `sqz targets`)")
    if kind is not None and found.kind != kind:
        choices = linux_profiles() if kind == "linux" else micro_profiles()
        raise InputError(
            f"target {found.name} is {KIND_NAMES[found.kind]}, not {KIND_NAMES[kind]}; choose one of "
            f"{_names(choices)} (see `sqz targets`)"
        )
    return found


def for_arch(arch: str) -> LinuxProfile:
    """The generic profile of an architecture (aarch64 or armv7l)."""
    if arch not in ARCHES and arch not in _linux_data()["unsupported"]:
        raise InputError(f"unknown architecture {arch!r}; choose aarch64 or armv7l")
    return get(arch, "linux")


def gate_settings(
    target: str | None, budget: str | None = None, metric: str | None = None
) -> tuple[str, str, str | None]:
    """(budget, metric, target name) for the gate: given values win, then the target's profile, then the defaults."""
    profile = get(target) if target else None
    budget = budget or (profile.budget if profile else DEFAULT_BUDGET)
    metric = metric or (profile.metric if profile else DEFAULT_METRIC)
    return budget, metric, profile.name if profile else None


def int4_refusal(profile: Profile) -> str:
    """Why `profile`'s interpreter cannot run INT4 conv filters (CONV_2D version 7), or ''."""
    resolver = profile.resolver if isinstance(profile, LinuxProfile) else "default"
    return _linux_data()["int4_weights"]["refused"].get(f"{profile.interpreter}/{resolver}", "")


def latency_source() -> str:
    """Where the Linux profiles' published latencies come from."""
    return _linux_data()["latency_source"]


def latency_note() -> str:
    """What the published latencies measure, and what they do not."""
    return _linux_data().get("latency_note", "")


def arena_margin() -> dict:
    """The margin a board's tensor arena gets over the host-measured one: percent, round_to and why."""
    return dict(_micro_data()["arena_margin"])


def board_arena(host_arena: int) -> int:
    """The arena to give a 32-bit board: the host-measured size plus the stated margin, rounded up."""
    m = arena_margin()
    return int(math.ceil(host_arena * (1 + m["percent"] / 100) / m["round_to"]) * m["round_to"])


def linux_table(items: list[LinuxProfile] | None = None) -> str:
    """A plain-text table of the Linux profiles, with the latency source below it."""
    items = linux_profiles() if items is None else items
    head = ("target", "board", "arch", "interpreter", "threads", "budget", "qemu cpu", "ncnn ms")
    rows = [
        (
            p.name,
            p.board,
            p.arch,
            p.interpreter,
            str(p.threads),
            f"{p.budget} {p.metric}",
            p.qemu_cpu,
            "-" if p.latency_ms is None else f"{p.latency_ms:.1f}",
        )
        for p in items
    ]
    lines = _columns(head, rows)
    lines.append(f"\nncnn ms: {latency_source()}")
    lines.append(f"Not supported: {', '.join(_linux_data()['unsupported'])} ({ARMV6_REASON.split(';')[0]}).")
    return "\n".join(lines)


def micro_table(items: list[MicroProfile] | None = None) -> str:
    """A plain-text table of the microcontroller profiles, with where the figures come from."""
    items = micro_profiles() if items is None else items
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
    lines = _columns(head, rows)
    lines.append(
        "\nMicrocontrollers run the model compiled to C (sqz_model.c) or in TensorFlow Lite Micro "
        "(model_data.cc); sqz-export --int8 --target NAME writes both."
    )
    for p in items:
        docs = sorted({s.split(",")[0].split(":")[0].split(" (")[0] for s in p.sources.values()})
        lines.append(f"{p.name}: {p.budget_note}. Sources: {'; '.join(docs)}")
    return "\n".join(lines)


def table() -> str:
    """What `sqz targets` prints: the Linux boards' table, then the microcontrollers'."""
    return linux_table() + "\n\n" + micro_table()


def _columns(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """`head` and `rows` as left-aligned columns two spaces apart."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
