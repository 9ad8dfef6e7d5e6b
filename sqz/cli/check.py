"""`sqz check`, the CI gate: exit 0 fits, 1 over budget, 2 unusable input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sqz.cli.base import friendly


@click.command()
@click.argument("artifacts", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--budget", default=None, help="B, KB, MB (x1000) or KiB, MiB (x1024)  [default: the target's, else 0.5MB]"
)
@click.option(
    "--metric",
    default=None,
    type=click.Choice(["file", "packed"]),
    help="file: bytes the interpreter maps; packed: bytes shipped (xz) [default: the target's, else file]",
)
@click.option("--target", default=None, help="board profile (see `sqz targets`) giving the budget and metric")
@click.option("--json", "as_json", is_flag=True, help="machine-readable verdict")
@friendly
def check(artifacts, budget, metric, target, as_json) -> None:
    """The CI gate: exit 0 when every artifact fits the budget, 1 when any is over, 2 on unusable input."""
    from sqz.gate import as_json as verdict_json
    from sqz.gate import check as run_check
    from sqz.targets.micro import commands
    from sqz.targets.profiles import gate_settings, get

    if target and get(target).kind == "micro":
        sys.exit(commands.check(list(artifacts), target, budget, metric, as_json, click.echo))
    budget, metric, _ = gate_settings(target, budget, metric)
    verdicts = run_check(list(artifacts), budget=budget, metric=metric)
    if as_json:
        click.echo(json.dumps(verdict_json(verdicts), indent=2))
    else:
        for v in verdicts:
            click.echo(v.line())
            if not v.fits and v.kind == "tflite":
                _hint(v)
    sys.exit(0 if all(v.fits for v in verdicts) else 1)


def _hint(v) -> None:
    """The routes that would make an over-budget SqueezeNet .tflite fit, when its architecture can be told."""
    try:
        from sqz.fit.routes import hint
    except ImportError:
        return
    found = hint(Path(v.path), v.budget, v.metric)
    if found:
        click.echo("\n".join(found))
