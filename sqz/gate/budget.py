"""Size budgets: `0.5MB`, `512KiB`, `500000` → bytes (B, KB, MB powers of 1000; KiB, MiB of 1024)."""

from __future__ import annotations

import math
import re

from sqz.errors import BudgetError

DEFAULT_BUDGET = "0.5MB"
UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
MAX_BYTES = 1 << 40


def parse_budget(text: str | int) -> int:
    """Bytes for a budget string; raises BudgetError with what to write instead."""
    if isinstance(text, int):
        text = str(text)
    m = _PATTERN.match(str(text))
    unit = m.group(2).upper() if m else ""
    if not m or unit not in UNITS:
        raise BudgetError(f"budget {text!r} is not a size; write e.g. 0.5MB, 512KiB or 500000")
    value = float(m.group(1)) * UNITS[unit]
    if not math.isfinite(value) or value <= 0 or value > MAX_BYTES:
        raise BudgetError(f"budget {text!r} is out of range; give a positive size up to 1 TiB")
    return int(value)


def human(n: int) -> str:
    """A byte count with thousands separators and its size in kB (powers of 1000)."""
    return f"{n:,} B ({n / 1000:,.1f} kB)"
