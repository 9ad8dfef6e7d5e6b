"""`sqz export` and `sqz-export`: a thin layer over sqz.export.pipeline.export."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from sqz.cli.base import Command, friendly, positive, writable
from sqz.export.config import ExportConfig

DEFAULT = {f.name: f.default for f in dataclasses.fields(ExportConfig)}


def _export_options(fn):
    opts = [
        click.argument("checkpoint", required=False, type=click.Path(path_type=Path)),
        click.option("--int8/--no-int8", default=False, help="also write the full-integer int8 TFLite"),
        click.option("--out", default="exports/default", show_default=True, type=click.Path(path_type=Path)),
        click.option(
            "--calib",
            default=DEFAULT["calib"],
            show_default=True,
            type=positive(),
            help="training images used to calibrate int8",
        ),
        click.option(
            "--ranges",
            default=DEFAULT["ranges"],
            show_default=True,
            type=click.Choice(["mse", "minmax"]),
            help="int8 activation ranges: mse clips each hidden activation's rare extremes where that "
            "lowers the rounding error; minmax spans every value seen",
        ),
        click.option("--budget", default=None, help="size budget for the verdict [default: the target's, else 0.5MB]"),
        click.option("--target", default=None, help="board profile (see `sqz targets`) giving the budget and metric"),
        click.option(
            "--data",
            default=None,
            help="where the training data is now (a moved folder), or another dataset to evaluate on "
            "[default: the run's held-out test files]",
        ),
        click.option(
            "--calib-data",
            default=None,
            type=click.Path(path_type=Path),
            help="any folder of images to calibrate int8 on [default: the run's stored calibration.npz, "
            "else the training images]",
        ),
        click.option(
            "--eval-limit",
            default=DEFAULT["eval_limit"],
            type=click.IntRange(min=0),
            help="evaluate on only the first N test images (0: all); applies before decoding",
        ),
        click.option("--no-eval", is_flag=True, help="skip evaluation (no test data needed)"),
        click.option(
            "--keep-dead-taps",
            is_flag=True,
            help="keep 3x3 taps that only ever see padding (default: replace them by their centre tap)",
        ),
        click.option(
            "--weights",
            default=DEFAULT["weights"],
            show_default=True,
            type=click.Choice(["int8", "int4", "mixed"]),
            help="conv weight bits in the int8 model: int4/mixed fine-tune 4-bit weights (QAT) first",
        ),
        click.option(
            "--qat-epochs",
            default=DEFAULT["qat_epochs"],
            show_default=True,
            type=click.IntRange(min=0),
            help="epochs of 4-bit quantisation-aware fine-tuning for --weights int4|mixed",
        ),
        click.option(
            "--qat-images",
            default=DEFAULT["qat_images"],
            type=click.IntRange(min=0),
            help="4-bit fine-tuning on this many training images (0: all)",
        ),
        click.option("--json", "as_json", is_flag=True, help="print report.json instead of the table"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _run_export(
    checkpoint,
    int8,
    out,
    calib,
    ranges,
    budget,
    target,
    data,
    calib_data,
    eval_limit,
    no_eval,
    keep_dead_taps,
    weights,
    qat_epochs,
    qat_images,
    as_json,
) -> None:
    from sqz.errors import InputError
    from sqz.export.pipeline import export
    from sqz.export.report import CLASSES_MD, CONFUSION_PNG, table
    from sqz.targets.profiles import gate_settings, get

    writable(out, "--out")
    log = lambda msg: click.echo(msg, err=True)
    profile = get(target) if target else None
    if profile is not None and profile.kind == "micro" and not int8:
        raise InputError(
            f"target {profile.name} runs TensorFlow Lite Micro, which needs the full-int8 model; add --int8"
        )
    budget, metric, target = gate_settings(target, budget)
    config = ExportConfig(
        int8=int8,
        calib=calib,
        ranges=ranges,
        calib_data=str(calib_data) if calib_data else None,
        budget=budget,
        metric=metric,
        target=target,
        data=data,
        evaluate=not no_eval,
        eval_limit=eval_limit,
        dead_taps=not keep_dead_taps,
        weights=weights,
        qat_epochs=qat_epochs,
        qat_images=qat_images,
    )
    rep = export(checkpoint, out=out, config=config, log=log)
    if as_json:
        click.echo(json.dumps(rep.to_dict(), indent=2))
    else:
        click.echo(table(rep))
        packed = [a["packed"]["file"] for a in rep.artifacts.values() if "packed" in a]
        click.echo(
            f"\nwrote {out}/: "
            + ", ".join(
                list(rep.artifacts)
                + packed
                + (rep.micro or {}).get("files", [])
                + ["manifest.json", "report.json", "report.md"]
                + ([CLASSES_MD, CONFUSION_PNG] if rep.evaluation != "skipped" else [])
            )
        )


@click.command("export")
@_export_options
@friendly
def export_cmd(**kw) -> None:
    """Export CHECKPOINT (default: the bundled Fashion-MNIST model) to ONNX and TFLite, with a report."""
    _run_export(**kw)


@click.command("sqz-export", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@_export_options
@friendly
def export_main(**kw) -> None:
    """Export CHECKPOINT (default: the bundled Fashion-MNIST model) to ONNX and TFLite, with a report."""
    _run_export(**kw)
