"""The generated C of a model for a check: the export's sqz_model.c/.h when they are beside the model, else what a
generator given by the caller writes (sqz.export.csource.write_for; targets do not import the export stage); plus
host builds of the semihosting runner."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sqz.errors import InputError, ToolError
from sqz.runtime.manifest import Artifact, Manifest
from sqz.targets.micro import cortexm

# (model, its manifest, its manifest entry, directory) → sqz_model.c and sqz_model.h written there
Generator = Callable[[Path, dict, dict, Path], object]


def header_sha256(header: str) -> str:
    """The sha256 of the .tflite a sqz_model.h was generated from ('' when it names none)."""
    m = re.search(r"model sha256 ([0-9a-f]{64})\)", header)
    return m.group(1) if m else ""


def define(header: str, name: str) -> int:
    """The integer value of `#define NAME value` in a generated header (0 when absent)."""
    m = re.search(rf"#define {name} (\d+)", header)
    return int(m.group(1)) if m else 0


def exported(model: Path, sha256: str) -> bool:
    """Whether the export's sqz_model.c/.h beside `model` were generated from these model bytes."""
    header = model.parent / "sqz_model.h"
    return (
        (model.parent / "sqz_model.c").is_file()
        and header.is_file()
        and header_sha256(header.read_text(errors="replace")) == sha256
    )


def place(model: Path, manifest: Manifest, entry: Artifact, work: Path, generate: Generator | None = None) -> str:
    """Put sqz_model.c/.h for `model` into `work`; where they came from."""
    if exported(model, entry.sha256):
        shutil.copy(model.parent / "sqz_model.c", work / "sqz_model.c")
        shutil.copy(model.parent / "sqz_model.h", work / "sqz_model.h")
        return "the export's sqz_model.c"
    if generate is None:
        raise InputError(
            f"{model.parent}: no sqz_model.c generated from this model; export with sqz-export --int8 --target <board>"
        )
    generate(model, manifest, entry, work)
    return "sqz_model.c generated from the .tflite"


def host_compiler() -> str:
    for cc in ("cc", "gcc", "clang"):
        if shutil.which(cc):
            return cc
    raise ToolError("no C compiler (cc, gcc or clang) on this machine; apt-get install gcc")


def run_host(work: Path, inputs: np.ndarray, out_size: int) -> tuple[np.ndarray, str]:
    """Compile sqz_model.c + the runner for this machine in `work`, run it on `inputs`; (outputs, warnings)."""
    shutil.copy(cortexm.runner_source(), work / "sqz_run.c")
    exe = work / "sqz_run_host"
    r = subprocess.run(
        [host_compiler(), *cortexm.CFLAGS, "-I.", "sqz_model.c", "sqz_run.c", "-o", exe.name],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        raise ToolError(f"the host C compiler failed: {(r.stderr.strip().splitlines() or [''])[-1]}")
    (work / "sqz_in.bin").write_bytes(np.ascontiguousarray(inputs, np.int8).tobytes())
    run = subprocess.run([str(exe)], cwd=work, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise ToolError(f"the host build of sqz_model.c exited {run.returncode}")
    out = np.frombuffer((work / "sqz_out.bin").read_bytes(), np.int8).reshape(len(inputs), out_size)
    return out, r.stderr
