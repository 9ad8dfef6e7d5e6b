"""Render the bench record: docs/bench/performance.{json,md}, latency.png, and summary.md (shown on
docs/performance.md).

python -m bench.render [bench/out/results.json]   re-renders from a record without re-measuring.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqz.files import atomic_write, write_text
from tools import readme

REPO = Path(__file__).resolve().parents[1]
SUMMARY, PI = "docs/bench/summary.md", "docs/bench/pi_context.md"
GOAL = 3.0
TFLRT_NOTE = (
    "sqz picks ai-edge-litert wherever it has a wheel (x86-64, aarch64); tflite-runtime is its choice only "
    "on armv7l, where it is the one TFLite interpreter with wheels. Whether XNNPACK takes int8 ops in that "
    "armv7l build was not measured here."
)


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.2f} %"


def _x(v: float) -> str:
    return f"{v:.2f}×"


def _kb(b: int) -> str:
    return f"{b / 1000:,.1f} kB"


def goal_lines(rec: dict, name: str) -> list[str]:
    """Whether sqz's shipped int8 file on its default interpreter meets ≥3× ORT fp32, and the slow path."""
    m, s = rec["models"][name], rec["settings"]
    ships, lines = s["sqz_ships"], []
    for t, lat in m["latency"].items():
        sp = lat[ships]["speedup_vs_reference"]
        lines.append(
            f"{t} thread(s): sqz's int8 file on ai-edge-litert is **{_x(sp)} faster than ONNX Runtime "
            f"fp32** (goal ≥ {GOAL:.0f}×: {'met' if sp >= GOAL else 'NOT met'})"
        )
        if "tflite_int8_tflrt" in lat:
            slow = lat["tflite_int8_tflrt"]["latency_ms"]["median"] / lat[ships]["latency_ms"]["median"]
            lines.append(
                f"{t} thread(s): the same int8 file on tflite-runtime is {_x(slow)} slower than on "
                f"ai-edge-litert (delegate: {m['artifacts']['tflite_int8_tflrt']['delegate']})"
            )
    return lines


def latency_table(rec: dict, name: str) -> list[str]:
    m = rec["models"][name]
    threads = list(m["latency"])
    head = ["engine", "artifact", "precision", "delegate"]
    for t in threads:
        head += [f"{t}T median ms", f"{t}T vs ORT fp32", f"{t}T p90/min"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, a in m["artifacts"].items():
        row = [a["label"], f"`{a['artifact']}`", a["precision"], a["delegate"]]
        for t in threads:
            L = m["latency"][t][key]
            rel = (
                "reference"
                if key == rec["settings"]["reference"]
                else (
                    f"{_x(L['speedup_vs_reference'])} faster"
                    if L["speedup_vs_reference"] >= 1
                    else f"{_x(L['ratio_to_reference'])} slower"
                )
            )
            row += [_ms(L["latency_ms"]["median"]), rel, f"{L['spread_p90_over_min']:.2f}"]
        out.append("| " + " | ".join(row) + " |")
    return out


def size_table(rec: dict, name: str) -> list[str]:
    m = rec["models"][name]
    out = [
        "| artifact | runtime | bytes | precision | test accuracy | top-1 agreement with torch |",
        "|---|---|---|---|---|---|",
    ]
    for a in m["artifacts"].values():
        out.append(
            f"| {a['label']} | {a['runtime']} | {a['bytes']:,} | {a['precision']} | {_pct(a['accuracy'])} | "
            f"{_pct(a['agreement'])} |"
        )
    return out


def stage_table(rec: dict, name: str) -> list[str]:
    m = rec["models"][name]
    out = ["| stage | wall time |", "|---|---|"]
    out += [f"| sqz: {k} | {v:.1f} s |" for k, v in m["export_s"].items() if v is not None]
    out += [f"| ONNX Runtime quantize_static QDQ {k.upper()} | {v:.1f} s |" for k, v in m["ort_quantize_s"].items()]
    if m["peer"].get("ok"):
        out.append(
            f"| litert-torch PT2E int8 (load, export, calibrate, convert; own venv) | {m['peer']['seconds']:.1f} s |"
        )
    return out


def _onnx2tf(rec: dict) -> bool:
    """Whether the record is from before sqz wrote its own .tflite files (its versions name onnx2tf)."""
    return "onnx2tf" in (rec.get("versions") or {})


def sqz_label(rec: dict) -> str:
    return "sqz (onnx2tf, full int8)" if _onnx2tf(rec) else "sqz (own writer, full int8)"


def stage_note(rec: dict) -> str:
    """How sqz's TFLite stage was timed, as the record's pipeline had it."""
    if _onnx2tf(rec):
        return (
            "onnx2tf writes the float32 and int8 files in one run; the int8 stage is that run's time minus a "
            "separate float-only run."
        )
    return (
        "sqz writes the float32 and int8 files itself, in-process (float graph from the folded model, float64 "
        "calibration, quantised graph, flatbuffer); its TFLite stage is that one step, both files together."
    )


def venv_note(rec: dict) -> str:
    """Why litert-torch ran in its own venv, from the versions the record holds."""
    v, mine = rec["peer_venv"]["versions"], rec["versions"].get("ai-edge-litert")
    held = (
        f"litert-torch {v.get('litert-torch')}, torch {v.get('torch')}, ai-edge-litert {v.get('ai-edge-litert')}, "
        f"numpy {v.get('numpy')}"
    )
    if _onnx2tf(rec):
        why = "it cannot share a venv with onnx2tf's pins"
    elif v.get("ai-edge-litert") != mine:
        why = f"its pins (ai-edge-litert {v.get('ai-edge-litert')} among them) stay out of sqz's venv"
    else:
        why = "its pins stay out of sqz's venv"
    return (
        f"litert-torch ran in its own venv (`bench/.venv-litert-torch`: {held}); {why}. Its files were timed "
        f"here with the same interpreter as sqz's (ai-edge-litert {mine})."
    )


def _sqz_convert_s(m: dict) -> float:
    s = m["export_s"]
    return sum(v for k, v in s.items() if v is not None and not k.startswith("checks"))


def peer_rows(rec: dict, name: str) -> tuple[list[str], list[str]]:
    """The side-by-side table of sqz's int8 file and litert-torch's, and one sentence per figure sqz loses."""
    m = rec["models"][name]
    if not m["peer"].get("ok"):
        return [f"litert-torch did not produce a model: {m['peer'].get('error', '?')}"], []
    a, b = m["artifacts"]["tflite_int8_litert"], m["artifacts"]["peer_int8_litert"]
    figs = [("file size", a["bytes"], b["bytes"], _kb, False)]
    if a["accuracy"] is not None:
        figs += [
            ("test accuracy", a["accuracy"], b["accuracy"], _pct, True),
            ("top-1 agreement with torch fp32", a["agreement"], b["agreement"], _pct, True),
        ]
    for t, lat in m["latency"].items():
        figs.append(
            (
                f"latency, {t} thread(s), ai-edge-litert (median)",
                lat["tflite_int8_litert"]["latency_ms"]["median"],
                lat["peer_int8_litert"]["latency_ms"]["median"],
                lambda v: _ms(v) + " ms",
                False,
            )
        )
    figs.append(
        (
            "conversion wall time (ONNX + TFLite float + int8 vs PT2E + convert)",
            _sqz_convert_s(m),
            m["peer"]["seconds"],
            lambda v: f"{v:.1f} s",
            False,
        )
    )
    out = [
        f"| figure | {sqz_label(rec)} | litert-torch {m['peer'].get('litert_torch', '')} (PT2E int8) |",
        "|---|---|---|",
    ]
    losses = []
    for label, mine, theirs, fmt, higher_better in figs:
        out.append(f"| {label} | {fmt(mine)} | {fmt(theirs)} |")
        worse = (mine < theirs) if higher_better else (mine > theirs)
        if worse:
            if fmt is _pct:
                by = f"{100 * (theirs - mine):.2f} percentage points"
            else:
                by = f"{100 * (mine / theirs - 1):.1f} % ({fmt(mine)} vs {fmt(theirs)})"
            losses.append(f"sqz loses on {label} by {by}.")
    out.append(f"| input / output | {a['precision']} | {b['precision']} |")
    return out, losses


def pi_context() -> list[str]:
    from sqz.targets.profiles import latency_note, latency_source, linux_profiles

    seen, out = set(), ["| board | SoC | published ncnn SqueezeNet int8, 4 threads |", "|---|---|---|"]
    for p in linux_profiles():
        if p.latency_ms is None or p.board in seen:
            continue
        seen.add(p.board)
        out.append(f"| {p.board} | {p.soc} | {p.latency_ms} ms |")
    note = latency_note()
    return out + ["", f"Source: {latency_source()}. {note[:1].upper() + note[1:]}."]


def header(rec: dict) -> list[str]:
    s, mc = rec["settings"], rec["machine"]
    n = s["rounds"] * s["per_round"]
    fewest = min(L["runs"] for m in rec["models"].values() for lat in m["latency"].values() for L in lat.values())
    return [
        f"Measured here by `make bench` on {rec['date'][:16].replace('T', ' ')} UTC: {mc['cpu']}, "
        f"{mc['cores']} cores ({mc['arch']}), a machine shared with other work (load average "
        f"{mc['loadavg_start'][0]:.2f} at start, {mc['loadavg_end'][0]:.2f} at end). Latency is batch 1, one "
        f"image per call (set input, invoke, read output), {s['rounds']} interleaved rounds × {s['per_round']} "
        f"timed calls = {n} runs per engine after {s['warmup']} warm-up calls (a block ends after 1 s once it has "
        f"3 calls, so very slow engines get fewer; the fewest here: {fewest}); every engine runs in every round, "
        f"so load on the machine hits all alike. Figures are medians; spread is p90/min; ratios to ONNX Runtime "
        f"fp32 are medians of per-round ratios in the same run. Absolute times on this shared host vary from run "
        f"to run; the ratios are what to compare."
    ]


def markdown(rec: dict) -> str:
    md = ["# Performance", "", "_Generated by `make bench` from `performance.json`; do not edit by hand._", ""]
    md += header(rec) + [""]
    for name, m in rec["models"].items():
        md += [
            f"## {m['title']}",
            "",
            f"Latency input: {m['bench_input']}. int8 calibration (sqz, ONNX Runtime and "
            f"litert-torch alike): {m['calibration']}."
            + ("" if m["eval_images"] is None else f" Accuracy on {m['eval_images']:,} test images."),
            "",
        ]
        md += ["- " + n for n in m.get("notes", [])] + ([""] if m.get("notes") else [])
        md += ["### Latency", ""] + latency_table(rec, name) + [""] + ["- " + ln for ln in goal_lines(rec, name)]
        md += ["", TFLRT_NOTE]
        md += ["", "### Size and accuracy", ""] + size_table(rec, name) + [""]
        if m["eval_images"] is None:
            md += ["Random weights: accuracy is meaningless here, so only sizes and latency are reported.", ""]
        md += ["### Export wall time per stage", ""] + stage_table(rec, name) + [""]
        md += [stage_note(rec), ""]
        table, losses = peer_rows(rec, name)
        md += ["### Peer: the same checkpoint through litert-torch", ""] + table + [""]
        md += ["- " + ln for ln in losses] or ["- sqz does not lose on any of these figures."]
        md += [""]
    pv = rec.get("peer_venv") or {}
    if pv.get("versions"):
        md += [venv_note(rec), ""]
    md += ["## Raspberry Pi context (published figures, not measured here)", ""] + pi_context() + [""]
    md += [
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in rec["versions"].items() if v is not None)
        + f". Whole bench: {rec['duration_s'] / 60:.1f} min.",
        "",
    ]
    return "\n".join(md)


def readme_block(rec: dict) -> str:
    md = ["![batch-1 latency relative to ONNX Runtime fp32](docs/bench/latency.png)", ""]
    md += header(rec) + [""]
    for name, m in rec["models"].items():
        md += [f"**{m['title']}**", ""] + latency_table(rec, name) + [""]
        md += ["- " + ln for ln in goal_lines(rec, name)] + [""]
        table, losses = peer_rows(rec, name)
        md += ["Peer, same checkpoint, litert-torch:", ""] + table + [""]
        md += ["- " + n for n in m.get("notes", [])]
        md += ["- " + ln for ln in losses] or ["- sqz does not lose on any of these figures."]
        md += [""]
    md += [
        TFLRT_NOTE,
        "",
        "Sizes, accuracy of every artifact and export time per stage: "
        "[docs/bench/performance.md](docs/bench/performance.md).",
        "",
    ]
    return "\n".join(md)


def plot(rec: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rec["models"])
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 3.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        m = rec["models"][name]
        keys = list(m["artifacts"])
        threads = list(m["latency"])
        h = 0.8 / len(threads)
        for j, t in enumerate(threads):
            vals = [m["latency"][t][k]["speedup_vs_reference"] for k in keys]
            ys = [i + (j - (len(threads) - 1) / 2) * h for i in range(len(keys))]
            ax.barh(ys, vals, height=h, label=f"{t} thread(s)")
        ax.set_yticks(range(len(keys)), [m["artifacts"][k]["label"] for k in keys], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(1.0, color="k", lw=0.8)
        ax.axvline(GOAL, color="k", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel(
            "speed-up vs ONNX Runtime fp32 in the same run (log scale; >1 is faster; dotted: 3× goal)", fontsize=8
        )
        ax.set_title(m["title"], fontsize=9)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(
        f"Batch-1 latency, medians of up to {rec['settings']['rounds'] * rec['settings']['per_round']} "
        f"interleaved runs per engine, {rec['machine']['cpu']}, {rec['date'][:10]}",
        fontsize=9,
    )
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def write(rec: dict, docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    write_text(docs / "performance.json", json.dumps(rec, indent=2))
    write_text(docs / "performance.md", markdown(rec))
    plot(rec, docs / "latency.png")
    blocks = {SUMMARY: readme_block(rec), PI: "\n".join(pi_context()) + "\n"}
    for rel, body in blocks.items():
        write_text(docs / Path(rel).name, body)
    if docs.resolve() == (REPO / "docs" / "bench").resolve():
        readme.update(paths=blocks)


def ratios_text(rec: dict) -> str:
    lines = []
    for name, m in rec["models"].items():
        lines.append(f"\n{m['title']}")
        for t, lat in m["latency"].items():
            lines.append(f"  {t} thread(s)")
            for key, L in lat.items():
                lines.append(
                    f"    {m['artifacts'][key]['label']:<45} {_ms(L['latency_ms']['median']):>8} ms  "
                    f"{L['speedup_vs_reference']:6.2f}× vs ORT fp32  p90/min {L['spread_p90_over_min']:.2f}"
                )
        lines += ["  " + ln.replace("**", "") for ln in goal_lines(rec, name)]
    return "\n".join(lines)


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "bench" / "out" / "results.json"
    record = json.loads(src.read_text())
    write(record, REPO / "docs" / "bench")
    print(ratios_text(record))
