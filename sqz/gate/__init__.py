"""The gate: size budgets, the two metrics (`file`, `packed`) and the verdict on any model artifact.

Torch-free; used by `sqz check`, `sqz-export` and the board profiles alike.
"""

from sqz.gate.budget import DEFAULT_BUDGET, human, parse_budget
from sqz.gate.verdict import DEFAULT_METRIC, METRICS, Verdict, as_json, check, check_metric, judge, measure

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_METRIC",
    "METRICS",
    "Verdict",
    "as_json",
    "check",
    "check_metric",
    "human",
    "judge",
    "measure",
    "parse_budget",
]
