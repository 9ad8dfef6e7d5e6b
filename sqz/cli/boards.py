"""`sqz targets`, `verify`, `deploy`, `rollback`: board profiles, emulation, shipping."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sqz.cli.base import friendly, writable


@click.command()
@click.option("--json", "as_json", is_flag=True)
@friendly
def targets(as_json) -> None:
    """List the board profiles: Linux boards (arch, interpreter, budget, latency) and microcontrollers (flash, SRAM)."""
    from sqz.targets.profiles import latency_source, linux_profiles, micro_profiles, table

    if as_json:
        click.echo(
            json.dumps(
                {
                    "latency_source": latency_source(),
                    "targets": [p.to_dict() for p in linux_profiles()],
                    "micro_targets": [p.to_dict() for p in micro_profiles()],
                },
                indent=2,
            )
        )
    else:
        click.echo(table())


@click.command()
@click.argument("model", type=click.Path(path_type=Path), default="exports/default")
@click.option("--arch", type=click.Choice(["aarch64", "armv7l"]), default=None, help="emulated architecture")
@click.option("--target", default=None, help="board profile (see `sqz targets`): arch, qemu CPU, interpreter, threads")
@click.option(
    "--os",
    "os_name",
    type=click.Choice(["trixie", "bookworm"]),
    default=None,
    help="emulated Debian release: trixie (13, Python 3.13) or bookworm (12, Python 3.11) [default: "
    "trixie where it runs the int8 file: aarch64; armv7l: bookworm, and --os trixie verifies "
    "model.onnx with Debian's onnxruntime]",
)
@click.option(
    "--images",
    multiple=True,
    type=click.Path(path_type=Path),
    help="images to compare on (default: Fashion-MNIST test)",
)
@click.option(
    "--samples",
    default=None,
    type=click.IntRange(1, 10000),
    help="Fashion-MNIST test images [default: 32; micro targets: as many as the export evaluated]",
)
@click.option(
    "--interpreter", default=None, type=click.Choice(["ai-edge-litert", "tflite-runtime"]), help="default: the target's"
)
@click.option(
    "--reference/--no-reference",
    default=True,
    show_default=True,
    help="also compare with TFLite's reference kernels (must be bit-identical)",
)
@click.option("--json", "as_json", is_flag=True)
@friendly
def verify(model, arch, target, os_name, images, samples, interpreter, reference, as_json) -> None:
    """Run MODEL under qemu with real ARM Python and wheels; compare with this machine (exit 1 on a mismatch)."""
    from sqz.targets.micro import commands
    from sqz.targets.profiles import get
    from sqz.targets.verify import verify as run_verify

    if target and get(target).kind == "micro":
        if os_name:
            raise click.UsageError(f"--os {os_name}: {target} is a microcontroller (no Debian userland); drop --os")
        from sqz.export.csource import write_for

        sys.exit(
            commands.verify(
                model,
                target,
                arch,
                interpreter,
                list(images) or None,
                samples,
                as_json,
                click.echo,
                log=lambda msg: click.echo(msg, err=True),
                generate=write_for,
            )
        )
    v = run_verify(
        model,
        arch,
        target,
        list(images) or None,
        samples or 32,
        interpreter,
        reference,
        log=lambda msg: click.echo(msg, err=True),
        os=os_name,
    )
    click.echo(json.dumps(v.to_dict(), indent=2) if as_json else v.line())
    sys.exit(0 if v.ok else 1)


def _ssh_options(fn):
    opts = [
        click.option("--host", "hosts", multiple=True, help="user@board or user@board:port (repeat for many boards)"),
        click.option("--dest", type=click.Path(path_type=Path), help="a local directory instead (a mounted SD card)"),
        click.option(
            "--port", type=click.IntRange(1, 65535), default=None, help="SSH port for hosts that do not give one"
        ),
        click.option("--identity", type=click.Path(path_type=Path), help="SSH private key (default: ssh's own)"),
        click.option(
            "--known-hosts",
            type=click.Path(path_type=Path),
            help="known_hosts file (default: ~/.ssh/known_hosts); host keys are always checked",
        ),
        click.option("--remote-dir", default="sqz", show_default=True, help="directory on the board (relative: home)"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _summary(results) -> None:
    for r in results:
        click.echo(r.line())
    sys.exit(0 if all(r.ok for r in results) else 1)


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", default="rpi4", show_default=True, help="board profile (see `sqz targets`)")
@_ssh_options
@click.option("--python", default="python3", show_default=True, help="interpreter on the board for the smoke test")
@click.option(
    "--images", multiple=True, type=click.Path(path_type=Path), help="smoke-test images (default: Fashion-MNIST)"
)
@click.option(
    "--os",
    "os_name",
    type=click.Choice(["trixie", "bookworm"]),
    default=None,
    help="the board's Debian release; a 32-bit board on trixie (Raspberry Pi OS 13) gets model.onnx, "
    "as no TFLite interpreter exists there [default: the int8 .tflite]",
)
@friendly
def deploy(model, target, hosts, dest, port, identity, known_hosts, remote_dir, python, images, os_name) -> None:
    """Bundle MODEL, upload it over SSH, check it on the board, smoke-test it, switch `current` atomically."""
    from sqz.targets.deploy import SSH, deploy_model

    if dest:
        writable(dest, "--dest")
    ssh = SSH(port=port, identity=identity, known_hosts=known_hosts)
    _summary(
        deploy_model(
            model,
            target,
            list(hosts),
            dest,
            ssh,
            remote_dir,
            python,
            list(images) or None,
            os=os_name,
            log=lambda msg: click.echo(msg, err=True),
        )
    )


@click.command()
@_ssh_options
@friendly
def rollback(hosts, dest, port, identity, known_hosts, remote_dir) -> None:
    """Switch `current` back to the previous release on every host (or in --dest)."""
    from sqz.targets.deploy import SSH, rollback_local
    from sqz.targets.deploy import rollback as run_rollback

    if dest:
        _summary([rollback_local(dest)])
    _summary(run_rollback(list(hosts), SSH(port=port, identity=identity, known_hosts=known_hosts), remote_dir))
