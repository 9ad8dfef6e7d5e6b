"""What `sqz check` and `sqz verify` do for a microcontroller target: plain functions returning the exit code."""

from __future__ import annotations

import json
from pathlib import Path

from sqz.errors import InputError
from sqz.targets.micro import gate
from sqz.targets.micro import verify as micro_verify


def check(artifacts: list[Path], target: str, budget: str | None, metric: str | None, as_json: bool, echo) -> int:
    """Flash and RAM verdicts for every artifact; 0 when all fit, 1 when any is over or refused."""
    if budget or metric:
        raise InputError(f"target {target} brings its own flash and RAM budgets; drop --budget and --metric")
    if not artifacts:
        raise InputError("give at least one model file to check")
    verdicts = [gate.check(Path(p), target) for p in artifacts]
    if as_json:
        echo(
            json.dumps(
                {"fits": all(v.fits for v in verdicts), "target": target, "artifacts": [v.to_dict() for v in verdicts]},
                indent=2,
            )
        )
    else:
        for v in verdicts:
            echo("\n".join(v.lines()))
    return 0 if all(v.fits for v in verdicts) else 1


def verify(
    model: Path,
    target: str,
    arch: str | None,
    interpreter: str | None,
    images: list[Path] | None,
    samples: int | None,
    as_json: bool,
    echo,
    log,
    generate=None,
) -> int:
    """TFLite Micro and the generated C (this machine, emulated Cortex-M4/M7/M33/M55) against the reference kernels;
    0 when every output is bit-identical, else 1."""
    if arch or interpreter:
        raise InputError(f"target {target} runs TensorFlow Lite Micro on this machine; drop --arch and --interpreter")
    v = micro_verify.verify(model, target, images, samples, log=log, generate=generate)
    echo(json.dumps(v.to_dict(), indent=2) if as_json else "\n".join(v.lines()))
    return 0 if v.ok else 1
