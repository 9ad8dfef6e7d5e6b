"""The generated C of a model for a check: the export's sqz_model.c/.h when they are beside the model, else
generated now from the .tflite; plus host builds of the semihosting runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from sqz.errors import ToolError
from sqz.export import csource
from sqz.targets.micro import cortexm


def place(model: Path, manifest: dict, entry: dict, work: Path) -> str:
    """Put sqz_model.c/.h for `model` into `work`; where they came from."""
    src = model.parent
    header = src / "sqz_model.h"
    if (src / "sqz_model.c").is_file() and header.is_file() and \
            csource.model_sha256(header.read_text(errors="replace")) == entry.get("sha256"):
        shutil.copy(src / "sqz_model.c", work / "sqz_model.c")
        shutil.copy(src / "sqz_model.h", work / "sqz_model.h")
        return "the export's sqz_model.c"
    sources = csource.generate(model.read_bytes(), list(manifest["labels"]), manifest["preprocess"], entry["io"],
                               entry.get("sha256", ""))
    csource.write(work, sources)
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
    r = subprocess.run([host_compiler(), *cortexm.CFLAGS, "-I.", "sqz_model.c", "sqz_run.c", "-o", exe.name],
                       cwd=work, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise ToolError(f"the host C compiler failed: {(r.stderr.strip().splitlines() or [''])[-1]}")
    (work / "sqz_in.bin").write_bytes(np.ascontiguousarray(inputs, np.int8).tobytes())
    run = subprocess.run([str(exe)], cwd=work, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise ToolError(f"the host build of sqz_model.c exited {run.returncode}")
    out = np.frombuffer((work / "sqz_out.bin").read_bytes(), np.int8).reshape(len(inputs), out_size)
    return out, r.stderr
