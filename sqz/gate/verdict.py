"""The verdict: does an artifact fit the budget, by the bytes it maps (`file`) or ships (`packed`)?

`sqz check` and `sqz-export` both judge through `judge`, with the budget and metric a board profile gives
(`sqz.targets.profiles.gate_settings`). Exit 0 fits, 1 over, 2 unusable input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from sqz.errors import InputError, ModelFileError
from sqz.gate.budget import DEFAULT_BUDGET, parse_budget
from sqz.runtime import packed, validate
from sqz.runtime.isolate import isolated

METRICS = ("file", "packed")
DEFAULT_METRIC = "file"


@dataclass
class Verdict:
    path: str
    kind: str
    metric: str
    bytes: int
    budget: int
    fits: bool
    over_bytes: int
    over_percent: float

    def line(self) -> str:
        if self.fits:
            return (
                f"PASS  {self.path}: {self.bytes:,} B {self.metric} ≤ budget {self.budget:,} B "
                f"({self.budget - self.bytes:,} B to spare)"
            )
        return (
            f"FAIL  {self.path}: {self.bytes:,} B {self.metric} > budget {self.budget:,} B "
            f"(over by {self.over_bytes:,} B, {self.over_percent:.1f} %)"
        )


def model_kind(path: Path) -> str:
    """`tflite`, `onnx` or `packed tflite` after a structural look at the bytes; ModelFileError otherwise."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a model file")
    validate.check_size(path)
    if packed.is_packed(path):
        content = packed.unpack_file(path)
        if content[4:8] != b"TFL3":
            raise ModelFileError(f"{path}: packed file does not hold a TFLite model")
        validate.tflite(content, path)
        return "packed tflite"
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(head) >= 8 and head[4:8] == b"TFL3":
        validate.tflite_file(path)
        return "tflite"
    if path.suffix == ".onnx" and head[:1] == b"\x08":
        _check_onnx(path)
        return "onnx"
    raise ModelFileError(f"{path}: not a model (neither a TFLite flatbuffer nor an ONNX graph)")


def _check_onnx(path: Path) -> None:
    """onnx.checker on the graph, loaded in a forked child first (protobuf parsing is native code)."""
    try:
        import onnx
    except ImportError:
        return

    def probe() -> None:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
        if not model.graph.node:
            raise ValueError("the graph has no nodes")

    if isolated(probe, path):
        return
    try:
        probe()
    except Exception as exc:
        raise ModelFileError(f"{path}: not a valid ONNX model ({(str(exc).splitlines() or [''])[0][:160]})") from None


def check_metric(metric: str) -> str:
    """`metric` when it is one of METRICS; InputError naming them otherwise."""
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return metric


def measure(path: Path, metric: str) -> int:
    """`file`: bytes the interpreter maps (unpacked); `packed`: bytes shipped (xz, as sqz packs it)."""
    check_metric(metric)
    if packed.is_packed(path):
        return path.stat().st_size if metric == "packed" else len(packed.unpack_file(path))
    return path.stat().st_size if metric == "file" else packed.packed_size(path.read_bytes())


def judge(path: str, kind: str, metric: str, size: int, limit: int) -> Verdict:
    """The verdict on one artifact of `size` bytes (measured by `metric`) against `limit` bytes."""
    over = max(0, size - limit)
    return Verdict(str(path), kind, check_metric(metric), size, limit, size <= limit, over, 100.0 * over / limit)


def check(paths: list[Path], budget: str | int = DEFAULT_BUDGET, metric: str = DEFAULT_METRIC) -> list[Verdict]:
    """One verdict per artifact; raises on unusable input before judging any."""
    if not paths:
        raise InputError("give at least one model file to check")
    limit = parse_budget(budget)
    check_metric(metric)
    kinds = [model_kind(Path(p)) for p in paths]
    return [judge(str(p), kind, metric, measure(Path(p), metric), limit) for p, kind in zip(paths, kinds)]


def as_json(verdicts: list[Verdict]) -> dict:
    return {"fits": all(v.fits for v in verdicts), "artifacts": [asdict(v) for v in verdicts]}
