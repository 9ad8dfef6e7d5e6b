"""Command line: thin click wrappers over plain functions; user errors are one line and exit 2."""

from __future__ import annotations

import click

from sqz import __version__
from sqz.cli import boards, check, compress, export, runtime, size, train
from sqz.cli.base import Group
from sqz.cli.export import export_main

__all__ = ["main", "export_main"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqz")
def main() -> None:
    """sqz: train SqueezeNet, export it to ONNX and full-int8 TFLite, gate its size, run it on a board."""


for _cmd in (
    train.train,
    size.size,
    export.export_cmd,
    compress.compress,
    check.check,
    runtime.run,
    runtime.bench_cmd,
    boards.targets,
    boards.verify,
    boards.deploy,
    boards.rollback,
):
    main.add_command(_cmd)
