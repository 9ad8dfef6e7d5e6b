"""Conversion side by side: sqz (this tree) against the old onnx2tf path (sqz at bench/peer_onnx2tf.OLD_COMMIT, its
own venv) and litert-torch (bench/peer_venv.py), each a fresh process converting a checkpoint to TFLite float32 and
full int8 on the same calibration images, without evaluation. Interleaved rounds (each round runs every tool on
every model, the tool order rotating), medians, ratios sqz/peer, peak RSS of each process tree.

python -m bench.convert [--rounds 3] [--calib 500] [--models default,224] [--work /tmp/sqz-bench-convert] [--no-peers]
python -m bench.convert --render     re-renders docs/bench/convert.md from docs/bench/convert.json

Models: `default`, the bundled Fashion-MNIST checkpoint (32², 1 channel; its export draws the calibration images from
its stored sample or training data itself, and litert-torch gets the same draw); `224`, SqueezeNet 1.1 on 224² RGB,
10 classes, trained a few steps on a generated JPEG folder, with a stored calibration sample of exactly --calib
images beside it. Writes docs/bench/convert.json and .md; everything else stays under --work.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.machine import cpu

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "bench"
DEFAULT_CKPT = REPO / "sqz" / "models" / "fashion_mnist_1.1.pt"
TOOLS = ("sqz", "onnx2tf", "litert-torch")
PEERS = TOOLS[1:]
MODELS = ("default", "224")
SIDE = 224
RSS_GOAL = 600_000_000  # bytes, at 224² (MB as sqz's budgets count it: 10^6)
# sqz's conversion time over each peer's: the issue's goals
TIME_GOAL = {"onnx2tf": ("at most ⅓ of", lambda r: r <= 1 / 3), "litert-torch": ("faster than", lambda r: r < 1)}

# litert-torch in its venv: the BN-folded model to float32 TFLite, then bench/peer_convert.py's PT2E full int8.
LITERT_SCRIPT = r"""
import json, sys, time
import numpy as np, torch, litert_torch
from bench.peer_convert import main
from sqz.train import checkpoint
from sqz.train.surgery import fold_batchnorm
ckpt, calib, f32, i8 = sys.argv[1:5]
t = time.perf_counter()
model = fold_batchnorm(checkpoint.load(ckpt)[0]).eval()
litert_torch.convert(model, (torch.from_numpy(np.load(calib)[:1]),)).export(f32)
float_s = round(time.perf_counter() - t, 2)
print(json.dumps({"float32_seconds": float_s, **main(ckpt, calib, i8)}))
"""
SQZ_SCRIPT = "from sqz.cli import export_main; export_main()"


# ---- figures ------------------------------------------------------------------------------------------------------


def spread(values) -> dict | None:
    """{median, min, max, n} of the values that are not None; None when there are none."""
    xs = [v for v in values if v is not None]
    if not xs:
        return None
    return {"median": round(statistics.median(xs), 3), "min": min(xs), "max": max(xs), "n": len(xs)}


def ratio(a, b) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _med(summary: dict, tool: str, key: str):
    s = (summary.get(tool) or {}).get(key)
    return s["median"] if isinstance(s, dict) else s


def summarise(runs: list[dict]) -> dict:
    """Per tool, over the successful rounds: spreads of conversion, ONNX and process seconds, the largest peak RSS,
    and the int8 / float32 file bytes (every distinct value seen)."""
    out = {}
    for tool in TOOLS:
        mine = [r for r in runs if r["tool"] == tool]
        ok = [r for r in mine if r.get("ok")]
        if not mine:
            continue
        out[tool] = {
            "rounds_ok": len(ok),
            "rounds": len(mine),
            "conversion_s": spread(r.get("conversion_s") for r in ok),
            "onnx_s": spread(r.get("onnx_s") for r in ok),
            "wall_s": spread(r.get("wall_s") for r in ok),
            "peak_rss_bytes": max((r["peak_rss_bytes"] for r in ok), default=None),
            "max_rss_bytes": max((r["max_rss_bytes"] for r in ok if r.get("max_rss_bytes")), default=None),
            "int8_bytes": sorted({r["int8_bytes"] for r in ok if r.get("int8_bytes")}),
            "float32_bytes": sorted({r["float32_bytes"] for r in ok if r.get("float32_bytes")}),
            "int8_sha256": sorted({r["int8_sha256"] for r in ok if r.get("int8_sha256")}),
            "calibration_images": sorted({r["calibration_images"] for r in ok if r.get("calibration_images")}),
            "errors": [r["error"] for r in mine if not r.get("ok")][:3],
        }
    return out


def ratios(summary: dict) -> dict:
    """sqz's median (conversion, process wall) and peak RSS over each peer's."""
    return {
        f"sqz/{peer}": {
            key: ratio(_med(summary, "sqz", key), _med(summary, peer, key))
            for key in ("conversion_s", "wall_s", "max_rss_bytes", "peak_rss_bytes")
        }
        for peer in PEERS
    }


def goals(name: str, summary: dict, rat: dict) -> list[dict]:
    """The issue's goals for one model: conversion time against each peer, and peak RSS at 224²."""
    out = []
    for peer, (text, met) in TIME_GOAL.items():
        v = rat[f"sqz/{peer}"]["conversion_s"]
        out.append({"goal": f"sqz conversion {text} {peer}'s", "value": v, "met": None if v is None else met(v)})
    if name == "224":
        rss = _med(summary, "sqz", "max_rss_bytes")
        out.append(
            {
                "goal": f"sqz peak RSS (largest process) ≤ {RSS_GOAL / 1e6:.0f} MB",
                "value": rss,
                "met": None if rss is None else rss <= RSS_GOAL,
            }
        )
    return out


# ---- rendering ----------------------------------------------------------------------------------------------------


def _sec(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _s(sp: dict | None) -> str:
    if not sp:
        return "—"
    med = _sec(sp["median"])
    return med if sp["n"] == 1 or sp["min"] == sp["max"] else f"{med} ({_sec(sp['min'])}–{_sec(sp['max'])})"


def _x(v) -> str:
    return "—" if v is None else f"{v:.3f}×" if v < 0.1 else f"{v:.2f}×"


def _b(vs) -> str:
    return " / ".join(f"{v:,}" for v in vs) if vs else "—"


def _mb(v) -> str:
    return "—" if not v else f"{v / 1e6:,.0f} MB"


def _label(rec: dict, tool: str) -> str:
    peers = rec.get("peers") or {}
    if tool == "sqz":
        return "sqz (this tree)"
    if tool == "onnx2tf":
        v = ((peers.get("onnx2tf") or {}).get("venv") or {}).get("versions") or {}
        c = (peers.get("onnx2tf") or {}).get("commit", "")[:7]
        return f"onnx2tf path (sqz @{c or '?'}, onnx2tf {v.get('onnx2tf', '?')})"
    v = ((peers.get("litert-torch") or {}).get("venv") or {}).get("versions") or {}
    return f"litert-torch {v.get('litert-torch', '?')} (PT2E)"


def model_table(rec: dict, name: str) -> list[str]:
    m = rec["models"][name]
    s, rat = m["summary"], m["ratios"]
    tools = [t for t in TOOLS if t in s]
    head = (
        "| | "
        + " | ".join(_label(rec, t) for t in tools)
        + " | "
        + " | ".join(f"sqz / {p}" for p in PEERS if p in s)
        + " |"
    )
    rows = [head, "|---" * (1 + len(tools) + sum(p in s for p in PEERS)) + "|"]

    def row(title: str, cell, key: str | None = None, fmt=_x) -> None:
        r = [title] + [cell(s[t]) for t in tools]
        r += [fmt(rat[f"sqz/{p}"][key]) if key else "" for p in PEERS if p in s]
        rows.append("| " + " | ".join(r) + " |")

    row("conversion: TFLite float32 + int8, s", lambda t: _s(t["conversion_s"]), "conversion_s")
    row("ONNX export, s (not in conversion)", lambda t: _s(t["onnx_s"]))
    row("process wall, s", lambda t: _s(t["wall_s"]), "wall_s")
    row(
        "peak RSS, largest process (kernel high-water, largest round)",
        lambda t: _mb(t.get("max_rss_bytes")),
        "max_rss_bytes",
    )
    row(
        "peak RSS, process tree summed (forked children count shared pages twice)",
        lambda t: _mb(t["peak_rss_bytes"]),
        "peak_rss_bytes",
    )
    row("int8 file bytes", lambda t: _b(t["int8_bytes"]))
    row("float32 file bytes", lambda t: _b(t["float32_bytes"]))
    row("calibration images", lambda t: _b(t["calibration_images"]))
    row("rounds measured", lambda t: f"{t['rounds_ok']}/{t['rounds']}")
    return rows


def markdown(rec: dict) -> str:
    mc, st = rec["machine"], rec["settings"]
    la = lambda v: f"{v[0]:.2f}" if v else "?"  # noqa: E731
    lines = [
        "# Conversion: sqz against the old onnx2tf path and litert-torch",
        "",
        f"{rec['date']} · {mc['cpu']} ({mc['cores']} cores, {mc['arch']}), Python {mc['python']} · load average "
        f"(1 min) {la(mc.get('loadavg_start'))} at start, {la(mc.get('loadavg_end'))} at end · "
        f"`{rec['command']}` · {st['rounds']} interleaved round(s), {rec['duration_s'] / 60:.1f} min",
        "",
    ]
    if st["rounds"] < 3 or st["calib"] != 500:
        lines += [
            f"Smoke settings ({st['rounds']} round(s), {st['calib']} calibration images): these figures prove "
            "the harness, they are not the issue's benchmark (3 rounds, 500 images).",
            "",
        ]
    lines += [
        "Each cell: median seconds over the rounds (min–max when they differ); ratios are sqz's median over "
        "the peer's (below 1: sqz is faster or smaller). Conversion is the float32 and full-int8 TFLite work "
        "only: for sqz and the onnx2tf path the report's stages other than `onnx` (evaluation is off), for "
        "litert-torch its float32 conversion plus its PT2E int8 conversion. Process wall adds start-up, "
        "imports, loading, the ONNX export and packing (and, on the onnx2tf path, its strip step). Peak RSS: "
        "the kernel's high-water mark of the largest process (GNU time's %M), and the process tree's RSS "
        "summed, polled every 0.1 s (sqz forks a child to load each .tflite once, whose shared pages count "
        "twice there).",
        "",
    ]
    for name, m in rec["models"].items():
        lines += [f"## {m['title']}", "", *model_table(rec, name), ""]
        cal = m.get("calibration") or {}
        lines.append(
            f"- Calibration: {cal.get('images', '?')} images ({cal.get('source', '?')}), sha256 of the uint8 "
            f"pixels {str(cal.get('sha256', '?'))[:12]}; litert-torch got exactly these, normalised."
        )
        sha = {t: m["summary"][t]["int8_sha256"] for t in ("sqz", "onnx2tf") if t in m["summary"]}
        if len(sha) == 2 and sha["sqz"] and sha["sqz"] == sha["onnx2tf"]:
            lines.append("- sqz's and the onnx2tf path's int8 files are byte-identical: here sqz still is that path.")
        for g in m["goals"]:
            v = g["value"]
            if g["met"] is None:
                lines.append(f"- Goal: {g['goal']}: not measured.")
                continue
            shown = _mb(v) if "RSS" in g["goal"] else _x(v)
            lines.append(f"- Goal: {g['goal']}: {shown} — {'met' if g['met'] else 'NOT met'}.")
        for t, s in m["summary"].items():
            for e in s["errors"]:
                lines.append(f"- {t} failed a round: {e}")
        lines.append("")
    for peer, info in (rec.get("peers") or {}).items():
        if not info.get("available"):
            lines.append(f"{peer}: not measured — {info.get('why')}.")
        else:
            v = (info.get("venv") or {}).get("versions") or {}
            lines.append(
                f"{peer} ran in `bench/{Path(info['python']).parents[1].name}`: "
                + ", ".join(f"{k} {val}" for k, val in v.items() if val)
                + (f"; sqz source {info['commit'][:12]} (`git archive`)" if peer == "onnx2tf" else "")
                + "."
            )
    return "\n".join(lines).rstrip() + "\n"


# ---- measuring ----------------------------------------------------------------------------------------------------


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _save_calibration(work: Path, name: str, x: np.ndarray, pre, source: str, ckpt: Path, title: str) -> dict:
    from sqz.runtime.preprocess import normalize

    npy = work / f"calibration-{name}.npy"
    np.save(npy, normalize(x, pre))
    return {
        "name": name,
        "checkpoint": str(ckpt),
        "title": title,
        "npy": str(npy),
        "calibration": {
            "images": int(len(x)),
            "source": source,
            "sha256": hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest(),
        },
    }


def prepare_default(work: Path, calib: int, log) -> dict:
    """The bundled checkpoint as is; litert-torch's images are the draw its export makes (stored sample, else
    training data; seed 0)."""
    from sqz.export.calibsource import calibration_pool
    from sqz.quantize.calibrate import calibration_pick
    from sqz.runtime.preprocess import Preprocess
    from sqz.train import checkpoint

    log("default: drawing the export's calibration images for litert-torch …")
    payload = checkpoint.load_raw(DEFAULT_CKPT)
    pre = Preprocess.from_dict(payload["preprocess"])
    pool, source = calibration_pool(DEFAULT_CKPT, payload, pre, calib, None, None)
    x = calibration_pick(pool, calib, 0)
    title = (
        f"default: the bundled Fashion-MNIST SqueezeNet {payload['arch'].get('version', '1.1')} "
        f"({pre.channels}×{pre.size}², {len(payload['classes'])} classes)"
    )
    return _save_calibration(work, "default", x, pre, source, DEFAULT_CKPT, title)


def prepare_224(work: Path, calib: int, env: dict, log) -> dict:
    """SqueezeNet 1.1, 224² RGB, 10 classes, trained a few steps on a generated 1,000-JPEG folder (once per --work),
    copied to run-224/ beside a stored calibration sample of exactly `calib` of the folder's training images."""
    from bench.export_memory import make_folder, train_once
    from sqz.runtime.preprocess import Preprocess
    from sqz.train import calibsample, checkpoint, folder

    trained = work / "run"
    if not (trained / "model.pt").is_file():
        train_once(work, SIDE, SIDE, env, log)
    data = make_folder(work / "photos-1000", 1000, SIDE)
    run = work / "run-224"
    run.mkdir(exist_ok=True)
    shutil.copyfile(trained / "model.pt", run / "model.pt")
    payload = checkpoint.load_raw(run / "model.pt")
    pre = Preprocess.from_dict(payload["preprocess"])
    stored = calibsample.read(run, pre)
    if stored is None or len(stored[0]) != calib:
        listed = folder.index(data, size=pre.content, channels=pre.channels, resize=pre.resize)
        if len(listed.train) < calib:
            raise SystemExit(
                f"bench.convert: --calib {calib} is more than the folder's {len(listed.train)} training images"
            )
        calibsample.write(run, *calibsample.from_items(listed.train, pre, calib), pre)
        stored = calibsample.read(run, pre)
    title = (
        f"224: SqueezeNet {payload['arch'].get('version', '1.1')} on generated RGB photos "
        f"({pre.channels}×{pre.size}², {len(payload['classes'])} classes, trained a few steps)"
    )
    return _save_calibration(
        work, "224", stored[0], pre, "the run's stored sample, calibration.npz", run / "model.pt", title
    )


def _report(out: Path) -> dict:
    from sqz.errors import InputError
    from sqz.export import report

    try:
        return report.read(out).to_dict()
    except InputError:
        return {}


def run_tool(tool: str, model: dict, out: Path, calib: int, peers: dict, env: dict) -> dict:
    """One fresh process of `tool` on `model`; its figures, or ok False and the error's tail."""
    from bench.export_memory import peak_rss

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    ckpt = model["checkpoint"]
    if tool == "litert-torch":
        cmd = [
            peers[tool]["python"],
            "-P",
            "-c",
            LITERT_SCRIPT,
            ckpt,
            model["npy"],
            str(out / "model_float32.tflite"),
            str(out / "model_int8.tflite"),
        ]
        env = {**env, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    else:  # `-P`: the working directory never shadows the sqz on PYTHONPATH
        python = sys.executable if tool == "sqz" else peers[tool]["python"]
        cmd = [python, "-P", "-c", SQZ_SCRIPT, ckpt, "--int8", "--no-eval", "--calib", str(calib), "--out", str(out)]
        env = {**env, "PYTHONPATH": str(REPO) if tool == "sqz" else peers[tool]["source"]}
    res = peak_rss(cmd, env)
    rec = {
        "tool": tool,
        "ok": False,
        "rc": res["rc"],
        "wall_s": res["seconds"],
        "peak_rss_bytes": res["peak_rss_bytes"],
        "peak_single_process_bytes": res["peak_single_process_bytes"],
        "max_rss_bytes": res["max_rss_bytes"],
    }
    if res["rc"] != 0:
        tail = [ln for ln in (res["stderr_tail"] + res["stdout_tail"]).splitlines() if ln.strip()][-2:]
        return {**rec, "error": f"exit {res['rc']}: {' | '.join(tail)[:300]}"}
    if tool == "litert-torch":
        try:
            info = json.loads(res["stdout_tail"].strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {**rec, "error": f"no JSON line on stdout: {res['stdout_tail'][-200:]}"}
        rec.update(
            conversion_s=round(info["float32_seconds"] + info["seconds"], 2),
            onnx_s=None,
            stages_s={"float32": info["float32_seconds"], "int8": info["seconds"]},
            calibration_images=info["calibration_images"],
        )
    else:
        rep = _report(out)
        t = rep.get("timings_s") or {}
        conv = [v for k, v in t.items() if k not in ("onnx", "evaluate")]
        rec.update(
            conversion_s=round(sum(conv), 2) if conv else None,
            onnx_s=t.get("onnx"),
            stages_s=t,
            calibration_images=rep.get("calibration_images"),
            calibration_source=rep.get("calibration_source"),
        )
    f32, i8 = out / "model_float32.tflite", out / "model_int8.tflite"
    rec.update(
        int8_bytes=i8.stat().st_size if i8.is_file() else None,
        int8_sha256=_sha(i8),
        float32_bytes=f32.stat().st_size if f32.is_file() else None,
    )
    if rec["int8_bytes"] is None or rec["conversion_s"] is None:
        return {**rec, "error": "finished without an int8 file or timings"}
    return {**rec, "ok": True}


def ready_peers(no_peers: bool, log) -> dict:
    """Each peer's venv (built once) and what it runs: {peer: {available, python, …} or {available False, why}}."""
    from bench import peer_onnx2tf, peer_venv

    if no_peers:
        return {p: {"available": False, "why": "--no-peers"} for p in PEERS}
    out = {}
    try:
        info = peer_onnx2tf.ensure(log)
        out["onnx2tf"] = {"available": True, **info, "imports_sqz_from": peer_onnx2tf.which_sqz(Path(info["source"]))}
    except Exception as exc:  # a peer that cannot be built is reported, not fatal
        out["onnx2tf"] = {"available": False, "why": f"{exc.__class__.__name__}: {exc}"[:300]}
    try:
        venv = peer_venv.LITERT.ensure(log)
        out["litert-torch"] = {"available": True, "python": str(peer_venv.LITERT.python()), "venv": venv}
    except Exception as exc:
        out["litert-torch"] = {"available": False, "why": f"{exc.__class__.__name__}: {exc}"[:300]}
    return out


def measure(args, log) -> dict:
    start, load_start = time.perf_counter(), os.getloadavg()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    args.work.mkdir(parents=True, exist_ok=True)
    peers = ready_peers(args.no_peers, log)
    tools = ["sqz"] + [p for p in PEERS if peers[p]["available"]]
    models = {}
    for name in args.models:
        models[name] = (
            prepare_default(args.work, args.calib, log)
            if name == "default"
            else prepare_224(args.work, args.calib, env, log)
        )
    runs: dict[str, list[dict]] = {name: [] for name in models}
    for r in range(args.rounds):
        for name, model in models.items():
            order = tools[r % len(tools) :] + tools[: r % len(tools)]
            for tool in order:
                log(f"round {r + 1}/{args.rounds}, {name}: {tool} …")
                res = run_tool(tool, model, args.work / "out" / name / tool, args.calib, peers, env)
                runs[name].append({"round": r + 1, **res})
                log(
                    f"  {res['wall_s']:.1f} s wall, conversion {res.get('conversion_s')} s, "
                    f"peak RSS {res['peak_rss_bytes'] / 1e6:,.0f} MB" + ("" if res["ok"] else f" — {res['error']}")
                )
    rec_models = {}
    for name, model in models.items():
        summary = summarise(runs[name])
        rat = ratios(summary)
        rec_models[name] = {
            **{k: model[k] for k in ("title", "checkpoint", "calibration")},
            "summary": summary,
            "ratios": rat,
            "goals": goals(name, summary, rat),
            "runs": runs[name],
        }
    return {
        "generated_by": "python -m bench.convert",
        "command": "python -m bench.convert " + " ".join(args.argv),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu(),
            "cores": os.cpu_count(),
            "arch": platform.machine(),
            "python": platform.python_version(),
            "loadavg_start": [round(v, 2) for v in load_start],
            "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        },
        "settings": {"rounds": args.rounds, "calib": args.calib, "models": args.models, "tools": tools},
        "peers": peers,
        "models": rec_models,
        "duration_s": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m bench.convert", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calib", type=int, default=500)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/sqz-bench-convert"))
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--docs", type=Path, default=DOCS)
    ap.add_argument("--render", action="store_true", help="only re-render convert.md from convert.json")
    args = ap.parse_args(argv)
    from sqz.files import write_text

    if args.render:
        write_text(args.docs / "convert.md", markdown(json.loads((args.docs / "convert.json").read_text())))
        return 0
    args.models = [m for m in args.models.split(",") if m]
    bad = [m for m in args.models if m not in MODELS]
    if bad or args.rounds < 1 or args.calib < 1:
        ap.error(f"--models takes {','.join(MODELS)}; --rounds and --calib at least 1")
    args.argv = argv
    rec = measure(args, lambda m: print(m, file=sys.stderr, flush=True))
    write_text(args.docs / "convert.json", json.dumps(rec, indent=1) + "\n")
    write_text(args.docs / "convert.md", markdown(rec))
    print(markdown(rec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
