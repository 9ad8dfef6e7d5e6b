"""`sqz compress`: a thin layer over sqz.compress.sparse.compress and sqz.compress.channelfit.fit."""

from __future__ import annotations

from pathlib import Path

import click

from sqz.cli.base import friendly, writable


@click.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option(
    "--out",
    default=None,
    type=click.Path(path_type=Path),
    help="the compressed checkpoint (.pt); with --fit, default CHECKPOINT-fit.pt beside it",
)
@click.option(
    "--fit",
    "budget",
    default=None,
    help="remove whole channels (by measured sensitivity, distilled from the original) until the "
    "full-int8 .tflite fits this size, e.g. 0.5MB",
)
@click.option(
    "--rounds", default=2, show_default=True, type=click.IntRange(1, 5), help="with --fit: prune-and-distil rounds"
)
@click.option(
    "--prune",
    "sparsity",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 0.99),
    help="gradual magnitude pruning of the fire modules to this sparsity",
)
@click.option(
    "--share-bits",
    default=0,
    show_default=True,
    type=click.IntRange(0, 8),
    help="per-layer weight sharing to 2^b values (0: off)",
)
@click.option(
    "--epochs",
    default=4,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="fine-tuning epochs (with --fit: distillation epochs per round)",
)
@click.option("--limit", default=0, type=click.IntRange(0), help="fine-tune on this many random training images")
@click.option("--data", default=None, help="fine-tuning data (default: the checkpoint's training data)")
@friendly
def compress(checkpoint, out, budget, rounds, sparsity, share_bits, epochs, limit, data) -> None:
    """Fold BatchNorm, drop dead taps, prune and/or share weights with fine-tuning; write a new checkpoint."""
    if budget is not None:
        return _fit(checkpoint, out, budget, rounds, sparsity, share_bits, epochs, limit, data)
    from sqz.compress.sparse import compress as run_compress

    if out is None:
        raise click.UsageError("give --out (or --fit BUDGET)")
    writable(out, "--out", directory=False)
    r = run_compress(checkpoint, out, sparsity=sparsity, share_bits=share_bits, epochs=epochs, data=data, limit=limit)
    click.echo(
        f"{out}: sparsity {100 * r['sparsity']:.1f} %, test accuracy {100 * r['test_acc_before']:.2f} % → "
        f"{100 * r['test_acc']:.2f} %" + (f", ≤ {2**share_bits} values per layer" if share_bits else "") + _carried(r)
    )


def _fit(checkpoint, out, budget, rounds, sparsity, share_bits, epochs, limit, data) -> None:
    from sqz.compress.channelfit import fit
    from sqz.gate.budget import parse_budget

    if sparsity or share_bits:
        raise click.UsageError("--fit removes whole channels; run --prune / --share-bits as a separate compress")
    limit_bytes = parse_budget(budget)
    out = out or checkpoint.with_name(checkpoint.stem + "-fit.pt")
    writable(out, "--out", directory=False)
    r = fit(checkpoint, out, limit_bytes, epochs=epochs, rounds=rounds, data=data, limit=limit, log=click.echo)
    click.echo(
        f"{out}: {r['parameters_before']:,} → {r['parameters']:,} parameters, int8 file "
        f"{r['file_bytes_before']:,} → {r['file_bytes']:,} B (budget {limit_bytes:,} B), test accuracy "
        f"{100 * r['test_acc_before']:.2f} % → {100 * r['test_acc']:.2f} %" + _carried(r)
    )


def _carried(record: dict) -> str:
    """What was copied beside the new checkpoint so that it exports without the training data."""
    files = record.get("carried") or []
    return f"; {' and '.join(files)} of the run copied beside it (export needs no training data)" if files else ""
