"""Which artifact of an export a board runs: the int8 .tflite, or model.onnx where no TFLite interpreter exists.

aarch64 on Debian 12 or 13: model_int8.tflite (ai-edge-litert; tflite-runtime on bookworm only). armv7l on
bookworm: model_int8.tflite with tflite-runtime. armv7l on trixie (32-bit Raspberry Pi OS today): model.onnx
with Debian's python3-onnxruntime, because PyPI's tflite-runtime wheels stop at Python 3.11 and ai-edge-litert
and onnxruntime never built armv7l wheels.
"""

from __future__ import annotations

from pathlib import Path

from sqz.errors import InputError
from sqz.targets.armenv import OSES

NO_TFLITE = {("trixie", "armv7l"): "no TFLite interpreter for armv7l on Python 3.13"}
NO_WHEEL = {("trixie", "tflite-runtime"): "tflite-runtime has no Python 3.13 wheel (they stop at 3.11)"}


def default_os(arch: str, interpreter: str) -> str:
    """Debian 13 (trixie) where it runs the int8 file with `interpreter`, else Debian 12 (bookworm)."""
    runs = ("trixie", arch) not in NO_TFLITE and ("trixie", interpreter) not in NO_WHEEL
    return "trixie" if runs else "bookworm"


def runs_onnx(os: str | None, arch: str) -> bool:
    """Whether a board with this Debian release and arch runs model.onnx instead of the int8 .tflite."""
    return (os, arch) in NO_TFLITE


def check_os(os: str | None) -> None:
    """Refuse an OS name sqz has no userland for."""
    if os is not None and os not in OSES:
        raise InputError(f"unknown OS {os!r}; choose {' or '.join(OSES)}")


def onnx_file(model: Path) -> Path:
    """model.onnx of the export that MODEL (a directory, or a file in it) belongs to."""
    model = Path(model)
    onnx = model if model.suffix == ".onnx" else (model if model.is_dir() else model.parent) / "model.onnx"
    if not onnx.is_file():
        raise InputError(
            f"{onnx}: no such file; armv7l on Debian trixie runs the export's model.onnx "
            "(no TFLite interpreter for armv7l on Python 3.13); re-export, or use --os bookworm"
        )
    return onnx


def board_model(model: Path, arch: str, os: str | None) -> tuple[Path, str]:
    """(the file a board of `arch` on Debian `os` runs, a note saying why when it is model.onnx) for MODEL, an
    export directory or a file in one; a .tflite where only model.onnx runs, or the reverse, is refused."""
    check_os(os)
    model = Path(model)
    if runs_onnx(os, arch):
        if model.suffix == ".tflite":
            raise InputError(
                f"{model.name}: {NO_TFLITE[(os, arch)]}; give model.onnx or the export directory, or use --os bookworm"
            )
        return onnx_file(model), f"{arch} on Debian {os} runs model.onnx ({NO_TFLITE[(os, arch)]})"
    if model.suffix == ".onnx":
        raise InputError(
            f"{model}: only armv7l on Debian trixie runs model.onnx (--os trixie on a 32-bit "
            "board); elsewhere give the int8 .tflite or the export directory"
        )
    return (model / "model_int8.tflite" if model.is_dir() else model), ""
