"""The export step for a microcontroller target: C sources, ops header and the measured arena, into the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqz.errors import InputError, ModelFileError
from sqz.export import carray
from sqz.targets.micro import boards, gate, modelinfo


def applies(target: str | None) -> bool:
    """Whether `target` is a microcontroller profile (then `export` below runs)."""
    return boards.is_micro(target)


def export(work: Path, tflite: dict[str, Path], target: str, rep: dict) -> list[str]:
    """Write model_data.cc/.h and model_ops.h for the int8 model into `work`; record rep["micro"]; return names."""
    if "int8" not in tflite:
        raise InputError(f"target {target} runs TensorFlow Lite Micro, which needs the full-int8 model; add --int8")
    path = tflite["int8"]
    verdict = dataclasses.replace(gate.check(path, target), path=path.name)
    if verdict.refused:
        raise ModelFileError(f"{path.name}: {verdict.refused}")
    content = path.read_bytes()
    info = modelinfo.read(content)
    methods = [modelinfo.resolver_methods()[op] for op in info.ops]
    art = rep["artifacts"][path.name]
    header = carray.model_data_h(len(content), rep["labels"], art["io"], rep["preprocess"], verdict.arena,
                                 verdict.host_arena, art["sha256"])
    files = carray.write(work, content, header, carray.model_ops_h(methods, list(info.ops)))
    rep["micro"] = {"target": verdict.target, "model": path.name, "files": files, "ops": list(info.ops),
                    "arena": {"host_smallest": verdict.host_arena, "board": verdict.arena,
                              "margin": boards.margin()},
                    "verdict": verdict.to_dict(), "lines": verdict.lines()}
    return files


def markdown_lines(rep: dict) -> list[str]:
    """The report's microcontroller section (empty without a micro target)."""
    m = rep.get("micro")
    if not m:
        return []
    a = m["arena"]
    return ["", f"TensorFlow Lite Micro ({m['target']}): {', '.join(m['files'])}; ops {', '.join(m['ops'])}; "
                f"smallest arena {a['host_smallest']:,} B on this machine's 64-bit build, "
                f"{a['board']:,} B for the board ({a['margin']['why']})."] + ["- " + ln for ln in m["lines"]]
