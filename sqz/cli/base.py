"""What every command shares: one-line errors (ours and click's), Ctrl-C handling, output checks, option types."""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

import click

from sqz.errors import InputError, SqzError


class _OneLineErrors:
    """Click's own usage errors (a bad option value, an unknown option) as one line and exit 2, like ours."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            click.echo(f"sqz: error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("sqz: interrupted", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


class Group(_OneLineErrors, click.Group):
    """`sqz` and its sub-commands."""


class Command(_OneLineErrors, click.Command):
    """A stand-alone command (`sqz-export`)."""


def positive(kind=int):
    """An option type for a number that must be at least 1 (int) or above 0 (float)."""
    return click.IntRange(min=1) if kind is int else click.FloatRange(min=0, min_open=True)


class Pools(click.ParamType):
    """`--pools 0,2,4`: max-pool positions, 0 after conv1 and i after the i-th fire module."""

    name = "P,P,…"

    def convert(self, value, param, ctx):
        from sqz.train.arch import parse_pools

        if isinstance(value, tuple):
            return value
        try:
            return parse_pools(value)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


POOLS_HELP = (
    "where the 3x3/2 max-pools sit: 0 after conv1, i after the i-th fire module (1.1 publishes 0,2,4; "
    "1.0 0,3,7); later pools keep larger maps (the paper's late down-sampling) [default: as published]"
)
STEM_HELP = "stride of conv1; 1 down-samples later (about 4x the compute of the layers after it)"


def _terminate(signum, frame):
    raise KeyboardInterrupt


def writable(path: Path, option: str, directory: bool = True) -> None:
    """Refuse, before any work, an output that is the wrong kind of thing or lies where nothing can be written."""
    if directory and path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file; give a directory")
    if not directory and path.is_dir():
        raise InputError(f"{option} {path} is a directory; give a file name")
    near = path if directory and path.is_dir() else path.parent
    while not near.exists() and near != near.parent:
        near = near.parent
    if not near.is_dir() or not os.access(near, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: cannot write there ({near} is read-only or not a directory)")


def friendly(fn):
    """Turn SqzError into one stderr line and its exit code; Ctrl-C or SIGTERM into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        signal.signal(signal.SIGTERM, _terminate)
        try:
            return fn(*args, **kwargs)
        except SqzError as exc:
            click.echo(f"sqz: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("sqz: interrupted; nothing half-written was left behind", err=True)
            sys.exit(130)

    return wrapper
