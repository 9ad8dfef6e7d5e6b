"""Click building blocks for sqz's commands: one-line usage errors and numeric option types."""

from __future__ import annotations

import sys

import click


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
