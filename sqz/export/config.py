"""The export's options as one record: defaults defined here, checked when the record is made."""

from __future__ import annotations

from dataclasses import dataclass

from sqz.errors import InputError
from sqz.gate import DEFAULT_BUDGET, DEFAULT_METRIC, check_metric, parse_budget


@dataclass(frozen=True)
class ExportConfig:
    """What `sqz.export.pipeline.export` writes and measures.
    `int8`: also the full-int8 .tflite, calibrated on `calib` images from `calib_data` (any image folder; else
    the run's stored sample, else its training data) with activation `ranges` mse|minmax; `budget`, `metric`,
    `target`: the gate's verdict; `data`: where the run's data is now (or another dataset to evaluate on);
    `evaluate` on the held-out test files (the first `eval_limit`, 0: all); `dead_taps`: replace 3x3 taps that
    only see padding by their centre tap; `weights` int4|mixed: 4-bit QAT (`qat_epochs` on `qat_images`, 0: all)
    and INT4 convs in the int8 model; `seed`: calibration sampling and QAT."""

    int8: bool = True
    calib: int = 500
    ranges: str = "mse"
    calib_data: str | None = None
    budget: str = DEFAULT_BUDGET
    metric: str = DEFAULT_METRIC
    target: str | None = None
    data: str | None = None
    evaluate: bool = True
    eval_limit: int = 0
    dead_taps: bool = True
    weights: str = "int8"
    qat_epochs: int = 1
    qat_images: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        from sqz.export.weights import check_request
        from sqz.quantize.ranges import RULES

        parse_budget(self.budget)
        check_metric(self.metric)
        if self.target:
            from sqz.targets.profiles import get

            get(self.target)
        check_request(self.weights, self.int8, self.target)
        if self.int8 and self.calib < 1:
            raise InputError(f"--calib must be at least 1, got {self.calib}")
        if self.ranges not in RULES:
            raise InputError(f"--ranges {self.ranges!r}: use one of {', '.join(RULES)}")

    @property
    def limit(self) -> int:
        """The budget in bytes."""
        return parse_budget(self.budget)
