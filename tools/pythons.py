"""`make verify-pythons`: `sqz run` gives the same bytes out on CPython 3.10, 3.12 and 3.13 as on this machine's Python.

Each Python is a real x86_64 userland with its own glibc: Ubuntu 22.04's 3.10, Ubuntu 24.04's 3.12 and Debian 13's
3.13, run under qemu-x86_64 -L (sqz.targets.armenv builds them: apt-get download + dpkg -x, no root), with the wheels
pip resolves for that Python from pyproject.toml's dependencies and [board] extra (--only-binary=:all:) and sqz from a
wheel of this tree. On the first Fashion-MNIST test images of an export: int8 outputs bit-identical on the default
and the reference kernels, and `sqz run`'s top-k lines identical. Built once under $SQZ_CACHE/pythons (needs
archive.ubuntu.com, deb.debian.org and the package registry then, nothing afterwards). Exit 1 when any differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import tomllib

from sqz.errors import SqzError, ToolError
from sqz.runtime import manifest as manifests
from sqz.targets import armenv
from sqz.targets.samples import sample_images

ROOT = Path(__file__).resolve().parents[1]
UBUNTU_MIRROR = os.environ.get("SQZ_UBUNTU_MIRROR", "http://archive.ubuntu.com/ubuntu")
X86_64 = armenv.Arch("x86_64", "amd64", "qemu-x86_64-static", "")
CPU = "max"  # qemu's fullest x86_64 (AVX2, FMA): the kernels numpy and XNNPACK pick on a current PC
TOP = 3
KERNELS = ("default", "reference")


def _ubuntu(name: str, version: str, python: str, glibc_minor: int) -> armenv.OS:
    suites = (name, f"{name}-updates", f"{name}-security")
    return armenv.OS(name, suites, python, glibc_minor, f"Ubuntu {version}", UBUNTU_MIRROR, "")


RELEASES = {
    "3.10": _ubuntu("jammy", "22.04", "3.10", 35),
    "3.12": _ubuntu("noble", "24.04", "3.12", 39),
    "3.13": dataclasses.replace(armenv.OSES["trixie"], distro="Debian 13"),
}


def board_requirements(python: str, pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, ...]:
    """sqz's dependencies and [board] extra that apply to CPython `python` on x86_64 Linux, markers dropped."""
    from packaging.requirements import Requirement

    meta = tomllib.loads(pyproject.read_text())["project"]
    env = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "platform_machine": "x86_64",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    kept = [Requirement(t) for t in meta["dependencies"] + meta["optional-dependencies"]["board"]]
    return tuple(f"{r.name}{r.specifier}" for r in kept if r.marker is None or r.marker.evaluate(env))


def cache_dir() -> Path:
    """Where the userlands are cached: $SQZ_CACHE/pythons (default ~/.cache/sqz/pythons)."""
    return armenv.cache_root().parent / "pythons"


def environment(python: str, log=lambda msg: None) -> armenv.Env:
    """The cached userland of `python` with its [board] wheels; rebuilt when pyproject.toml's requirements change."""
    dist = RELEASES[python]
    debs = (f"python{python}-minimal", f"libpython{python}-stdlib", "libstdc++6")
    wheels = board_requirements(python)
    digest = hashlib.sha256("\n".join((dist.mirror, *dist.suites, *debs, *wheels)).encode()).hexdigest()[:12]
    final = cache_dir() / f"{dist.name}-x86_64-{digest}"
    if dist.distro.startswith("Ubuntu"):
        dist = dataclasses.replace(dist, keyring=_ubuntu_keyring(log))
    env = armenv.userland(X86_64, dist, debs, wheels, final, log, deps=True)
    for stale in final.parent.glob(f"{dist.name}-x86_64-*"):
        if stale != final:
            shutil.rmtree(stale, ignore_errors=True)
    return env


def _ubuntu_keyring(log) -> str:
    """Ubuntu's archive key from Debian's ubuntu-keyring package, fetched and checked through Debian's signed index."""
    env = armenv.userland(X86_64, armenv.OSES["trixie"], ("ubuntu-keyring",), (), cache_dir() / "ubuntu-keyring", log)
    return str(env.rootfs / "usr/share/keyrings/ubuntu-archive-keyring.gpg")


def sqz_wheel(dest: Path) -> Path:
    """sqz as a wheel built from a copy of this tree (setuptools, no network), unpacked into dest/lib."""
    src = dest / "src"
    shutil.copytree(ROOT / "sqz", src / "sqz", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    proc = subprocess.run([*cmd, "-w", str(dest / "dist"), str(src)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError(f"building sqz's wheel failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    wheel = next((dest / "dist").glob("sqz-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest / "lib")
    return wheel


def write_images(dest: Path, n: int) -> list[Path]:
    """The first n Fashion-MNIST test images as PNG files, what `sqz run` is given."""
    from PIL import Image

    from sqz.train.idx import FASHION_MNIST_DIR, read_idx

    path = FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        raise ToolError(f"{path} not found; apt-get install dataset-fashion-mnist (make system)")
    dest.mkdir(parents=True, exist_ok=True)
    files = [dest / f"{i:03d}.png" for i in range(n)]
    for f, image in zip(files, read_idx(path)[:n]):
        Image.fromarray(image).save(f)
    return files


def sqz_run(python: list[str], model: Path, images: list[Path], cwd: Path, env: dict | None = None) -> dict:
    """`sqz run --top TOP` through `python` (argv): its stdout lines and the interpreter line it writes to stderr."""
    argv = [*python, "-m", "sqz.cli", "run", "--top", str(TOP), str(model), *map(str, images)]
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ToolError(f"sqz run failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    said = [ln for ln in proc.stderr.splitlines() if ln.startswith("(interpreter:")]
    return {"run": proc.stdout.splitlines(), "said": said[-1:]}


def here(model: Path, x: np.ndarray, images: list[Path], work: Path) -> dict:
    """This machine's side: the int8 steps on both kernel sets and `sqz run`'s lines."""
    from sqz.targets.probe import outputs

    got = {kind: outputs(str(model), x, reference=kind == "reference") for kind in KERNELS}
    report = {"python": platform.python_version(), "glibc": os.confstr("CS_GNU_LIBC_VERSION")}
    side = {"steps": {k: got[k]["steps"] for k in KERNELS}, "interpreter": got["default"]["interpreter"], **report}
    return {**side, **sqz_run([sys.executable], model, images, work)}


def emulated(env: armenv.Env, model: Path, images: list[Path], work: Path) -> dict:
    """The emulated Python's side, as `here`, plus what ran it (Python, glibc, wheels, the shared objects loaded)."""
    out = work / f"{env.os.name}.npz"
    script = str(work / "pythons_target.py")
    run_env = env.env([work / "lib"])
    proc = subprocess.run(
        env.argv(CPU, script, str(model), str(work / "inputs.npy"), str(out)),
        cwd=work,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-2:]
        raise ToolError(f"Python {env.os.python} ({env.os.distro}) failed (exit {proc.returncode}): {' | '.join(tail)}")
    side = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out) as steps:
        side["steps"] = {k: steps[k] for k in KERNELS}
    python = env.argv(CPU)
    return {**side, **sqz_run(python, model, images, work, run_env)}


def compare(host: dict, got: dict) -> list[str]:
    """What differs between two sides (empty: the same bytes out): int8 steps per kernel set, sqz run's lines."""
    problems = []
    for kind in KERNELS:
        a, b = host["steps"][kind], got["steps"][kind]
        if a.shape != b.shape:
            problems.append(f"{kind} kernels: output shape {b.shape}, here {a.shape}")
            continue
        diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
        if diff.any():
            problems.append(
                f"{kind} kernels: {int((diff > 0).sum())} of {diff.size} int8 outputs differ (max {int(diff.max())} "
                f"step{'s' if diff.max() > 1 else ''})"
            )
    lines = [i for i, (a, b) in enumerate(zip(host["run"], got["run"])) if a != b]
    if len(host["run"]) != len(got["run"]) or lines:
        first = f", first: {got['run'][lines[0]]!r} here {host['run'][lines[0]]!r}" if lines else ""
        problems.append(f"sqz run: {len(lines)} of {len(host['run'])} lines differ ({len(got['run'])} printed){first}")
    if host["said"] != got["said"]:
        problems.append(f"sqz run: {got['said']} here {host['said']}")
    return problems


def foreign(env: armenv.Env, work: Path, got: dict) -> list[str]:
    """What shows the emulated side did not run wholly from its own userland: Python, glibc, libraries, sqz."""
    dist, problems = env.os, []
    if not got["python"].startswith(dist.python + ".") or got["machine"] != "x86_64":
        problems.append(f"ran Python {got['python']} on {got['machine']}, not {dist.python} on x86_64")
    if got["glibc"] != f"glibc 2.{dist.glibc_minor}":
        problems.append(f"ran with {got['glibc']}, not {dist.distro}'s glibc 2.{dist.glibc_minor}")
    outside = [p for p in got["loaded"] if not p.startswith(str(env.root) + "/")]
    if outside:
        problems.append(f"loaded {len(outside)} shared objects from this machine, e.g. {outside[0]}")
    if not got["sqz"].startswith(str(work / "lib") + "/"):
        problems.append(f"imported sqz from {got['sqz']}, not the wheel")
    return problems


def line(env: armenv.Env, got: dict, problems: list[str], images: int, seconds: float, host: dict) -> str:
    """One PASS/FAIL line for one emulated Python."""
    dist = env.os
    where = f"Python {got['python']} on {dist.distro} {dist.name} x86_64 ({got['glibc']})"
    if problems:
        return f"FAIL  {where}: {'; '.join(problems)} ({seconds:.1f} s)"
    return (
        f"PASS  {where}: {images} Fashion-MNIST test images, int8 outputs bit-identical to Python {host['python']} "
        f"here on the default and the reference kernels, `sqz run --top {TOP}` lines identical ({seconds:.1f} s)"
    )


def _wheels(versions: dict) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def check(python: str, model: Path, images: list[Path], work: Path, host: dict) -> bool:
    """One emulated Python against this machine's side: prints its wheels and a PASS/FAIL line; True if it passed."""
    env = _built(python)
    start = time.monotonic()
    try:
        got = emulated(env, model, images, work)
    except ToolError as exc:
        where = f"Python {python} on {env.os.distro} {env.os.name} x86_64"
        print(f"FAIL  {where}: {exc} ({time.monotonic() - start:.1f} s)", flush=True)
        return False
    print(f"      Python {got['python']} wheels: {_wheels(got['versions'])}")
    problems = foreign(env, work, got) + compare(host, got)
    print(line(env, got, problems, len(images), time.monotonic() - start, host), flush=True)
    return not problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export", type=Path, nargs="?", default=ROOT / "exports/default", help="an export directory")
    ap.add_argument("--python", action="append", choices=sorted(RELEASES), help="only these (default: all)")
    ap.add_argument("--samples", type=int, default=32, help="Fashion-MNIST test images (default 32)")
    args = ap.parse_args(argv)
    if args.samples < 1:
        ap.error("--samples: give 1 or more")
    model = (args.export / "model_int8.tflite").resolve()
    if not model.is_file():
        print(f"error: {model} not found; make export writes it", file=sys.stderr)
        return 2
    if not shutil.which(X86_64.qemu):
        print(f"error: {X86_64.qemu} not found; apt-get install qemu-user-static (make system)", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="sqz-pythons-") as tmp:
            work = Path(tmp)
            x, _ = sample_images(manifests.entry_for(model)[0], args.samples)
            np.save(work / "inputs.npy", x)
            images = write_images(work / "images", args.samples)
            wheel = sqz_wheel(work)
            shutil.copyfile(Path(__file__).with_name("pythons_target.py"), work / "pythons_target.py")
            host = here(model, x, images, work)
            print(f"here: Python {host['python']} x86_64 ({host['glibc']}), {host['interpreter']}; {wheel.name}")
            passed = [check(python, model, images, work, host) for python in args.python or sorted(RELEASES)]
    except SqzError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(passed) else 1


def _built(python: str) -> armenv.Env:
    """`environment`, its failure said as what to fetch."""
    dist = RELEASES[python]
    hosts = ", ".join(sorted({dist.mirror.split("/")[2], armenv.MIRROR.split("/")[2]}))
    try:
        return environment(python, lambda msg: print(f"      {msg}", flush=True))
    except (ToolError, subprocess.CalledProcessError) as exc:
        raise ToolError(
            f"building Python {python}'s userland ({dist.distro} {dist.name} x86_64, once, into {cache_dir()}) "
            f"needs {hosts} and the package registry: {exc}"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
