"""`sqz run` and `sqz bench`: the board runtime from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sqz.cli.base import friendly, positive


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--top", "k", default=3, show_default=True, type=click.IntRange(1, 1000))
@click.option("--threads", default=None, type=positive(), help="interpreter threads (default: the interpreter's own)")
@click.option("--interpreter", default=None, type=click.Choice(["ai-edge-litert", "tflite-runtime", "tensorflow"]))
@click.option("--json", "as_json", is_flag=True)
@friendly
def run(model, images, k, threads, interpreter, as_json) -> None:
    """Classify IMAGES with MODEL (.tflite or .onnx from an export directory); prints top-k labels."""
    from sqz.runtime import load

    m = load(model, threads=threads, interpreter=interpreter)
    results = m.top_k([str(p) for p in images], k=k)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "model": str(model),
                    "interpreter": m.interpreter,
                    "predictions": [
                        {"image": str(p), "top": [{"label": lbl, "probability": prob} for lbl, prob in r]}
                        for p, r in zip(images, results)
                    ],
                },
                indent=2,
            )
        )
        return
    for p, r in zip(images, results):
        click.echo(f"{p}: " + ", ".join(f"{lbl} {100 * prob:.1f} %" for lbl, prob in r))
    click.echo(f"(interpreter: {m.interpreter})", err=True)


@click.command("bench")
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option("--threads", default=None, type=positive(), help="interpreter threads (default: the interpreter's own)")
@click.option("--runs", default=100, show_default=True, type=positive(), help="timed batch-1 inferences")
@click.option("--warmup", default=10, show_default=True, type=click.IntRange(min=0), help="untimed inferences first")
@click.option("--interpreter", default=None, type=click.Choice(["ai-edge-litert", "tflite-runtime", "tensorflow"]))
@click.option("--json", "as_json", is_flag=True)
@friendly
def bench_cmd(model, images, threads, runs, warmup, interpreter, as_json) -> None:
    """Time MODEL (.tflite or .onnx from an export directory) at batch 1 on IMAGES (default: synthetic)."""
    from sqz.runtime.bench import bench, text

    result = bench(model, threads=threads, runs=runs, warmup=warmup, images=images, interpreter=interpreter)
    click.echo(json.dumps(result, indent=2) if as_json else text(result))
