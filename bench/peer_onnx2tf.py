"""The old int8 export as a benchmark peer: sqz at OLD_COMMIT (onnx2tf 1.29.24 + TensorFlow 2.19 in a subprocess),
run verbatim in its own venv (bench/.venv-onnx2tf, the pins of that commit's pyproject.toml, Python 3.11 only)
from that commit's source (`git archive OLD_COMMIT sqz`, extracted once under bench/.sqz-onnx2tf/).

python -m bench.peer_onnx2tf   builds both if needed and prints what they hold.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

from bench.peer_venv import BENCH, PeerError, PeerVenv, self_ignore

OLD_COMMIT = "1912957"  # the last commit whose sqz-export converts with onnx2tf
EXTRAS = ("export", "train")  # what `sqz-export --int8` needed there (train: torch, tqdm, matplotlib)
SOURCE = BENCH / ".sqz-onnx2tf"
REPO = BENCH.parent
REPORT = ("onnx2tf", "tensorflow", "torch", "onnx", "onnxruntime", "ai-edge-litert", "numpy", "protobuf")


def _git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeerError(f"git {' '.join(args)}: {proc.stderr.strip()[:200] or 'failed'}")
    return proc.stdout


def commit() -> str:
    """OLD_COMMIT in full."""
    return _git("rev-parse", "--verify", f"{OLD_COMMIT}^{{commit}}").strip()


def old_pins() -> tuple[str, ...]:
    """The base dependencies and the EXTRAS of OLD_COMMIT's pyproject.toml, as pip requirements."""
    project = tomllib.loads(_git("show", f"{commit()}:pyproject.toml"))["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return tuple(dict.fromkeys(reqs))


def venv() -> PeerVenv:
    pins = old_pins()
    torch = tuple(p for p in pins if p.replace(" ", "").startswith("torch=="))
    if not torch:
        raise PeerError(f"{OLD_COMMIT}'s pyproject.toml pins no torch==; refusing an unpinned (CUDA) torch")
    return PeerVenv(".venv-onnx2tf", torch, tuple(p for p in pins if p not in torch), REPORT)


def _minor(python: str) -> tuple[int, int] | None:
    proc = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True)
    return tuple(int(v) for v in proc.stdout.split()) if proc.returncode == 0 else None


def base_python() -> str:
    """A Python 3.11 to build the venv with: this one, else python3.11 or python3 on PATH."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    for name in ("python3.11", "python3"):
        found = shutil.which(name)
        if found and _minor(found) == (3, 11):
            return found
    raise PeerError(
        f"bench/.venv-onnx2tf needs Python 3.11 (onnx2tf 1.29.24, the last release for it, with "
        f"tensorflow 2.19.0); this is {sys.version_info[0]}.{sys.version_info[1]} and PATH has no python3.11"
    )


def source(log=print) -> Path:
    """OLD_COMMIT's sqz package, extracted once; the folder to put on PYTHONPATH."""
    full = commit()
    dest = SOURCE / full[:12]
    if (dest / ".done").exists():
        return dest
    self_ignore(SOURCE)
    log(f"peer source: git archive {full[:12]} sqz → {dest}")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(REPO), "archive", full, "sqz"], stdout=subprocess.PIPE)
    tar = subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout, capture_output=True, text=True)
    archive.stdout.close()
    if archive.wait() != 0 or tar.returncode != 0:
        raise PeerError(f"git archive {full[:12]} sqz | tar -x failed: {tar.stderr.strip()[:200]}")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    (dest / ".done").write_text(full + "\n")
    return dest


def ensure(log=print) -> dict:
    """Build the venv and extract the source if needed: {commit, source, python, venv: {created, seconds, versions}}."""
    v = venv()
    held = v.ensure(log, base=None if v.ready() else base_python())
    return {"commit": commit(), "source": str(source(log)), "python": str(v.python()), "venv": held}


def command(ckpt: str | Path, out: str | Path, calib: int) -> list[str]:
    """The old `sqz-export CKPT --int8 --no-eval --calib N --out OUT`, in the peer venv."""
    return [
        str(venv().python()),
        "-c",
        "from sqz.cli import export_main; export_main()",
        str(ckpt),
        "--int8",
        "--no-eval",
        "--calib",
        str(calib),
        "--out",
        str(out),
    ]


def environ(src: Path, base: dict | None = None) -> dict:
    """The environment for `command`: PYTHONPATH at the old source only. Run it with cwd=`src` too: `python -c`
    puts the working directory first on sys.path, and from the repository root that is today's sqz."""
    return {**(os.environ if base is None else base), "PYTHONPATH": str(src)}


def which_sqz(src: Path) -> str:
    """Where the peer's `import sqz` resolves (proof that it runs the old source)."""
    proc = subprocess.run(
        [str(venv().python()), "-c", "import sqz; print(sqz.__file__)"],
        cwd=src,
        env=environ(src),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


if __name__ == "__main__":
    try:
        info = ensure(lambda m: print(m, file=sys.stderr, flush=True))
    except PeerError as exc:
        print(f"peer_onnx2tf: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    info["imports_sqz_from"] = which_sqz(Path(info["source"]))
    print(json.dumps(info, indent=1))
