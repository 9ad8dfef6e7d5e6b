"""Size against accuracy: the compression variants of the default model, one table and one plot.

python -m bench.tradeoff [--quick] [--out bench/out/tradeoff] [--docs docs/tradeoff]

Every variant starts from the bundled checkpoint (or is trained from scratch with smaller
metaparameters), is exported to full int8 by the same pipeline, and is measured on the full
Fashion-MNIST test set. Then the 1000-class, 224², 3-channel SqueezeNet goes through the most
aggressive settings that cost at most 1 point here, for a size figure beside the paper's 0.47 MB.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from bench.artifacts import IMAGENET
from sqz.compress.sparse import compress
from sqz.export.config import ExportConfig
from sqz.export.pipeline import default_checkpoint, export
from sqz.gate.budget import parse_budget
from sqz.runtime import load as load_model
from sqz.runtime.bench import bench
from sqz.runtime.preprocess import Preprocess, normalize
from sqz.train import checkpoint
from sqz.train.data import fashion_mnist
from sqz.train.loop import TrainConfig, train
from sqz.train.surgery import fold_batchnorm

BUDGET = parse_budget("0.5MB")
PAPER_BYTES = 470_000


def variants(quick: bool) -> list[dict]:
    """What to build: compression passes from the default checkpoint, and smaller architectures."""
    ft = 2 if quick else 4
    meta_epochs = 12 if quick else 40
    return [
        {"name": "int8 (stock, dead taps kept)", "key": "stock", "export": {"dead_taps": False}},
        {"name": "int8 + dead taps removed (default)", "key": "default"},
        {"name": "+ prune 50 %", "key": "prune50", "compress": {"sparsity": 0.5, "epochs": ft}},
        {"name": "+ prune 75 %", "key": "prune75", "compress": {"sparsity": 0.75, "epochs": ft}},
        {"name": "+ share 16 values (4 bit)", "key": "share4", "compress": {"share_bits": 4, "epochs": ft}},
        {"name": "+ share 64 values (6 bit)", "key": "share6", "compress": {"share_bits": 6, "epochs": ft}},
        {
            "name": "+ prune 50 % + share 32 (5 bit)",
            "key": "prune50share5",
            "compress": {"sparsity": 0.5, "share_bits": 5, "epochs": ft},
        },
        {
            "name": "+ prune 75 % + share 16 (4 bit)",
            "key": "prune75share4",
            "compress": {"sparsity": 0.75, "share_bits": 4, "epochs": ft},
        },
        {
            "name": f"pct3x3 0.25, trained {meta_epochs} ep",
            "key": "pct025",
            "train": {"metaparameters": {"pct3x3": 0.25}, "epochs": meta_epochs},
        },
        {
            "name": f"base_e 96, trained {meta_epochs} ep",
            "key": "base96",
            "train": {"metaparameters": {"base_e": 96, "incr_e": 96}, "epochs": meta_epochs},
        },
    ]


def build_variant(v: dict, base: Path, work: Path, log) -> Path:
    """The checkpoint a variant exports."""
    if "compress" in v:
        out = work / v["key"] / "compressed.pt"
        log(f"[{v['key']}] compressing: {v['compress']}")
        compress(base, out, **v["compress"], progress=False)
        return out
    if "train" in v:
        run = work / v["key"] / "run"
        log(f"[{v['key']}] training from scratch: {v['train']}")
        train(TrainConfig(out=str(run), **v["train"]), progress=False)
        return run / "model.pt"
    return base


@torch.no_grad()
def float_reference(base: Path, x: np.ndarray) -> np.ndarray:
    model = fold_batchnorm(checkpoint.load(base)[0])
    return torch.cat([model(torch.from_numpy(x[i : i + 512])) for i in range(0, len(x), 512)]).numpy().argmax(1)


def measure(v: dict, exp_dir: Path, rep: dict, test, ref: np.ndarray, runs: int) -> dict:
    art = rep["artifacts"]["model_int8.tflite"]
    pred = load_model(exp_dir / "model_int8.tflite").predict(test.x).argmax(1)
    lat = bench(exp_dir / "model_int8.tflite", threads=1, runs=runs, warmup=max(10, runs // 10))
    return {
        "variant": v["name"],
        "key": v["key"],
        "file_bytes": art["bytes"],
        "packed_bytes": art["packed"]["bytes"],
        "accuracy": float((pred == test.y).mean()),
        "agreement_with_float": float((pred == ref).mean()),
        "int8_latency_ms": lat["latency_ms"]["median"],
        "parameters": rep["dead_taps"]["parameters_after"],
        "checkpoint_compression": rep.get("compression"),
    }


def paper_figure(best: dict, work: Path, log) -> list[dict]:
    """The 1000-class, 224², 3-channel SqueezeNets through `best`'s pruning + sharing + packing."""
    from sqz.compress.prune import GradualPruner
    from sqz.compress.share import WeightSharer
    from sqz.export.shrink import pack_artifact
    from sqz.export.tflite import convert
    from sqz.train.arch import ArchConfig
    from sqz.train.model import build
    from sqz.train.surgery import remove_dead_taps

    rows = []
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, size=(16, 224, 224, 3), dtype=np.uint8)  # uint8 as decoded; convert normalises
    for arch in ("1.0", "1.1"):
        torch.manual_seed(0)
        model = build(ArchConfig.named(arch)).eval()
        sparsity, bits = best.get("sparsity", 0.0), best.get("share_bits", 0)
        if sparsity:
            GradualPruner(model, sparsity)(1, 1)
        if bits:
            WeightSharer(model, bits)(1, 1)
        net, _ = remove_dead_taps(fold_batchnorm(model), 224)  # as sqz-export converts it (no-ops here)
        d = work / f"imagenet_{arch}"
        d.mkdir(parents=True, exist_ok=True)
        log(f"[paper] SqueezeNet {arch}, 1000 classes, 224²: sparsity {sparsity}, {bits}-bit sharing …")
        tfl = convert(net, IMAGENET, d, calib)["int8"]
        packed = pack_artifact(tfl)
        rows.append(
            {
                "arch": arch,
                "parameters": sum(p.numel() for p in model.parameters()),
                "sparsity": sparsity,
                "share_bits": bits,
                "file_bytes": tfl.stat().st_size,
                "packed_bytes": packed["bytes"],
                "paper_bytes": PAPER_BYTES,
            }
        )
    return rows


def pick_best(rows: list[dict], baseline_acc: float, spec: dict) -> dict:
    """The compression settings with the smallest packed size that cost at most 1 point."""
    ok = [r for r in rows if "compress" in spec[r["key"]] and r["accuracy"] >= baseline_acc - 0.01]
    if not ok:
        return {}
    best = min(ok, key=lambda r: r["packed_bytes"])
    c = spec[best["key"]]["compress"]
    return {"key": best["key"], "sparsity": c.get("sparsity", 0.0), "share_bits": c.get("share_bits", 0)}


def markdown(result: dict) -> str:
    base = result["float_accuracy"]
    md = [
        f"Float SqueezeNet 1.1 (bundled checkpoint, BatchNorm folded): **{100 * base:.2f} %** on the "
        f"{result['test_images']:,} Fashion-MNIST test images. Every row is a full-int8 TFLite file "
        "(int8 in/out) measured on the same images; latency is the median of "
        f"{result['runs']} batch-1 calls on 1 thread with ai-edge-litert on this machine ({result['machine']}).",
        "",
        "| variant | parameters | file bytes | packed (xz) bytes | accuracy | Δ vs float | agreement with float | "
        "int8 latency |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        fits = " ✅" if r["file_bytes"] <= BUDGET else ""
        md.append(
            f"| {r['variant']} | {r['parameters']:,} | {r['file_bytes']:,}{fits} | {r['packed_bytes']:,} | "
            f"{100 * r['accuracy']:.2f} % | {100 * (r['accuracy'] - base):+.2f} pt | "
            f"{100 * r['agreement_with_float']:.2f} % | {r['int8_latency_ms']:.3f} ms |"
        )
    md += ["", "✅ = file under the 0.5 MB (500,000 B) budget.", ""]
    if result.get("paper"):
        b = result["best"]
        md += [
            f"**The paper's number.** The settings that cost at most 1 point above with the smallest packed file "
            f"(`{b.get('key')}`: sparsity {b.get('sparsity')}, {b.get('share_bits') or 'no'}-bit sharing) "
            "applied to the 1000-class, 224², 3-channel SqueezeNets. No ImageNet is available here: the weights "
            "are random (He init, pruned and shared), calibration data is synthetic, so these are **size "
            "figures, not accuracy claims**; trained weights pack differently.",
            "",
            "| SqueezeNet | parameters | full-int8 file | packed (xz) | paper (Deep Compression, 6 bit) |",
            "|---|---|---|---|---|",
        ]
        for p in result["paper"]:
            md.append(
                f"| {p['arch']} | {p['parameters']:,} | {p['file_bytes']:,} B | {p['packed_bytes']:,} B | "
                f"{p['paper_bytes']:,} B |"
            )
        md.append("")
    md.append(
        f"Produced by `python -m bench.tradeoff{' --quick' if result['quick'] else ''}` in "
        f"{result['seconds'] / 60:.0f} minutes."
    )
    return "\n".join(md) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for metric, marker in (("file_bytes", "o"), ("packed_bytes", "^")):
        xs = [r[metric] / 1000 for r in result["rows"]]
        ys = [100 * r["accuracy"] for r in result["rows"]]
        ax.scatter(xs, ys, marker=marker, label="file (.tflite)" if metric == "file_bytes" else "packed (.xz)")
        if metric == "packed_bytes":
            for r, x, y in zip(result["rows"], xs, ys):
                ax.annotate(r["key"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.axvline(BUDGET / 1000, color="red", linestyle="--", label="0.5 MB budget")
    ax.axhline(100 * result["float_accuracy"], color="grey", linestyle=":", label="float baseline")
    ax.axhline(100 * result["float_accuracy"] - 1, color="grey", linestyle="-.", linewidth=0.8, label="−1 pt")
    ax.set_xlabel("size (kB, 1 kB = 1000 B)")
    ax.set_ylabel("Fashion-MNIST test accuracy (%)")
    ax.set_title("SqueezeNet 1.1 full-int8: accuracy against size")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer fine-tuning epochs, smaller models trained 12 epochs")
    ap.add_argument("--out", type=Path, default=Path("bench/out/tradeoff"))
    ap.add_argument("--docs", type=Path, default=Path("docs/tradeoff"))
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--only", default="", help="comma-separated variant keys (default: all)")
    ap.add_argument("--no-paper", action="store_true")
    ap.add_argument("--render-only", action="store_true", help="redraw table and plot from OUT/tradeoff.json")
    args = ap.parse_args(argv)
    if args.render_only:
        result = json.loads((args.out / "tradeoff.json").read_text())
        _write(result, args)
        return 0
    t0 = time.perf_counter()
    log = lambda m: print(f"[{time.perf_counter() - t0:6.0f} s] {m}", flush=True)
    base = default_checkpoint()
    ds = fashion_mnist()
    pre = Preprocess.from_dict(checkpoint.load_raw(base)["preprocess"])
    ref = float_reference(base, normalize(ds.test.x, pre))
    spec = {v["key"]: v for v in variants(args.quick)}
    keys = [k for k in args.only.split(",") if k] or list(spec)
    rows = []
    for key in keys:
        v = spec[key]
        ckpt = build_variant(v, base, args.out, log)
        exp_dir = args.out / key / "export"
        log(f"[{key}] exporting full int8 …")
        config = ExportConfig(int8=True, **v.get("export", {}))
        rep = export(ckpt, out=exp_dir, config=config, log=lambda m: None).to_dict()
        rep["compression"] = checkpoint.load_raw(ckpt).get("record", {}).get("compression")
        rows.append(measure(v, exp_dir, rep, ds.test, ref, args.runs))
        log(
            f"[{key}] file {rows[-1]['file_bytes']:,} B, packed {rows[-1]['packed_bytes']:,} B, "
            f"accuracy {100 * rows[-1]['accuracy']:.2f} %"
        )
    import os
    import platform

    result = {
        "quick": args.quick,
        "float_accuracy": float((ref == ds.test.y).mean()),
        "test_images": len(ds.test),
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "rows": rows,
    }
    result["best"] = pick_best(rows, result["float_accuracy"], spec)
    result["paper"] = [] if args.no_paper or not result["best"] else paper_figure(result["best"], args.out, log)
    result["seconds"] = time.perf_counter() - t0
    _write(result, args)
    return 0


def _write(result: dict, args) -> None:
    for d in (args.out, args.docs):
        d.mkdir(parents=True, exist_ok=True)
        (d / "tradeoff.json").write_text(json.dumps(result, indent=2))
        (d / "tradeoff.md").write_text(markdown(result))
        plot(result, d / "tradeoff.png")
    print(markdown(result))


if __name__ == "__main__":
    raise SystemExit(main())
