"""Small image folders with sqz's default training options, against a plain reference CNN on the same split.

python -m bench.small_sets [--sets grey,rgb,rgb224] [--work DIR] [--threads 1] [--no-export] [--no-before] [--render]

Writes docs/bench/small_sets.json and docs/bench/small_sets.md. The folders are made from Fashion-MNIST by
bench/small_folders.py; every sqz run goes through the `sqz train` command itself (its printed lines are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import reference_cnn, small_folders

REPO = Path(__file__).resolve().parents[1]
LATE_POOLS = ["--pools", "1,3,5"]
SETS = {  # name: (training images, test images, RGB side or 0 for 28² grey)
    "grey": (3000, 1000, 0),
    "rgb": (1500, 500, 96),
    "rgb224": (1000, 500, 224),  # the recipe at 224² from scratch: ~40 min of training on 2 threads here
}


def _sqz_train(data: Path, out: Path, threads: int, extra: list[str]) -> dict:
    """`sqz train` on `data`: its record, wall time and printed lines (epoch lines elided)."""
    cmd = [sys.executable, "-m", "sqz.cli", "train", "--data", str(data), "--out", str(out),
           "--threads", str(threads), "--workers", "0", *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    record = json.loads((out / "metrics.json").read_text())
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    shown = [ln for ln in lines if not ln.startswith("epoch ")]
    head = [ln for ln in shown if lines.index(ln) < lines.index(epochs[0])] if epochs else shown
    tail = [ln for ln in shown if ln not in head]
    some = epochs if len(epochs) <= 3 else [*epochs[:2], f"… ({len(epochs) - 3} more epoch lines)", epochs[-1]]
    printed = head + some + tail
    args = ["sqz", "train", "--data", "DIR", "--out", "OUT", "--threads", str(threads), "--workers", "0", *extra]
    return {"command": " ".join(args), "wall_s": wall, "test_acc": record["test_acc"],
            "epochs": record["epochs"], "batch_size": record["batch_size"],
            "optimizer_steps": record["optimizer_steps"], "train_images": record["train_images"],
            "val_images": record["val_images"], "test_images": record["test_images"], "printed": printed}


def _int8(run: Path, out: Path) -> dict:
    """sqz's full-int8 export of the run, evaluated on its test split."""
    from sqz.export.pipeline import export

    t0 = time.perf_counter()
    rep = export(run / "model.pt", out=out, int8=True, log=lambda m: None)
    int8 = rep["artifacts"]["model_int8.tflite"]
    return {"wall_s": time.perf_counter() - t0, "torch_acc": rep["torch"]["accuracy"],
            "int8_acc": int8["accuracy"], "int8_bytes": int8["bytes"], "eval_images": rep["eval_images"],
            "report_md": (out / "report.md").read_text()}


def run_set(name: str, work: Path, threads: int, export: bool, before: bool) -> dict:
    """Write the folder, train sqz with defaults (and the issue's old 8-epoch run), the reference, export."""
    from sqz.runtime.preprocess import Preprocess
    from sqz.train import checkpoint

    n_train, n_test, side = SETS[name]
    data = small_folders.write(work / name, n_train, n_test, rgb_side=side)
    res = {"set": name, "train_files": n_train, "test_files": n_test, "side": side or 28,
           "channels": 3 if side else 1, "threads": threads}
    res["sqz_default"] = _sqz_train(data, work / f"{name}-default", threads, [])
    if not side:  # 28²: the published placement leaves fires 6-9 on 1x1 maps; the one `sqz train` suggests
        res["sqz_late"] = _sqz_train(data, work / f"{name}-late", threads, LATE_POOLS)
    if before:
        res["sqz_before"] = _sqz_train(data, work / f"{name}-before", threads,
                                       ["--epochs", "8", "--batch-size", "128"])
    _, payload = checkpoint.load(work / f"{name}-default" / "model.pt")
    pre = Preprocess.from_dict(payload["preprocess"])
    import torch

    torch.set_num_threads(threads)
    res["reference"] = reference_cnn.train_reference(work / f"{name}-default", pre, len(payload["classes"]))
    if export:
        res["sqz_default"]["export"] = _int8(work / f"{name}-default", work / f"{name}-export")
        if "sqz_late" in res:
            res["sqz_late"]["export"] = _int8(work / f"{name}-late", work / f"{name}-late-export")
    return res


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def render(results: dict) -> str:
    """The Markdown of docs/bench/small_sets.md, from the JSON."""
    out = [f"Measured by `python -m bench.small_sets` on {results['date']}: {results['machine']}; every run with "
           f"`--threads {results['threads']}` unless said, niced, one after another, on a machine shared with other jobs.", ""]
    for r in results["sets"]:
        kind = (f"{r['train_files']:,} training + {r['test_files']:,} test PNGs, "
                + (f"RGB {r['side']}²: Fashion-MNIST upscaled (bilinear), then per image a random background "
                   "colour bg and foreground colour fg (each channel uniform in 0–255), pixel = bg·(1 − g/255) + "
                   "fg·g/255 for grey value g (`bench/small_folders.py`)" if r["channels"] == 3
                   else "grey 28², Fashion-MNIST as it is"))
        threads = (f"; `--threads {r['threads']}`" if r.get("threads", results["threads"]) != results["threads"]
                   else "")
        out += [f"**{r['set']}**: {kind}; layout train/ + test/, 10 classes{threads}.", "",
                "| run | epochs | batch | optimiser steps | float test accuracy | int8 test accuracy | wall time |",
                "|---|---|---|---|---|---|---|"]
        for key, label in (("sqz_before", "sqz, the issue's settings (`--epochs 8 --batch-size 128`)"),
                           ("sqz_default", "sqz, default options (`auto`)"),
                           ("sqz_late", "sqz, defaults + later down-sampling (`--pools 1,3,5`, as `sqz train` "
                                        "suggests at this size)")):
            if key in r:
                s = r[key]
                ex = s.get("export", {})
                out.append(f"| {label} | {s['epochs']} | {s['batch_size']} | {s['optimizer_steps']:,} | "
                           f"{_pct(s['test_acc'])} | {_pct(ex.get('int8_acc'))}"
                           + (f" ({ex['int8_bytes']:,} B)" if ex else "") + f" | {s['wall_s']:.0f} s"
                           + (f" (+ export {ex['wall_s']:.0f} s)" if ex else "") + " |")
        ref = r["reference"]
        steps = ref["epochs"] * -(-ref["train_images"] // ref["batch_size"])
        out.append(f"| reference CNN ({ref['parameters']:,} parameters, Adam) | {ref['epochs']} | "
                   f"{ref['batch_size']} | {steps:,} | {_pct(ref['test_acc'])} | — | {ref['train_seconds']:.0f} s |")
        out += ["", "What `sqz train` printed with default options:", "", "```",
                f"$ {r['sqz_default']['command']}", *r["sqz_default"]["printed"], "```", ""]
        table = [ln for ln in r["sqz_default"].get("export", {}).get("report_md", "").splitlines()
                 if ln.startswith("|")]
        if table:
            out += ["`sqz-export OUT/model.pt --int8` on it (test split):", "", *table, ""]
    out += ["The reference trains on exactly the files of sqz's training split (its `split.json`, validation "
            "share excluded), decoded with the run's Preprocess, and is measured on the same test files: "
            + reference_cnn.__doc__.split("\n\n", 1)[1].strip().replace("\n", " ").replace(
                "REF_EPOCHS", str(reference_cnn.REF_EPOCHS)), "",
            "`--workers 0`: on this shared 2-core machine decoding in the training process was the fastest; the "
            "recipe (epochs, batch, schedule) is the default.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="grey,rgb")
    ap.add_argument("--work", type=Path, default=Path("/tmp/sqz-small-sets"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--no-before", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    ap.add_argument("--render", action="store_true", help="only re-render OUT/small_sets.md from its JSON")
    a = ap.parse_args(argv)
    if a.render:
        from sqz.files import write_text

        write_text(a.out / "small_sets.md", render(json.loads((a.out / "small_sets.json").read_text())))
        return _refresh_readme(a.out)
    import platform
    from datetime import datetime, timezone

    results = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average "
                          f"{os.getloadavg()[0]:.1f} at start (shared)", "threads": a.threads, "sets": []}
    names = a.sets.split(",")
    old = a.out / "small_sets.json"
    if old.exists():  # keep the sets not rerun (one set at a time fits a busy machine better)
        kept = json.loads(old.read_text())
        results["sets"] = [{"threads": kept["threads"], **r} for r in kept["sets"] if r["set"] not in names]
    for name in names:
        results["sets"].append(run_set(name, a.work, a.threads, not a.no_export, not a.no_before))
        a.out.mkdir(parents=True, exist_ok=True)
        from sqz.files import write_text

        write_text(a.out / "small_sets.json", json.dumps(results, indent=1) + "\n")
        write_text(a.out / "small_sets.md", render(results))
        print(render(results), flush=True)
    _refresh_readme(a.out)


def _refresh_readme(out: Path) -> None:
    if out.resolve() == (REPO / "docs" / "bench").resolve():
        from tools import readme

        readme.update(paths=["docs/bench/small_sets.md"])


if __name__ == "__main__":
    main()
