"""The gate for a microcontroller: the model's flash against the board's budget, arena + I/O against its RAM."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sqz.errors import ModelFileError
from sqz.gate.verdict import model_kind
from sqz.runtime import packed
from sqz.runtime.stderr import captured_stderr
from sqz.targets.micro import modelinfo, tflm
from sqz.targets.profiles import MicroProfile, board_arena, get

ALIGN = 16


@dataclass
class MicroVerdict:
    """Flash and RAM need of one model on one board, or the reason TFLite Micro must not get it."""

    path: str
    target: str
    flash_bytes: int
    flash_budget: int
    host_arena: int
    arena: int
    io_bytes: int
    ram_budget: int
    refused: str = ""
    c: dict | None = None

    @property
    def ram_bytes(self) -> int:
        return self.arena + self.io_bytes

    @property
    def fits(self) -> bool:
        if self.refused:
            return False
        if self.c:
            return self.c["flash_bytes"] <= self.flash_budget and self.c["ram_bytes"] <= self.ram_budget
        return self.flash_bytes <= self.flash_budget and self.ram_bytes <= self.ram_budget

    def lines(self) -> list[str]:
        if self.refused:
            return [f"FAIL  {self.path}: refused for {self.target}: {self.refused}"]
        tflm = f"arena {self.arena:,} B (host {self.host_arena:,} B + margin) + I/O {self.io_bytes:,} B"
        if self.c:
            c = self.c
            stack = f"{c['stack_bytes']:,} B measured on {c['machine']}" if c["stack_bytes"] is not None else "not run"
            return [
                _line(
                    self.path,
                    self.target,
                    "flash",
                    c["flash_bytes"],
                    self.flash_budget,
                    f"sqz_model.c for {c['cpu']}, text + data measured; TFLite Micro: model array "
                    f"{self.flash_bytes:,} B + its library",
                ),
                _line(
                    self.path,
                    self.target,
                    "RAM",
                    c["ram_bytes"],
                    self.ram_budget,
                    f"sqz_model.c static {c['static_ram_bytes']:,} B + stack {stack} + I/O {c['io_bytes']:,} B; "
                    f"TFLite Micro: {self.ram_bytes:,} B = {tflm}",
                ),
            ]
        return [
            _line(self.path, self.target, "flash", self.flash_bytes, self.flash_budget, "model array"),
            _line(self.path, self.target, "RAM", self.ram_bytes, self.ram_budget, tflm),
        ]

    def to_dict(self) -> dict:
        return {**asdict(self), "ram_bytes": self.ram_bytes, "fits": self.fits}


def _line(path: str, target: str, what: str, need: int, budget: int, detail: str) -> str:
    if need <= budget:
        return (
            f"PASS  {path}: {what} {need:,} B ≤ {target} budget {budget:,} B ({budget - need:,} B to spare; {detail})"
        )
    over = need - budget
    return (
        f"FAIL  {path}: {what} {need:,} B > {target} budget {budget:,} B (over by {over:,} B, "
        f"{100 * over / budget:.1f} %; {detail})"
    )


def refusal(info: modelinfo.ModelInfo) -> str:
    """Why TFLite Micro must not get this model (one line), or ''."""
    if info.offset_buffers:
        return (
            f"{info.offset_buffers} weight buffers are stored after the flatbuffer by offset, which TFLite "
            "Micro reads silently wrong; re-export with sqz-export (buffers inline)"
        )
    missing = modelinfo.unsupported(info)
    if missing:
        return f"TFLite Micro has no kernel for {', '.join(missing)}; use a model without it"
    return ""


def io_bytes(content: bytes) -> int:
    """Bytes of the application's own input and output buffers (one image in, one result out)."""
    from tflite_micro.python.tflite_micro import runtime

    with captured_stderr():
        interp = runtime.Interpreter.from_bytes(content, arena_size=tflm.MAX_ARENA)
    total = 0
    for d in (interp.get_input_details(0), interp.get_output_details(0)):
        total += int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
    return total


def check(path: Path, target: str | MicroProfile) -> MicroVerdict:
    """One verdict for `path` on the microcontroller `target` (a name or a profile)."""
    profile = target if isinstance(target, MicroProfile) else get(target, "micro")
    kind = model_kind(Path(path))
    if kind == "onnx":
        raise ModelFileError(f"{path}: TFLite Micro runs .tflite files; give the full-int8 model")
    content = packed.unpack_file(Path(path)) if kind == "packed tflite" else Path(path).read_bytes()
    info = modelinfo.read(content)
    flash = -(-len(content) // ALIGN) * ALIGN
    base = dict(
        path=str(path),
        target=profile.name,
        flash_bytes=flash,
        flash_budget=profile.model_flash_budget,
        ram_budget=profile.ram_budget,
    )
    why = refusal(info)
    if why:
        return MicroVerdict(**base, host_arena=0, arena=0, io_bytes=0, refused=why)
    host = tflm.smallest_arena(content)
    return MicroVerdict(
        **base,
        host_arena=host,
        arena=board_arena(host),
        io_bytes=io_bytes(content),
        c=c_build(Path(path), content, profile),
    )


def c_build(path: Path, content: bytes, profile: MicroProfile) -> dict | None:
    """Measured figures of the export's sqz_model.c for this board when it sits beside `path`, was generated from
    these model bytes and the cross tools are installed; else None."""
    import hashlib

    from sqz.targets.micro import cfiles, cmeasure

    if not cfiles.exported(path, hashlib.sha256(content).hexdigest()):
        return None
    build = cmeasure.measure(path.parent, profile)
    return build.to_dict() if build else None
