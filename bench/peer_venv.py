"""The peer toolchain's own venv (bench/.venv-litert-torch): litert-torch cannot share onnx2tf's pins."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".venv-litert-torch"
TORCH = "torch==2.13.0"
LITERT_TORCH = "litert-torch==0.10.0"


def python() -> Path:
    return VENV / "bin" / "python"


def ensure(log=print) -> dict:
    """Create the venv once; returns what it holds and how long creating it took.

    The CPU torch goes in first: unpinned, litert-torch would pull a multi-GB CUDA build.
    """
    marker = VENV / ".installed"
    if marker.exists() and marker.read_text().strip() == f"{TORCH} {LITERT_TORCH}":
        return {"created": False, "seconds": 0.0, "versions": versions()}
    t = time.perf_counter()
    log(f"peer venv: creating {VENV} ({TORCH}, {LITERT_TORCH}) …")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python()), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + [TORCH], check=True)
    subprocess.run(pip + [LITERT_TORCH, TORCH], check=True)
    marker.write_text(f"{TORCH} {LITERT_TORCH}\n")
    return {"created": True, "seconds": round(time.perf_counter() - t, 1), "versions": versions()}


def versions() -> dict:
    code = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
            "('litert-torch', 'torch', 'ai-edge-litert', 'numpy')}))")
    out = subprocess.run([str(python()), "-c", code], capture_output=True, text=True, check=True).stdout
    import json

    return json.loads(out)


if __name__ == "__main__":
    print(ensure())
