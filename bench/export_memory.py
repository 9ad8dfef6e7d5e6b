"""Peak memory and time of `sqz-export --int8` on RGB image folders of 1,000 and 20,000 photos: export must
not grow with the dataset (it streams evaluation and calibrates from the run's stored sample). Beside it,
litert-torch's conversion of the same checkpoint (its own venv, bench/peer_venv.py), timed in the same run.

python -m bench.export_memory [--sizes 1000,20000] [--side 224] [--eval-limit 0] [--work /tmp/sqz-export-memory]
Writes docs/bench/export_memory.json and .md. The images are generated under --work, never committed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "bench"
MAXRSS = "SQZ_BENCH_MAXRSS_KB="
NAMES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


def make_folder(root: Path, n: int, side: int, seed: int = 0) -> Path:
    """`n` JPEGs of Fashion-MNIST training images upscaled to `side`² and tinted at random, one folder per class."""
    from PIL import Image

    from sqz.train.data import fashion_mnist

    if (root / ".done").exists():
        return root
    ds, rng = fashion_mnist(), np.random.default_rng(seed)
    for name in NAMES:
        (root / name).mkdir(parents=True, exist_ok=True)
    for k, i in enumerate(rng.permutation(len(ds.train))[:n]):
        grey = Image.fromarray(ds.train.x[i, :, :, 0]).resize((side, side), Image.BILINEAR)
        tint = rng.uniform(0.4, 1.0, 3)
        rgb = (np.asarray(grey, np.float32)[..., None] * tint + rng.uniform(0, 60, 3)).clip(0, 255)
        Image.fromarray(rgb.astype(np.uint8)).save(root / NAMES[ds.train.y[i]] / f"{k:05d}.jpg", quality=90)
    (root / ".done").write_text("")
    return root


def peak_rss(cmd: list[str], env: dict) -> dict:
    """Run `cmd`; its wall time, exit status, the peak of the summed RSS of it and its children (psutil, polled
    every 0.1 s; a forked child counts the pages it shares twice), the largest single process's polled peak, and
    the kernel's high-water RSS of the largest process (GNU time's %M, exact; None without /usr/bin/time)."""
    import psutil

    timer = shutil.which("time", path="/usr/bin")
    t = time.perf_counter()
    wrapped = [timer, "-f", MAXRSS + "%M", *cmd] if timer else cmd
    proc = subprocess.Popen(wrapped, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root, peak, single = psutil.Process(proc.pid), 0, 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak, single
        while not done.is_set():
            try:
                rss = [p.memory_info().rss for p in [root] + root.children(recursive=True)]
                peak, single = max(peak, sum(rss)), max(single, max(rss))
            except psutil.Error:
                pass
            time.sleep(0.1)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = proc.communicate()
    done.set()
    th.join()
    found = [ln for ln in err.splitlines() if ln.startswith(MAXRSS)]
    err = "\n".join(ln for ln in err.splitlines() if not ln.startswith(MAXRSS))
    rc = proc.returncode
    if timer and rc != 0 and "Command exited with non-zero status" in err:
        err = "\n".join(ln for ln in err.splitlines() if not ln.startswith("Command exited with non-zero status"))
    return {
        "rc": rc,
        "seconds": round(time.perf_counter() - t, 1),
        "peak_rss_bytes": peak,
        "peak_single_process_bytes": single,
        "max_rss_bytes": int(found[-1][len(MAXRSS) :]) * 1024 if found else None,
        "stdout_tail": out[-300:],
        "stderr_tail": err[-600:],
    }


def train_once(work: Path, side: int, train_side: int, env: dict, log) -> tuple[Path, float]:
    """A model trained for a few steps (64 images, 1 epoch) on the 1,000-image folder; (run dir, seconds)."""
    data, run = make_folder(work / "photos-1000", 1000, side), work / "run"
    log(f"training a few steps at {train_side}² …")
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "train",
            "--data",
            str(data),
            "--size",
            str(train_side),
            "--channels",
            "3",
            "--epochs",
            "1",
            "--limit",
            "64",
            "--batch-size",
            "16",
            "--workers",
            "0",
            "--out",
            str(run),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return run, round(time.perf_counter() - t, 1)


def run_dir_for(work: Path, trained: Path, n: int, side: int) -> Path:
    """The trained checkpoint with the split record of the `n`-image folder (its full 15 % test split) and a
    500-image calibration sample of its training part: what training without `--limit` would store."""
    from sqz.runtime.preprocess import Preprocess
    from sqz.train import calibsample, checkpoint, folder

    data, run = make_folder(work / f"photos-{n}", n, side), work / f"run-{n}"
    run.mkdir(exist_ok=True)
    shutil.copyfile(trained / "model.pt", run / "model.pt")
    pre = Preprocess.from_dict(checkpoint.load_raw(trained / "model.pt")["preprocess"])
    listed = folder.index(data, size=pre.content, channels=pre.channels, resize=pre.resize)
    folder.write_split(run, listed, {"train": listed.train, "test": listed.test})
    calibsample.write(run, *calibsample.from_items(listed.train, pre), pre)
    return run


def run_one(work: Path, run: Path, n: int, eval_limit: int, env: dict, log) -> dict:
    log(f"{n:,} images: sqz-export --int8 …")
    cmd = [
        sys.executable,
        "-c",
        "from sqz.cli import export_main; export_main()",
        str(run / "model.pt"),
        "--int8",
        "--out",
        str(work / f"export-{n}"),
    ] + (["--eval-limit", str(eval_limit)] if eval_limit else [])
    res = peak_rss(cmd, env)
    from sqz.export import report

    rep = report.read(work / f"export-{n}").to_dict() if res["rc"] == 0 else {}
    return {
        "images": n,
        "export": res,
        "eval_images": rep.get("eval_images"),
        "calibration_images": rep.get("calibration_images"),
        "calibration_source": rep.get("calibration_source"),
        "timings_s": rep.get("timings_s"),
        "int8_bytes": rep.get("artifacts", {}).get("model_int8.tflite", {}).get("bytes"),
        "calibration_npz_bytes": (run / "calibration.npz").stat().st_size,
    }


def peer(ckpt: str, work: Path, side: int, env: dict, log) -> dict:
    """litert-torch's PT2E int8 conversion of `ckpt` on the run's stored calibration sample, timed."""
    from bench import peer_venv
    from sqz.runtime.preprocess import Preprocess, normalize
    from sqz.train import calibsample, checkpoint

    try:
        venv = peer_venv.ensure(log)
    except Exception as exc:
        return {
            "available": False,
            "why": f"could not build {peer_venv.VENV.name}: {exc.__class__.__name__}: {exc}"[:300],
        }
    pre = Preprocess.from_dict(checkpoint.load_raw(Path(ckpt))["preprocess"])
    x = calibsample.read(Path(ckpt).parent, pre)[0]
    np.save(work / "peer_calib.npy", normalize(x, pre))
    t = time.perf_counter()
    proc = subprocess.run(
        [
            str(peer_venv.python()),
            str(REPO / "bench" / "peer_convert.py"),
            ckpt,
            str(work / "peer_calib.npy"),
            str(work / "peer_int8.tflite"),
        ],
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return {
            "available": False,
            "why": f"litert-torch conversion failed: {proc.stderr.strip()[-300:]}",
            "venv": venv,
        }
    return {
        "available": True,
        "wall_seconds": round(time.perf_counter() - t, 1),
        **json.loads(proc.stdout.strip().splitlines()[-1]),
        "venv": venv,
    }


def markdown(rec: dict) -> str:
    gib = lambda b: f"{b / 2**30:.2f} GiB" if b else "—"
    lines = [
        f"`sqz-export --int8` on generated RGB JPEG folders ({rec['side']}² photos, model trained a few steps "
        f"at {rec['train_side']}²), {rec['machine']}, {rec['date']}. Evaluation streams each folder's held-out 15 %; "
        "calibration: 500 images of the run's stored sample.",
        "",
        "| images in folder | evaluated | calibration | peak RSS (process tree) | largest process | export wall | "
        "onnx | TFLite + int8 | evaluate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rec["runs"]:
        e, t = r["export"], r.get("timings_s") or {}
        lines.append(
            f"| {r['images']:,} | {r['eval_images'] or 0:,} | {r['calibration_images']} | "
            f"{gib(e['peak_rss_bytes'])} | {gib(e['peak_single_process_bytes'])} | {e['seconds']:.0f} s | "
            f"{t.get('onnx', 0):.0f} s | {t.get('tflite+int8', 0):.0f} s | {t.get('evaluate', 0):.0f} s |"
        )
    p = rec["peer"]
    lines += [
        "",
        "litert-torch (PT2E int8, same checkpoint, same run): "
        + (
            f"{p['seconds']:.0f} s conversion of {p['calibration_images']} calibration images "
            f"({p['wall_seconds']:.0f} s "
            f"with start-up), litert-torch {p['litert_torch']}."
            if p.get("available")
            else f"not measured — {p.get('why')}."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,20000")
    ap.add_argument("--side", type=int, default=224)
    ap.add_argument("--train-side", type=int, default=224)
    ap.add_argument("--eval-limit", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/sqz-export-memory"))
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args.work.mkdir(parents=True, exist_ok=True)
    trained, train_s = train_once(args.work, args.side, args.train_side, env, log)
    runs = [
        run_one(args.work, run_dir_for(args.work, trained, int(n), args.side), int(n), args.eval_limit, env, log)
        for n in args.sizes.split(",")
    ]
    rec = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "side": args.side,
        "train_side": args.train_side,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "eval_limit": args.eval_limit,
        "train_seconds": train_s,
        "runs": runs,
        "peer": {"available": False, "why": "--no-peer"}
        if args.no_peer
        else peer(str(args.work / f"run-{runs[0]['images']}" / "model.pt"), args.work, args.side, env, log),
    }
    from sqz.files import write_text

    write_text(OUT / "export_memory.json", json.dumps(rec, indent=1) + "\n")
    write_text(OUT / "export_memory.md", markdown(rec))
    print(markdown(rec))


if __name__ == "__main__":
    main()
