"""Board profiles (data in profiles.json): arch, interpreter, threads, size budget and metric per board."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from sqz.errors import InputError
from sqz.gate import DEFAULT_BUDGET, DEFAULT_METRIC

PROFILES_FILE = Path(__file__).with_name("profiles.json")
ARCHES = ("aarch64", "armv7l")
ARMV6_REASON = (
    "it is ARMv6 without NEON; the armv7l TFLite wheels need ARMv7 + NEON, so sqz cannot run there. "
    "Use a Raspberry Pi Zero 2 W, 3, 4 or 5"
)


@dataclass(frozen=True)
class Profile:
    """One board and OS: what sqz needs to check, verify and deploy for it."""

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


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(PROFILES_FILE.read_text())


def profiles() -> list[Profile]:
    """Every supported profile, in the order of profiles.json."""
    return [Profile(**p) for p in _data()["profiles"]]


def latency_source() -> str:
    return _data()["latency_source"]


def get(name: str) -> Profile:
    """The profile called `name`; InputError that names the choices (or why an ARMv6 board cannot work)."""
    key = name.strip().lower()
    for p in profiles():
        if p.name == key:
            return p
    unsupported = _data()["unsupported"]
    if key in unsupported:
        raise InputError(f"target {name!r} ({unsupported[key]}) is not supported: {ARMV6_REASON}")
    choices = ", ".join(p.name for p in profiles())
    raise InputError(f"unknown target {name!r}; choose one of {choices} (see `sqz targets`)")


def lookup(name: str):
    """A Linux or a microcontroller profile by name; the error lists both kinds."""
    from sqz.targets.micro import boards

    if boards.is_micro(name):
        return boards.get(name)
    try:
        return get(name)
    except InputError as exc:
        if "unknown target" not in str(exc):
            raise
        choices = ", ".join([p.name for p in profiles()] + [p.name for p in boards.profiles()])
        raise InputError(f"unknown target {name!r}; choose one of {choices} (see `sqz targets`)") from None


def gate_settings(
    target: str | None, budget: str | None = None, metric: str | None = None
) -> tuple[str, str, str | None]:
    """(budget, metric, target name) for the gate: given values win, then the target's profile, then the defaults."""
    profile = lookup(target) if target else None
    budget = budget or (profile.budget if profile else DEFAULT_BUDGET)
    metric = metric or (profile.metric if profile else DEFAULT_METRIC)
    return budget, metric, profile.name if profile else None


def int4_refusal(profile) -> str:
    """Why `profile`'s interpreter cannot run INT4 conv filters (CONV_2D version 7), or ''."""
    key = f"{profile.interpreter}/{getattr(profile, 'resolver', 'default')}"
    return _data()["int4_weights"]["refused"].get(key, "")


def for_arch(arch: str) -> Profile:
    """The generic profile of an architecture (aarch64 or armv7l)."""
    if arch in _data()["unsupported"]:
        return get(arch)
    if arch not in ARCHES:
        raise InputError(f"unknown architecture {arch!r}; choose aarch64 or armv7l")
    return get(arch)


def table(items: list[Profile]) -> str:
    """A plain-text table of profiles, with the latency source below it."""
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
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    lines.append(f"\nncnn ms: {latency_source()}")
    lines.append(f"Not supported: {', '.join(_data()['unsupported'])} ({ARMV6_REASON.split(';')[0]}).")
    return "\n".join(lines)
