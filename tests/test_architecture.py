"""The stages import each other only down the pipeline: parse every module of sqz/ and refuse any import
against the order, or any import cycle. The order is docs/pipeline.md's ("Stage order")."""

from __future__ import annotations

import ast
from pathlib import Path

import sqz

ROOT = Path(sqz.__file__).parent
# Each stage and the stages it may import besides itself; `shared` (sqz/__init__, errors, files) is open to all.
ALLOWED = {
    "shared": set(),
    "runtime": {"shared"},
    "gate": {"shared", "runtime"},
    "train": {"shared", "runtime"},
    "quantize": {"shared", "runtime", "train"},
    "fit": {"shared", "runtime", "gate", "train", "quantize"},
    "compress": {"shared", "runtime", "gate", "train", "quantize", "fit"},
    "targets": {"shared", "runtime", "gate"},
    "export": {"shared", "runtime", "gate", "train", "quantize", "fit", "compress", "targets"},
    "cli": {"shared", "runtime", "gate", "train", "quantize", "fit", "compress", "export", "targets"},
}
# Torch-free modules of a stage that a stage not allowed the whole of it may read: Fashion-MNIST's file reader,
# for the sample images `sqz verify` runs on a board.
ALSO = {"targets": {"sqz.train.idx"}}
SHARED = {"sqz", "sqz.errors", "sqz.files"}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (`sqz.runtime` for sqz/runtime/__init__.py)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("sqz",) + path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def stage(module: str) -> str:
    return "shared" if module in SHARED else module.split(".")[1]


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The sqz modules `path` imports anywhere in it (function bodies too), resolved to modules in `known`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "sqz"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "sqz":
                continue
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return {m for m in out if m in known}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) - {name} for name, path in found.items()}


def test_the_order_is_a_dag_and_every_module_has_a_stage():
    for s, below in ALLOWED.items():
        assert s not in below and all(ALLOWED[d] <= below and s not in ALLOWED[d] for d in below), s
    assert {stage(m) for m in graph()} <= set(ALLOWED)


def test_imports_follow_the_pipeline_order():
    against = [
        f"{m} ({stage(m)}) imports {d} ({stage(d)})"
        for m, deps in sorted(graph().items())
        for d in sorted(deps)
        if stage(d) != stage(m) and stage(d) not in ALLOWED[stage(m)] and d not in ALSO.get(stage(m), set())
    ]
    assert not against, "imports against the pipeline order:\n" + "\n".join(against)


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle met by a depth-first walk, as the modules along it."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(g[m]):
            if state.get(d) == 1:
                found.append((path + [m])[(path + [m]).index(d) :] + [d])
            elif d not in state:
                visit(d, path + [m])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [])
    return found


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


def test_the_checker_sees_real_imports_and_refuses_a_backward_one(tmp_path):
    """The parser finds imports inside functions and `from package import module`; a wrong-way import fails."""
    g = graph()
    assert "sqz.train.idx" in g["sqz.targets.samples"]
    assert "sqz.runtime.validate" in g["sqz.gate.verdict"]
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from sqz.export import pipeline\n")
    deps = imports("sqz.runtime.m", bad, set(modules()))
    assert deps == {"sqz.export.pipeline"} and "export" not in ALLOWED["runtime"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_gate_size_and_board_commands_load_no_torch(tmp_path):
    """`sqz check` on an over-budget model (which lists the routes that would fit), `sqz size` and `sqz run` load
    neither torch nor the export stage (only its option record, where `sqz-export --help` takes its defaults):
    the size predictor and the planner read only the architecture record."""
    import subprocess
    import sys

    from sqz.export.synthetic import random_int8
    from sqz.train.arch import ArchConfig

    model = tmp_path / "big.tflite"
    model.write_bytes(random_int8(ArchConfig(version="1.0", num_classes=10, in_channels=3), 96))
    code = f"""
import sys
from sqz.cli import main
for args in (["check", {str(model)!r}], ["size", "--size", "96"], ["run", {str(model)!r}, "--help"]):
    try:
        main(args, standalone_mode=False)
    except SystemExit:
        pass
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"torch", "onnx", "onnxscript"}})
export = sorted(m for m in sys.modules if m.startswith("sqz.export") and m not in ("sqz.export", "sqz.export.config"))
print("LOADED", loaded, export)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "would fit" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "LOADED [] []" in r.stdout, r.stdout + r.stderr
