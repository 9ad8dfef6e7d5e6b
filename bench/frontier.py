"""The size/accuracy/latency frontier at real input sizes: every route to the 0.5 MB budget, side by side.

python -m bench.frontier [--side 96] [--train 6000] [--test 2000] [--epochs 24] [--batch-size 32]
                         [--routes base,budget,fit,int4,mixed] [--work DIR] [--threads 2] [--render]
                         [--init-from /tmp/sqz-frontier-96 --lr 5e-4 --carry base,budget]

On an RGB folder made from Fashion-MNIST (bench/small_folders.py: upscaled to --side², random colours), through
sqz's own commands: the unconstrained SqueezeNet 1.1 (`base`), `sqz train --budget 0.5MB` (`budget`),
`sqz compress base --fit 0.5MB` (`fit`: channel pruning + distillation) and `sqz-export base --weights
int4|mixed` (4-bit QAT). Each is exported full-int8 and evaluated on the same test split; batch-1 int8 latency
is measured for all files interleaved in one run (ai-edge-litert, XNNPACK, 1 thread).
Writes docs/bench/frontier_<side>.json / .md and frontier_<side>.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import small_folders

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "bench"
BUDGET = "0.5MB"
LABELS = {
    "base": "unconstrained int8 (SqueezeNet 1.1)",
    "budget": "`sqz train --budget 0.5MB` (metaparameters)",
    "fit": "`sqz compress --fit 0.5MB` (channels pruned + distilled)",
    "int4": "`--weights int4` (4-bit QAT)",
    "mixed": "`--weights mixed` (4-bit QAT where cheapest)",
}


def _sqz(args: list[str], log) -> float:
    """Run `python -m sqz.cli ARGS` (or sqz-export for ["export", ...]); its wall seconds."""
    log("$ sqz " + " ".join(args))
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "sqz.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if r.returncode:
        raise SystemExit(f"sqz {' '.join(args)} failed (exit {r.returncode}):\n{(r.stderr or r.stdout)[-2000:]}")
    return round(time.perf_counter() - t0, 1)


def _export(ckpt: Path, out: Path, eval_limit: int, log, extra: list[str] = ()) -> tuple[dict, float | None]:
    """The export's report (an export already in `out` is reused: wall None) and its wall seconds."""
    from sqz.export import report

    if (out / report.REPORT).exists():
        return report.read(out).to_dict(), None
    wall = _sqz(["export", str(ckpt), "--int8", "--out", str(out), "--eval-limit", str(eval_limit), *extra], log)
    return report.read(out).to_dict(), wall


def int8_file(rep: dict) -> str:
    """The name of the integer file an export wrote: model_int8.tflite, or model_int4/model_mixed.tflite."""
    return next(n for n in rep["artifacts"] if n.endswith(".tflite") and n != "model_float32.tflite")


def fine_tuned(
    work: Path, init_from: Path, common: list[str], lr: float, log, carry: tuple[str, ...] = ("base", "budget", "fit")
) -> dict[str, dict]:
    """The `carry` routes of the smaller-side run in `init_from`, fine-tuned at this side (`sqz train --init`:
    SqueezeNet is fully convolutional; a pruned model keeps its widths, a budget-trained one its metaparameters)."""
    got: dict[str, dict] = {}
    for route in carry:
        ckpt = f"{route}/model.pt"
        if (init_from / ckpt).exists() and not (work / route / "model.pt").exists():
            got[route] = {
                "train_s": _sqz(
                    ["train", *common, "--init", str(init_from / ckpt), "--lr", str(lr), "--out", str(work / route)],
                    log,
                )
            }
    return got


def run_routes(
    work: Path,
    data: Path,
    side: int,
    epochs: int,
    threads: int,
    routes: list[str],
    eval_limit: int,
    qat_epochs: int,
    fit_epochs: int,
    log,
    init_from: Path | None = None,
    lr: float = 5e-4,
    qat_images: int = 0,
    batch: str = "auto",
    carry: tuple[str, ...] = ("base", "budget", "fit"),
) -> dict:
    common = [
        "--data",
        str(data),
        "--size",
        str(side),
        "--channels",
        "3",
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch),
        "--threads",
        str(threads),
        "--workers",
        "0",
    ]
    got: dict[str, dict] = fine_tuned(work, init_from, common, lr, log, carry) if init_from else {}
    base = work / "base"
    if not (base / "model.pt").exists():
        got.setdefault("base", {})["train_s"] = _sqz(["train", *common, "--out", str(base)], log)
    for route in routes:
        r = got.setdefault(route, {})
        if route == "base":
            r["report"], r["export_s"] = _export(base / "model.pt", work / "x-base", eval_limit, log)
        elif route == "budget":
            if not (work / "budget" / "model.pt").exists():
                r["train_s"] = _sqz(["train", *common, "--budget", BUDGET, "--out", str(work / "budget")], log)
            r["report"], r["export_s"] = _export(work / "budget" / "model.pt", work / "x-budget", eval_limit, log)
        elif route == "fit":
            fitted = work / "fit" / "model.pt"
            if not fitted.exists():
                r["compress_s"] = _sqz(
                    [
                        "compress",
                        str(base / "model.pt"),
                        "--fit",
                        BUDGET,
                        "--epochs",
                        str(fit_epochs),
                        "--out",
                        str(fitted),
                    ],
                    log,
                )
            r["report"], r["export_s"] = _export(fitted, work / "x-fit", eval_limit, log)
        else:
            r["report"], r["export_s"] = _export(
                base / "model.pt",
                work / f"x-{route}",
                eval_limit,
                log,
                ["--weights", route, "--qat-epochs", str(qat_epochs), "--qat-images", str(qat_images)],
            )
    return got


def latencies(work: Path, routes: list[str], seconds: float) -> dict[str, float]:
    """Median batch-1 ms of every route's integer file on one real training image (the base run's stored
    calibration sample), interleaved in one run (ai-edge-litert, XNNPACK where it applies, 1 thread)."""
    from sqz.export import report
    from sqz.export.weights import latency
    from sqz.runtime.preprocess import Preprocess, normalize
    from sqz.train import calibsample, checkpoint

    paths = [work / f"x-{r}" / int8_file(report.read(work / f"x-{r}").to_dict()) for r in routes]
    pre = Preprocess.from_dict(checkpoint.load_raw(work / "base" / "model.pt")["preprocess"])
    x = normalize(calibsample.read(work / "base", pre)[0][:1], pre)
    return dict(zip(routes, latency(paths, x, seconds)))


def record(args, got: dict, lat: dict) -> dict:
    rows = []
    for route, r in got.items():
        rep = r["report"]
        a = rep["artifacts"][int8_file(rep)]
        rows.append(
            {
                "route": route,
                "file_bytes": a["bytes"],
                "packed_bytes": a["packed"]["bytes"],
                "int8_acc": a.get("accuracy"),
                "float_acc": rep["torch"]["accuracy"],
                "agreement": a.get("top1_agreement"),
                "latency_ms": lat.get(route),
                "fits": a["bytes"] <= 500_000,
                "arch": rep["arch"],
                "seconds": {k: v for k, v in r.items() if k.endswith("_s")},
            }
        )
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "side": args.side,
        "train_images": args.train,
        "test_images": args.test,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "init_from": str(args.init_from) if args.init_from else None,
        "carried": args.carry.split(",") if args.init_from else [],
        "fit_epochs": args.fit_epochs,
        "eval_images": got[next(iter(got))]["report"]["eval_images"],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_at_end": round(os.getloadavg()[0], 1),
        "ranges": sorted({r["report"].get("calibration_ranges") or "minmax" for r in got.values()}),
        "rows": rows,
    }


def markdown(rec: dict) -> str:
    base = next((r for r in rec["rows"] if r["route"] == "base"), None)
    pct = lambda v: "—" if v is None else f"{100 * v:.2f} %"
    lines = [
        f"Measured by `python -m bench.frontier --side {rec['side']}` on {rec['date']} ({rec['machine']}; load "
        f"average {rec['load_average_at_end']} at the end): RGB {rec['side']}² folder from Fashion-MNIST "
        f"(random colours, bench/small_folders.py), {rec['train_images']:,} training and {rec['test_images']:,} "
        f"test images, {rec['epochs']} epochs at batch {rec.get('batch_size', 'auto')}"
        + _carried(rec)
        + f"; int8 activation ranges {'/'.join(rec.get('ranges', ['minmax']))} (`sqz export --ranges`)"
        + f"; accuracy of the full-int8 file on {rec['eval_images']:,} test "
        "images; latency batch-1, ai-edge-litert with XNNPACK, 1 thread, all files interleaved in one run.",
        "",
        "| route | int8 file | packed (xz) | fits 500,000 B | int8 accuracy | Δ vs unconstrained | top-1 agreement "
        "with its float model¹ | latency | vs unconstrained |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rec["rows"]:
        delta = (
            f"{100 * (r['int8_acc'] - base['int8_acc']):+.2f} pt"
            if base and r["int8_acc"] is not None and r is not base
            else "—"
        )
        speed = (
            f"{r['latency_ms'] / base['latency_ms']:.2f}×"
            if base and r["latency_ms"] and base["latency_ms"] and r is not base
            else "—"
        )
        lines.append(
            f"| {LABELS[r['route']]} | {r['file_bytes']:,} B | {r['packed_bytes']:,} B | "
            f"{'yes' if r['fits'] else 'no'} | {pct(r['int8_acc'])} | {delta} | {pct(r['agreement'])} | "
            f"{_ms(r['latency_ms'])} | {speed} |"
        )
    lines += ["", "¹ int4/mixed: with the float model before 4-bit QAT, which moved the weights."]
    return "\n".join(lines) + "\n"


def _carried(rec: dict) -> str:
    """How the routes of a run that started from a smaller side's weights were made."""
    if not rec.get("init_from"):
        return ""
    carried = rec.get("carried") or ["base", "budget", "fit"]
    routes = f"route{'s' if len(carried) > 1 else ''}"
    text = f" fine-tuning the {', '.join(carried)} {routes} of the 96² run (`sqz train --init`)"
    if "fit" not in carried and rec.get("fit_epochs"):
        text += (
            f"; `fit` pruned at {rec['side']}² from this side's unconstrained model, {rec['fit_epochs']} "
            "distillation epoch(s) per round"
        )
    return text


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f} ms"


def plot(rec: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sqz.files import atomic_write

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for r in rec["rows"]:
        ax.scatter(r["file_bytes"] / 1000, 100 * (r["int8_acc"] or 0), s=40)
        ax.annotate(
            r["route"],
            (r["file_bytes"] / 1000, 100 * (r["int8_acc"] or 0)),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=9,
        )
    ax.axvline(500, color="grey", linestyle="--", linewidth=1)
    ax.text(502, ax.get_ylim()[0], " 0.5 MB", color="grey", va="bottom", fontsize=8)
    ax.set_xlabel("full-int8 .tflite (kB)")
    ax.set_ylabel("int8 test accuracy (%)")
    ax.set_title(f"sqz routes to the budget, RGB {rec['side']}², 10 classes")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=96)
    ap.add_argument("--train", type=int, default=6000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--batch-size", default="32")
    ap.add_argument("--routes", default="base,budget,fit,int4,mixed")
    ap.add_argument("--eval-limit", type=int, default=0)
    ap.add_argument("--qat-epochs", type=int, default=1)
    ap.add_argument("--fit-epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--latency-seconds", type=float, default=6.0)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--init-from", type=Path, help="fine-tune the routes of this smaller-side work directory")
    ap.add_argument(
        "--carry",
        default="base,budget,fit",
        help="with --init-from: the routes fine-tuned from it (the others are made at this side)",
    )
    ap.add_argument("--lr", type=float, default=5e-4, help="with --init-from: the fine-tuning peak rate")
    ap.add_argument("--qat-images", type=int, default=0, help="4-bit QAT on this many training images (0: all)")
    ap.add_argument("--render", action="store_true", help="only re-render from the JSON")
    args = ap.parse_args(argv)
    stem = OUT / f"frontier_{args.side}"
    from sqz.files import write_text

    if args.render:
        rec = json.loads(stem.with_suffix(".json").read_text())
    else:
        log = lambda m: print(m, file=sys.stderr, flush=True)
        work = args.work or Path(f"/tmp/sqz-frontier-{args.side}")
        data = work / "data"
        if not (data / ".done").exists():
            small_folders.write(data, args.train, args.test, rgb_side=args.side)
            (data / ".done").write_text("")
        routes = args.routes.split(",")
        got = run_routes(
            work,
            data,
            args.side,
            args.epochs,
            args.threads,
            routes,
            args.eval_limit,
            args.qat_epochs,
            args.fit_epochs,
            log,
            args.init_from,
            args.lr,
            args.qat_images,
            args.batch_size,
            tuple(args.carry.split(",")),
        )
        rec = record(args, got, latencies(work, routes, args.latency_seconds))
        write_text(stem.with_suffix(".json"), json.dumps(rec, indent=1) + "\n")
    write_text(stem.with_suffix(".md"), markdown(rec))
    plot(rec, stem.with_suffix(".png"))
    print(markdown(rec))


if __name__ == "__main__":
    main()
