"""`make bench`: make every artifact, time them side by side, write JSON + Markdown + PNG (the figures on
docs/performance.md).

python -m bench.run [--checkpoint PT] [--rounds N] [--per-round N] [--threads 1,2] [--no-peer]
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

import numpy as np

from bench import artifacts, latency, peer_venv, render
from bench import engines as eng
from bench.machine import cpu
from sqz.export.pipeline import default_checkpoint

REPO = Path(__file__).resolve().parents[1]


def _versions() -> dict:
    """What sqz's export and the bench's runtimes are made of now: torch → ONNX (onnx, onnxruntime for the checks),
    numpy + flatbuffers for the .tflite files sqz writes itself, the TFLite interpreters that run them (tflite-runtime
    only where installed)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ("torch", "onnx", "onnxruntime", "ai-edge-litert", "flatbuffers", "numpy", "tflite-runtime")
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            if n != "tflite-runtime":
                raise
    return out


def _accuracy(m: dict, peer: bool, log) -> dict:
    """Size, precision, runtime, delegate, test accuracy and top-1 agreement with torch of every engine."""
    rows = {}
    ref = None
    for e in eng.engines(m, threads=2, peer=peer):
        path = Path(m["dir"]) / e.artifact
        row = {
            "label": e.label,
            "artifact": e.artifact,
            "precision": e.precision,
            "runtime": e.runtime,
            "delegate": e.delegate,
            "bytes": (Path(m["checkpoint"]).stat().st_size if e.key == "torch_fp32" else path.stat().st_size),
            "accuracy": None,
            "agreement": None,
        }
        if m["test_x"] is not None:
            log(f"  accuracy: {e.label} on {len(m['test_x']):,} test images …")
            logits = e.logits(m["test_x"])
            row["accuracy"] = float((logits.argmax(1) == m["test_y"]).mean())
            if e.key == "torch_fp32":
                ref = logits.argmax(1)
            row["_pred"] = logits.argmax(1)
        rows[e.key] = row
    for row in rows.values():
        pred = row.pop("_pred", None)
        if pred is not None and ref is not None:
            row["agreement"] = float((pred == ref).mean())
    return rows


def bench_model(m: dict, args, peer_ok: bool, log) -> dict:
    ort_s = artifacts.ort_int8(m, log)
    peer = artifacts.litert_torch_int8(m, log) if peer_ok else {"ok": False, "error": "skipped (--no-peer)"}
    rows = _accuracy(m, peer["ok"], log)
    lat = {}
    for t in args.threads:
        log(f"{m['name']}: latency at {t} thread(s), {args.rounds} interleaved rounds × {args.per_round} runs …")
        lat[str(t)] = latency.interleaved(eng.engines(m, t, peer["ok"]), args.rounds, args.per_round, args.warmup)
    rep = m["report"]
    return {
        "title": m["title"],
        "checkpoint": _rel(m["checkpoint"]),
        "bench_input": m["bench_input"],
        "notes": m["notes"],
        "calibration": m["calibration_kind"],
        "eval_images": None if m["test_x"] is None else int(len(m["test_x"])),
        "artifacts": rows,
        "latency": lat,
        "export_s": m["stages_s"],
        "ort_quantize_s": ort_s,
        "peer": peer,
        "onnx_parity": rep.get("onnx_parity"),
        "gate": rep.get("gate"),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled sqz/models checkpoint")
    p.add_argument("--models", default="default,squeezenet224")
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--per-round", type=int, default=12)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--calib", type=int, default=500, help="calibration images for the default model")
    p.add_argument("--calib-224", type=int, default=64)
    p.add_argument("--no-peer", action="store_true", help="skip litert-torch (no venv is made)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    p.add_argument("--docs", type=Path, default=REPO / "docs" / "bench")
    args = p.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",")]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    start, load_start = time.perf_counter(), os.getloadavg()
    ckpt = args.checkpoint or default_checkpoint()
    if not Path(ckpt).is_file():
        log(f"bench: no checkpoint at {ckpt}; run `make default-model` or give --checkpoint")
        return 2
    venv = {"created": False, "seconds": 0.0, "versions": {}}
    if not args.no_peer:
        venv = peer_venv.ensure(log)
    wanted = args.models.split(",")
    results = {}
    if "default" in wanted:
        m = artifacts.default_model(Path(ckpt), args.out / "default", args.calib, log)
        results["default"] = bench_model(m, args, not args.no_peer, log)
    if "squeezenet224" in wanted:
        m = artifacts.squeezenet224(args.out / "squeezenet224", args.calib_224, log)
        results["squeezenet224"] = bench_model(m, args, not args.no_peer, log)
    record = {
        "generated_by": "make bench (python -m bench.run)",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu(),
            "cores": os.cpu_count(),
            "arch": platform.machine(),
            "loadavg_start": [round(v, 2) for v in load_start],
            "loadavg_end": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(),
        },
        "versions": _versions(),
        "peer_venv": venv,
        "settings": {
            "rounds": args.rounds,
            "per_round": args.per_round,
            "warmup": args.warmup,
            "threads": args.threads,
            "reference": eng.REFERENCE,
            "sqz_ships": eng.SQZ_SHIPS,
        },
        "models": results,
        "duration_s": round(time.perf_counter() - start, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(record, indent=2, default=_plain))
    render.write(json.loads(json.dumps(record, default=_plain)), args.docs)
    print(render.ratios_text(record))
    print(
        f"\nwrote {args.out / 'results.json'}, {args.docs / 'performance.md'}, {args.docs / 'latency.png'} "
        f"in {record['duration_s'] / 60:.1f} min"
    )
    return 0


def _rel(path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(path)


def _plain(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(type(v))


if __name__ == "__main__":
    sys.exit(main())
