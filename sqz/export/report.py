"""The export report: JSON is the record; the printed table and Markdown are rendered from it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from sqz.errors import InputError
from sqz.files import atomic_write, write_text
from sqz.runtime.preprocess import Preprocess
from sqz.train import confusion

CLASSES_MD, CONFUSION_PNG = "classes.md", "confusion.png"
REPORT = "report.json"
OPTIONAL = ("weights", "eval_skipped", "evaluation", "micro", "out")


@dataclass
class ExportReport:
    """What an export measured (report.json). `artifacts`: per file name its bytes, sha256, format, precision,
    I/O spec, packed entry and, when evaluated, accuracy, agreement with torch and confusion summary; `gate`:
    the budget verdict per .tflite (and the routes that would fit); `weights`, `micro`, `eval_skipped`,
    `evaluation` and `out` only when they apply; `extra`: any other keys, carried through unchanged."""

    sqz_version: str
    checkpoint: str
    checkpoint_sha256: str
    preprocess: Preprocess
    labels: tuple[str, ...]
    arch: dict
    dataset: str | None = None
    eval_images: int = 0
    calibration_images: int = 0
    calibration_source: str = ""
    calibration_ranges: str | None = None
    torch: dict = field(default_factory=lambda: {"accuracy": None})
    artifacts: dict[str, dict] = field(default_factory=dict)
    dead_taps: dict = field(default_factory=dict)
    onnx_parity: dict = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    gate: dict = field(default_factory=dict)
    weights: dict | None = None
    eval_skipped: int | None = None
    evaluation: str | None = None
    micro: dict | None = None
    out: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        d["preprocess"], d["labels"] = self.preprocess.to_dict(), list(self.labels)
        return {**{k: v for k, v in d.items() if not (k in OPTIONAL and v is None)}, **self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> ExportReport:
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        known["preprocess"] = Preprocess.from_dict(d["preprocess"])
        known["labels"] = tuple(str(v) for v in d["labels"])
        return cls(**known, extra={k: v for k, v in d.items() if k not in names})


def read(directory: Path) -> ExportReport:
    """The report.json of an export directory; a missing or malformed one is an InputError."""
    path = Path(directory) / REPORT
    try:
        return ExportReport.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise InputError(f"{path}: no export report; export with `sqz-export`") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not an sqz export report ({exc!r:.80})") from None


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.2f} %"


def _quant(io: dict) -> str:
    if not io or io.get("dtype") == "float32" or "scale" not in io:
        return "—"
    return f"s={io['scale']:.4g} zp={io['zero_point']}"


def rows(report: ExportReport) -> list[list[str]]:
    """One row per model: name, bytes, in/out dtype, layout, quantisation, accuracy, agreement."""
    out = [
        [
            "torch fp32 (checkpoint)",
            "—",
            "—",
            "float32/float32",
            "NCHW",
            "—",
            _pct(report.torch["accuracy"]),
            "100.00 %",
        ]
    ]
    for name, a in report.artifacts.items():
        io = a.get("io", {})
        packed = f"{a['packed']['bytes']:,}" if "packed" in a else "—"
        out.append(
            [
                name,
                f"{a['bytes']:,}",
                packed,
                f"{io['input']['dtype']}/{io['output']['dtype']}",
                io["input"].get("layout", "?"),
                _quant(io.get("input", {})),
                _pct(a.get("accuracy")),
                _pct(a.get("top1_agreement")),
            ]
        )
    return out


HEADER = ["artifact", "file bytes", "packed (xz)", "in/out", "layout", "input quant", "accuracy", "agree w/ torch"]


def table(report: ExportReport) -> str:
    """A plain-text table for the terminal, with the size verdict under it."""
    body = rows(report)
    widths = [max(len(r[i]) for r in [HEADER] + body) for i in range(len(HEADER))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    text = [line(HEADER), line(["-" * w for w in widths])] + [line(r) for r in body]
    text.append("")
    text += verdict_lines(report.gate)
    text += micro_lines(report)
    text += weights_lines(report)
    return "\n".join(text)


def weights_lines(report: ExportReport) -> list[str]:
    """The sub-8-bit weights section: layers, bytes saved, and the XNNPACK latency cost (empty for int8)."""
    w = report.weights
    if not w:
        return []
    lat = w["latency_ms"]
    return [
        "",
        f"Weights {w['weights']}: {len(w['layers'])} of {len(w['sensitivity'])} convs in INT4 after "
        f"{w['qat_epochs']} epoch(s) of 4-bit QAT on {w['qat_images']:,} training images; "
        f"{w['int8_bytes']:,} → {w['bytes']:,} B (saves {w['bytes_saved']:,} B) against the int8 file of "
        f"the same weights, whose batch-1 latency it multiplies by {lat['ratio']:.2f} "
        f"({lat['int8']:.3f} → {lat['int4']:.3f} ms, {lat['interpreter']}: XNNPACK runs no INT4 conv).",
    ]


def micro_lines(report: ExportReport) -> list[str]:
    from sqz.export.micro import markdown_lines

    return markdown_lines(report.micro)


def verdict_lines(g: dict) -> list[str]:
    """One line per artifact the gate record `g` judged: the gate metric's verdict in full, the other
    metric's in a word."""
    judged = g.get("metric", "file")
    where = f"target {g['target']}, " if g.get("target") else ""
    lines = []
    for name, v in g["artifacts"].items():
        state = "fits" if v["fits"] else f"OVER by {v['over_bytes']:,} B ({v['over_percent']:.1f} %)"
        other = "fits" if v["packed_fits" if judged == "file" else "file_fits"] else "over"
        file_state, packed_state = (state, other) if judged == "file" else (other, state)
        lines.append(
            f"budget {g['budget']:,} B ({where}gate metric {judged}): {name} file {v['bytes']:,} B — "
            f"{file_state}; packed {v['packed_bytes']:,} B — {packed_state}"
        )
    if "routes" in g:
        from sqz.fit.routes import lines as route_lines

        lines += route_lines(g["routes"], g["budget"])
    return lines


def markdown(report: ExportReport) -> str:
    """The same figures as Markdown, for the README and CI artifacts."""
    body = rows(report)
    md = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    md += ["| " + " | ".join(r) + " |" for r in body]
    md += [
        "",
        f"{evaluated(report)}; calibration: {report.calibration_images} "
        f"{report.calibration_source or 'training images'}{_ranges_note(report)}. "
        f"{parity_line(report)}",
        "",
    ]
    md += ["- " + ln for ln in verdict_lines(report.gate)]
    md += micro_lines(report)
    md += weights_lines(report)
    d = report.dead_taps or {}
    if d.get("fires"):
        md += [
            "",
            f"Dead taps removed in fire {', '.join(map(str, d['fires']))}: "
            f"{d['parameters_before']:,} → {d['parameters_after']:,} parameters, "
            f"max |Δlogit| {d['max_abs_logit_change']:.1e}.",
        ]
    t = report.timings_s
    md += ["", "Export time: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()), ""]
    return "\n".join(md)


def evaluated(report: ExportReport) -> str:
    """What the accuracy figures were measured on, or that evaluation was skipped."""
    if report.evaluation == "skipped":
        return "Evaluation skipped"
    skipped = report.eval_skipped or 0
    return f"Test images: {report.eval_images:,} ({report.dataset})" + (
        f", {skipped:,} unreadable skipped" if skipped else ""
    )


def _ranges_note(report: ExportReport) -> str:
    """How the activation ranges were chosen, for the calibration sentence ('' for reports without it)."""
    rule = report.calibration_ranges
    return {"mse": ", activation ranges of least rounding error", "minmax": ", activation ranges min to max"}.get(
        rule, ""
    )


def parity_line(report: ExportReport) -> str:
    p = report.onnx_parity
    return f"ONNX vs torch: max |Δlogit| {p['max_abs_diff']:.2e}, top-1 agreement {_pct(p['top1_agreement'])}."


def dumps(report: ExportReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def judged_artifact(report: ExportReport) -> str | None:
    """The artifact whose confusion matrix is shown: the int8 model, else the last one evaluated."""
    named = [n for n, a in report.artifacts.items() if "confusion" in a]
    return next((n for n in named if "int8" in n), named[-1] if named else None)


def classes_markdown(report: ExportReport) -> str:
    """Per-class test accuracy of torch and every artifact, then the judged artifact's confusion matrix."""
    name = judged_artifact(report)
    arts = [n for n, a in report.artifacts.items() if "confusion" in a]
    per = [report.torch["confusion"]["per_class"], *(report.artifacts[n]["confusion"]["per_class"] for n in arts)]
    judged = report.artifacts[name]["confusion"]
    md = [
        f"Per-class accuracy. {evaluated(report)}.",
        "",
        "| class | images | " + " | ".join(["torch fp32", *arts]) + " |",
        "|---|---|" + "---|" * len(per),
    ]
    md += [
        f"| {row['class']} | {row['images']:,} | " + " | ".join(_pct(rows[i]["accuracy"]) for rows in per) + " |"
        for i, row in enumerate(per[0])
    ]
    md += [
        "",
        f"{name}, {confusion.weakest(judged)}.",
        "",
        f"Confusion matrix of {name} (rows: true class, columns: predicted):",
        "",
    ]
    return "\n".join(md + confusion.matrix_markdown(judged)) + "\n"


def write_classes(report: ExportReport, out: Path) -> list[str]:
    """classes.md and confusion.png (the judged artifact's) in `out`; the names written (none without
    evaluation)."""
    name = judged_artifact(report)
    if name is None:
        return []
    write_text(Path(out) / CLASSES_MD, classes_markdown(report))
    atomic_write(
        Path(out) / CONFUSION_PNG,
        lambda tmp: confusion.plot(report.artifacts[name]["confusion"], tmp, f"{name}, test images"),
    )
    return [CLASSES_MD, CONFUSION_PNG]
