"""int8 top-1 agreement with float on real images, for each architecture sqz trains: each trained briefly on
Fashion-MNIST (32², the data's size), exported by `sqz.export.pipeline.export` with the default `mse` ranges and
500 calibration images, evaluated on held-out test images.

python -m bench.agreement [--epochs 6] [--limit 6000] [--eval 2000] [--work /tmp/sqz-agreement]
Writes docs/bench/agreement.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.machine import cpu

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "bench"
# (label, arch, training options): both versions, both bypasses, stem stride 1 with moved pools, a narrow network
ARCHS = [
    ("1.1", "1.1", {}),
    ("1.0", "1.0", {}),
    ("1.1 simple bypass", "1.1-bypass", {}),
    ("1.1 complex bypass", "1.1-complex", {}),
    ("1.1 stem stride 1, pools 2,4,6", "1.1", {"stem_stride": 1, "pools": (2, 4, 6)}),
    ("1.1 base_e 64, pct3x3 0.25", "1.1", {"metaparameters": {"base_e": 64, "incr_e": 64, "pct3x3": 0.25}}),
]
GOAL = 0.985


def one(label: str, arch: str, extra: dict, work: Path, epochs: int, limit: int, n_eval: int, log) -> dict:
    from sqz.export.config import ExportConfig
    from sqz.export.pipeline import export
    from sqz.train.loop import TrainConfig, train

    run = work / label.replace(" ", "_").replace(",", "")
    t = time.perf_counter()
    rec = train(
        TrainConfig(arch=arch, out=str(run), epochs=epochs, batch_size=128, lr=2e-3, limit=limit, seed=0, **extra),
        progress=False,
    )
    train_s = time.perf_counter() - t
    rep = export(run / "model.pt", out=run / "export", config=ExportConfig(eval_limit=n_eval), log=lambda m: None)
    a = rep.artifacts["model_int8.tflite"]
    row = {
        "model": label,
        "arch": arch,
        **{k: v for k, v in extra.items() if k != "metaparameters"},
        **extra.get("metaparameters", {}),
        "train_seconds": round(train_s, 1),
        "float_accuracy": rep.torch["accuracy"],
        "int8_accuracy": a["accuracy"],
        "agreement": a["top1_agreement"],
        "int8_bytes": a["bytes"],
        "eval_images": rep.eval_images,
        "test_acc_training": rec.get("test_acc"),
    }
    log(
        f"{label}: float {row['float_accuracy']:.2%}, int8 {row['int8_accuracy']:.2%}, agreement {row['agreement']:.2%}"
    )
    return row


def markdown(rec: dict) -> str:
    lines = [
        f"Measured by `python -m bench.agreement --epochs {rec['epochs']} --limit {rec['limit']} --eval "
        f"{rec['eval']}` on {rec['date']} ({rec['machine']}): each architecture trained {rec['epochs']} epochs on "
        f"{rec['limit']:,} Fashion-MNIST training images at 32², exported with the default `mse` ranges (500 "
        f"calibration images), evaluated on the first {rec['eval']:,} test images.",
        "",
        "| model | float | int8 | int8 agreement with float | int8 file |",
        "|---|---|---|---|---|",
    ]
    for r in rec["rows"]:
        lines.append(
            f"| {r['model']} | {r['float_accuracy']:.2%} | {r['int8_accuracy']:.2%} | {r['agreement']:.2%} | "
            f"{r['int8_bytes']:,} B |".replace("%", " %")
        )
    low = [r["model"] for r in rec["rows"] if r["agreement"] < GOAL]
    lines += [
        "",
        f"Agreement ≥ {GOAL:.1%}".replace("%", " %")
        + (
            " on every model."
            if not low
            else f" on {len(rec['rows']) - len(low)} of {len(rec['rows'])}; below it: {', '.join(low)}."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--limit", type=int, default=6000)
    ap.add_argument("--eval", type=int, default=2000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/sqz-agreement"))
    args = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)
    rows = [one(label, arch, extra, args.work, args.epochs, args.limit, args.eval, log) for label, arch, extra in ARCHS]
    rec = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu()}, {os.cpu_count()} cores, {platform.machine()}",
        "epochs": args.epochs,
        "limit": args.limit,
        "eval": args.eval,
        "rows": rows,
    }
    from sqz.files import write_text

    write_text(OUT / "agreement.json", json.dumps(rec, indent=1) + "\n")
    write_text(OUT / "agreement.md", markdown(rec))
    print(markdown(rec))


if __name__ == "__main__":
    main()
