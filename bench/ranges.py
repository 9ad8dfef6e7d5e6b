"""int8 activation ranges, `mse` against `minmax`: the same checkpoints exported with both rules, side by side.

python -m bench.ranges [--work /tmp/sqz-frontier-96 /tmp/sqz-f224] [--routes base,budget,fit] [--render]

For each route checkpoint in the frontier work directories (bench/frontier.py) and for the bundled model,
`sqz export CKPT --int8 --ranges RULE` for both rules into WORK/ranges/<rule>-<route>. An export that is
already there is reused; the frontier's own x-<route> exports are the same command. Each export is evaluated
on the run's whole held-out test split. The table gives int8 accuracy and top-1 agreement with the float
(torch) model, whose accuracy does not depend on the rule.
Writes docs/bench/ranges.json / .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench.frontier import OUT
from bench.frontier import _export as frontier_export
from sqz.export import report
from sqz.quantize.ranges import RULES


def _export(ckpt: Path, out: Path, rule: str, log) -> dict:
    """The report of `sqz export CKPT --int8 --ranges RULE` in `out` (reused when there, as in the frontier)."""
    rep, _ = frontier_export(ckpt, out, 0, log, ["--ranges", rule])
    if (rep.get("calibration_ranges") or "minmax") != rule:
        raise SystemExit(f"{out} holds a {rep.get('calibration_ranges')} export, not {rule}; remove it")
    return rep


def measure(works: list[Path], routes: list[str], log) -> list[dict]:
    """One row per model: its int8 file, float accuracy and, per rule, int8 accuracy and agreement."""
    from sqz.export.pipeline import default_checkpoint

    bundled = (
        "32² grey (bundled)",
        default_checkpoint(),
        works[0] / "ranges" if works else Path("/tmp/sqz-ranges"),
        "default",
    )
    models = [bundled]
    for work in works:
        side = report.read(work / "x-base").preprocess.size if (work / "x-base" / report.REPORT).exists() else work.name
        for route in routes:
            if (work / route / "model.pt").exists():
                models.append((f"{side}² RGB", work / route / "model.pt", work / "ranges", route))
    rows = []
    for label, ckpt, root, route in models:
        row = {"model": label, "route": route}
        for rule in sorted(RULES):
            rep = _export(ckpt, root / f"{rule}-{route}", rule, log)
            a = rep["artifacts"]["model_int8.tflite"]
            row.update(
                {
                    "file_bytes": a["bytes"],
                    "float_acc": rep["torch"]["accuracy"],
                    "eval_images": rep["eval_images"],
                    f"{rule}_acc": a["accuracy"],
                    f"{rule}_agreement": a["top1_agreement"],
                }
            )
        rows.append(row)
    return rows


def markdown(rec: dict) -> str:
    pct = lambda v: f"{100 * v:.2f} %"
    lines = [
        f"Measured by `python -m bench.ranges` on {rec['date']} ({rec['machine']}): every model exported "
        "with `sqz export --int8 --ranges minmax` and `--ranges mse` (500 calibration images each), evaluated "
        "on its whole test split.",
        "",
        "| model | route | int8 file | test images | float accuracy | int8 minmax | int8 mse | agreement "
        "with float, minmax | agreement with float, mse | Δ agreement |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rec["rows"]:
        lines.append(
            f"| {r['model']} | {r['route']} | {r['file_bytes']:,} B | {r['eval_images']:,} | "
            f"{pct(r['float_acc'])} | {pct(r['minmax_acc'])} | {pct(r['mse_acc'])} | "
            f"{pct(r['minmax_agreement'])} | {pct(r['mse_agreement'])} | "
            f"{100 * (r['mse_agreement'] - r['minmax_agreement']):+.2f} pt |"
        )
    gains = [r["mse_agreement"] - r["minmax_agreement"] for r in rec["rows"]]
    better = sum(g > 0 for g in gains)
    worse = [f"{r['model']} {r['route']} ({100 * g:+.2f} pt)" for r, g in zip(rec["rows"], gains) if g < 0]
    lines += [
        "",
        f"`mse` agrees more often with the float model on {better} of {len(gains)} models "
        f"(median change {100 * sorted(gains)[len(gains) // 2]:+.2f} pt)"
        + (f"; less often on {', '.join(worse)}." if worse else "."),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, nargs="*", default=[Path("/tmp/sqz-frontier-96"), Path("/tmp/sqz-f224")])
    ap.add_argument("--routes", default="base,budget,fit")
    ap.add_argument("--render", action="store_true", help="only re-render from the JSON")
    args = ap.parse_args(argv)
    stem = OUT / "ranges"
    from sqz.files import write_text

    if args.render:
        rec = json.loads(stem.with_suffix(".json").read_text())
    else:
        log = lambda m: print(m, file=sys.stderr, flush=True)
        rows = measure([w for w in args.work if w.is_dir()], args.routes.split(","), log)
        rec = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "rows": rows,
        }
        write_text(stem.with_suffix(".json"), json.dumps(rec, indent=1) + "\n")
    write_text(stem.with_suffix(".md"), markdown(rec))
    print(markdown(rec))


if __name__ == "__main__":
    main()
