"""`sqz size`: the full-int8 .tflite bytes of a SqueezeNet, predicted before anything is trained."""

from __future__ import annotations

import json

import click

from sqz.cli.base import POOLS_HELP, STEM_HELP, Pools, friendly, positive


def report(
    arch: str,
    size: int,
    channels: int,
    classes: int,
    metaparameters: dict,
    budget: str,
    stem_stride: int = 2,
    pools: tuple[int, ...] = (),
    weights: str = "int8",
) -> dict:
    """The prediction with its configuration and the budget verdict (the `--json` output). `weights` mixed:
    which convs get 4 bits is measured on data at export, so `file_bytes` is the int8 file (at most) and
    `file_bytes_min` the all-INT4 one."""
    from sqz.errors import InputError
    from sqz.fit.size import predict
    from sqz.gate.budget import parse_budget
    from sqz.train.arch import ArchConfig

    limit = parse_budget(budget)
    try:
        cfg = ArchConfig.named(
            arch, num_classes=classes, in_channels=channels, stem_stride=stem_stride, pools=pools, **metaparameters
        )
        p = predict(cfg, size, weights="int8" if weights == "mixed" else weights)
        if weights == "mixed":
            p["file_bytes_min"] = predict(cfg, size, weights="int4")["file_bytes"]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    meta = {k: getattr(cfg, k) for k in ("base_e", "incr_e", "pct3x3", "sr", "freq")}
    return {
        "file_bytes": p["file_bytes"],
        "breakdown": p["breakdown"],
        "parameters": p["parameters"],
        "dead_tap_fires": p["dead_tap_fires"],
        "arch": cfg.name,
        "size": size,
        "channels": channels,
        "classes": classes,
        "metaparameters": meta,
        "stem_stride": cfg.stem_stride,
        "pools": list(cfg.pool_positions),
        "weights": weights,
        "budget": limit,
        "fits": p["file_bytes"] <= limit,
        **{k: p[k] for k in ("int8_file_bytes", "file_bytes_min") if k in p},
    }


def lines(r: dict) -> list[str]:
    over = r["file_bytes"] - r["budget"]
    verdict = (
        f"fits the {r['budget']:,} B budget ({-over:,} B to spare)"
        if over <= 0
        else f"over the {r['budget']:,} B budget by {over:,} B ({100 * over / r['budget']:.1f} %)"
    )
    b = r["breakdown"]
    dead = ", ".join(map(str, r["dead_tap_fires"])) or "none"
    return [
        f"SqueezeNet {r['arch']}, {r['size']}x{r['size']}x{r['channels']}, {r['classes']} classes "
        f"({', '.join(f'{k} {v}' for k, v in r['metaparameters'].items())}; stem stride {r['stem_stride']}, "
        f"pools {','.join(map(str, r['pools']))})",
        f"parameters {r['parameters']:,} (dead taps removed in fires: {dead})",
        *_weights_lines(r, verdict),
        f"  {'int8 file: ' if r['weights'] != 'int8' else ''}weights {b['weights_int8']:,} B, "
        f"biases {b['biases_int32']:,} B, "
        f"quantization {b['quantization']:,} B, structure {b['structure']:,} B",
    ]


def _weights_lines(r: dict, verdict: str) -> list[str]:
    if r["weights"] == "int4":
        return [
            f"full-int8 .tflite with INT4 conv weights: {r['file_bytes']:,} B — {verdict} "
            f"(all-int8: {r['int8_file_bytes']:,} B; XNNPACK runs no INT4 conv, see sqz-export --weights)"
        ]
    if r["weights"] == "mixed":
        return [
            f"full-int8 .tflite with mixed INT4/int8 weights: {r['file_bytes_min']:,} to {r['file_bytes']:,} B "
            f"(which convs get 4 bits is measured at export); at most: {verdict}"
        ]
    return [f"full-int8 .tflite: {r['file_bytes']:,} B — {verdict}"]


@click.command("size")
@click.option(
    "--arch",
    default="1.1",
    show_default=True,
    help="1.0 or 1.1, optionally with -bypass (identity skips) or -complex (and 1x1 conv skips)",
)
@click.option("--size", "input_size", default=224, show_default=True, type=positive(), help="input side in pixels")
@click.option("--channels", default=3, show_default=True, type=click.IntRange(1, 3))
@click.option("--classes", default=10, show_default=True, type=click.IntRange(min=2))
@click.option("--base-e", type=positive(), help="expand filters of the first fire [default 128]")
@click.option("--incr-e", type=click.IntRange(min=0), help="expand filters added every FREQ fires [default 128]")
@click.option(
    "--pct3x3",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="share of 3x3 expand filters [default 0.5]",
)
@click.option("--sr", type=click.FloatRange(0, 1, min_open=True), help="squeeze ratio [default 0.125]")
@click.option("--freq", type=positive(), help="fires per width step [default 2]")
@click.option("--stem-stride", default=2, show_default=True, type=click.IntRange(1, 2), help=STEM_HELP)
@click.option("--pools", type=Pools(), default=None, help=POOLS_HELP)
@click.option(
    "--weights",
    default="int8",
    show_default=True,
    type=click.Choice(["int8", "int4", "mixed"]),
    help="conv weight precision: int8, int4 (every conv), mixed (a range)",
)
@click.option("--budget", default="0.5MB", show_default=True, help="budget to judge the prediction against")
@click.option("--json", "as_json", is_flag=True, help='machine-readable: {"file_bytes": …} with the breakdown')
@friendly
def size(
    arch, input_size, channels, classes, base_e, incr_e, pct3x3, sr, freq, stem_stride, pools, weights, budget, as_json
) -> None:
    """Predict the bytes of the full-int8 .tflite sqz-export would write (dead taps removed)
    for a SqueezeNet at an input size, before anything is trained."""
    meta = {
        k: v for k, v in dict(base_e=base_e, incr_e=incr_e, pct3x3=pct3x3, sr=sr, freq=freq).items() if v is not None
    }
    r = report(arch, input_size, channels, classes, meta, budget, stem_stride, pools or (), weights)
    click.echo(json.dumps(r, indent=2) if as_json else "\n".join(lines(r)))
