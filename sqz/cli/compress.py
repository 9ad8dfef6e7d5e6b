"""`sqz compress`: a thin layer over sqz.quantize.compress.compress."""

from __future__ import annotations

from pathlib import Path

import click

from sqz.cli.base import friendly, writable


@click.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="the compressed checkpoint (.pt)")
@click.option("--prune", "sparsity", default=0.0, show_default=True, type=click.FloatRange(0, 0.99),
              help="gradual magnitude pruning of the fire modules to this sparsity")
@click.option("--share-bits", default=0, show_default=True, type=click.IntRange(0, 8),
              help="per-layer weight sharing to 2^b values (0: off)")
@click.option("--epochs", default=4, show_default=True, type=click.IntRange(1, 1000), help="fine-tuning epochs")
@click.option("--data", default=None, help="fine-tuning data (default: the checkpoint's training data)")
@friendly
def compress(checkpoint, out, sparsity, share_bits, epochs, data) -> None:
    """Fold BatchNorm, drop dead taps, prune and/or share weights with fine-tuning; write a new checkpoint."""
    from sqz.quantize.compress import compress as run_compress

    writable(out, "--out", directory=False)
    r = run_compress(checkpoint, out, sparsity=sparsity, share_bits=share_bits, epochs=epochs, data=data)
    click.echo(f"{out}: sparsity {100 * r['sparsity']:.1f} %, test accuracy {100 * r['test_acc_before']:.2f} % → "
               f"{100 * r['test_acc']:.2f} %" + (f", ≤ {2 ** share_bits} values per layer" if share_bits else ""))
