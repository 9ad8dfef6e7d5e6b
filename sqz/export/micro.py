"""The export step for a microcontroller target: the model compiled to C (sqz_model.c/.h, measured on the board's
core when the cross tools are installed), the TFLite Micro sources and its measured arena, into the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqz.errors import InputError, ModelFileError
from sqz.export import carray, csource
from sqz.targets import profiles
from sqz.targets.micro import cmeasure, gate, modelinfo


def applies(target: str | None) -> bool:
    """Whether `target` is a microcontroller profile (then `export` below runs)."""
    return target is not None and profiles.get(target).kind == "micro"


def export(work: Path, tflite: dict[str, Path], target: str, rep) -> list[str]:
    """Write sqz_model.c/.h, model_data.cc/.h and model_ops.h for the int8 model into `work`; record them in the
    ExportReport `rep` (rep.micro); return the names."""
    if "int8" not in tflite:
        raise InputError(f"target {target} runs TensorFlow Lite Micro, which needs the full-int8 model; add --int8")
    path = tflite["int8"]
    verdict = dataclasses.replace(gate.check(path, target), path=path.name)
    if verdict.refused:
        raise ModelFileError(f"{path.name}: {verdict.refused}")
    content = path.read_bytes()
    info = modelinfo.read(content)
    methods = [modelinfo.resolver_methods()[op] for op in info.ops]
    art = rep.artifacts[path.name]
    labels, pre = list(rep.labels), rep.preprocess.to_dict()
    header = carray.model_data_h(len(content), labels, art["io"], pre, verdict.arena, verdict.host_arena, art["sha256"])
    sources = csource.generate(content, labels, pre, art["io"], art["sha256"])
    files = csource.write(work, sources)
    files += carray.write(work, content, header, carray.model_ops_h(methods, list(info.ops)))
    build = cmeasure.measure(work, target)
    rep.micro = {
        "target": verdict.target,
        "model": path.name,
        "files": files,
        "ops": list(info.ops),
        "arena": {"host_smallest": verdict.host_arena, "board": verdict.arena, "margin": profiles.arena_margin()},
        "c": {"arena_bytes": sources.arena_bytes, "macs": sources.macs, "measured": build.to_dict() if build else None},
        "verdict": verdict.to_dict(),
        "lines": verdict.lines(),
    }
    return files


def markdown_lines(m: dict | None) -> list[str]:
    """The report's microcontroller section `m` (rep.micro) as Markdown lines (none without a micro target)."""
    if not m:
        return []
    a = m["arena"]
    c = m.get("c") or {}
    b = c.get("measured")
    cline = (
        [
            f"C (sqz_model.c, no interpreter): arena {c['arena_bytes']:,} B, {c['macs']:,} MACs per inference"
            + (
                f"; on {b['cpu']}: flash {b['flash_bytes']:,} B, RAM {b['ram_bytes']:,} B (static "
                f"{b['static_ram_bytes']:,} + stack "
                + (f"{b['stack_bytes']:,}" if b["stack_bytes"] is not None else "not measured: no emulated board")
                + f" + I/O {b['io_bytes']:,})"
                if b
                else ""
            )
            + (
                f", {b['instructions']:,} instructions per inference on emulated {b['machine']}"
                if b and b["instructions"]
                else ""
            )
            + "."
        ]
        if c
        else []
    )
    tflm_files = ", ".join(f for f in m["files"] if not f.startswith("sqz_"))
    return [
        "",
        *cline,
        "",
        f"TensorFlow Lite Micro ({m['target']}): {tflm_files}; ops {', '.join(m['ops'])}; "
        f"smallest arena {a['host_smallest']:,} B on this machine's 64-bit build, "
        f"{a['board']:,} B for the board ({a['margin']['why']}).",
    ] + ["- " + ln for ln in m["lines"]]
