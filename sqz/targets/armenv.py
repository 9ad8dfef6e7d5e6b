"""A cached ARM userland for qemu user-mode: Debian's arm64/armhf Python 3.11 plus ARM wheels, no root needed.

Built once (apt-get download + dpkg -x with a private apt state, pip --platform wheels), under
$SQZ_CACHE/arm/<arch> (default ~/.cache/sqz/arm/<arch>); a marker written last makes it idempotent.
Needs the Debian archive and PyPI while it is built (install/test time), nothing afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqz.errors import ToolError

MIRROR = os.environ.get("SQZ_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITES = ("bookworm", "bookworm-updates")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
GLIBC_MINOR = 36  # Debian bookworm's glibc 2.36: wheels tagged manylinux_2_17 … 2_36 run on it
MARKER = ".sqz-arm-complete-v1"
NOT_NEEDED = {"dpkg", "install-info", "tar", "perl", "perl-base", "perl-modules-5.36", "libperl5.36", "mailcap",
              "mime-support", "media-types", "libgdbm-compat4"}
ALTERNATIVES = ("libopenblas", "libatlas", "libblis")  # other BLAS providers; the reference libblas3 is enough


@dataclass(frozen=True)
class Arch:
    """How one ARM architecture is emulated and provisioned."""

    name: str
    debian: str
    qemu: str
    debs: tuple[str, ...]
    wheels: tuple[str, ...]
    cpuinfo: str


_A72 = "".join(f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
               "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
               "CPU revision\t: 3\n\n" for i in range(4))
_A7 = "".join(f"processor\t: {i}\nmodel name\t: ARMv7 Processor rev 3 (v7l)\nBogoMIPS\t: 108.00\n"
              "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n"
              "CPU implementer\t: 0x41\nCPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
              "CPU revision\t: 3\n\n" for i in range(4)) + "Hardware\t: BCM2835\n"

ARCHS = {
    "aarch64": Arch("aarch64", "arm64", "qemu-aarch64-static",
                    ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6"), 
                    ("numpy==1.26.4", "ai-edge-litert==2.1.0", "tflite-runtime==2.14.0"), _A72),
    "armv7l": Arch("armv7l", "armhf", "qemu-arm-static",
                   ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6", "python3-numpy"),
                    ("tflite-runtime==2.14.0",), _A7),
}


def cache_root() -> Path:
    base = os.environ.get("SQZ_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                       os.path.expanduser("~/.cache"), "sqz")
    return Path(base) / "arm"


@dataclass(frozen=True)
class Env:
    """A ready ARM environment: run `argv(cpu, script, …)` to execute ARM Python under qemu."""

    arch: Arch
    root: Path

    @property
    def rootfs(self) -> Path:
        return self.root / "rootfs"

    def argv(self, cpu: str, *args: str) -> list[str]:
        qemu = shutil.which(self.arch.qemu)
        if not qemu:
            raise ToolError(f"{self.arch.qemu} not found; apt-get install qemu-user-static")
        return [qemu, "-cpu", cpu, "-L", str(self.rootfs), str(self.rootfs / "usr/bin/python3.11"), *args]

    def env(self, extra_path: list[Path]) -> dict:
        paths = [*map(str, extra_path), str(self.root / "site"), str(self.rootfs / "usr/lib/python3/dist-packages")]
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.root), "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join(paths),
                "TF_CPP_MIN_LOG_LEVEL": "3"}


def ensure(arch_name: str, log=lambda msg: None) -> Env:
    """The cached environment for aarch64 or armv7l, building it first when missing."""
    if arch_name not in ARCHS:
        raise ToolError(f"unknown architecture {arch_name!r}; choose aarch64 or armv7l")
    arch = ARCHS[arch_name]
    final = cache_root() / arch.name
    if (final / MARKER).is_file():
        return Env(arch, final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{arch.name}.", dir=final.parent))
    try:
        log(f"building the {arch.name} environment in {final} (Debian {arch.debian} + wheels, once)")
        _userland(arch, tmp)
        _wheels(arch, tmp / "site")
        (tmp / "rootfs/proc").mkdir(parents=True, exist_ok=True)
        (tmp / "rootfs/proc/cpuinfo").write_text(arch.cpuinfo)
        (tmp / MARKER).write_text("complete\n")
        if final.exists():
            shutil.rmtree(final)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Env(arch, final)


def _run(argv: list[str], what: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError(f"{what} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout


def _userland(arch: Arch, root: Path) -> None:
    """Debian's ARM Python and its libraries, unpacked with dpkg -x (no maintainer scripts, no root)."""
    state = root / "apt"
    for d in ("lists/partial", "cache/archives/partial", "debs"):
        (state / d).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    (state / "sources.list").write_text("".join(
        f"deb [arch={arch.debian} signed-by={KEYRING}] {MIRROR} {suite} main\n" for suite in SUITES))
    opts = [f"-oDir::State={state}", f"-oDir::State::Lists={state / 'lists'}",
            f"-oDir::State::status={state / 'status'}", f"-oDir::Cache={state / 'cache'}",
            f"-oDir::Etc::SourceList={state / 'sources.list'}", "-oDir::Etc::SourceParts=/nonexistent",
            f"-oAPT::Architecture={arch.debian}", f"-oAPT::Architectures::={arch.debian}", "-oDebug::NoLocking=1"]
    _run(["apt-get", *opts, "-qq", "update"], f"apt-get update ({arch.debian})")
    deps = _run(["apt-cache", *opts, "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                 "--no-breaks", "--no-replaces", "--no-enhances", *arch.debs], "apt-cache depends")
    names = sorted({ln.strip() for ln in deps.splitlines() if ln and not ln.startswith((" ", "<"))
                    and not ln.startswith(ALTERNATIVES)} - NOT_NEEDED)
    subprocess.run(["apt-get", *opts, "-qq", "download", *names], cwd=state / "debs", check=True,
                   capture_output=True)
    for deb in sorted((state / "debs").glob("*.deb")):
        _run(["dpkg", "-x", str(deb), str(root / "rootfs")], f"dpkg -x {deb.name}")
    shutil.rmtree(state)
    _alternatives(root / "rootfs")


def _alternatives(rootfs: Path) -> None:
    """What update-alternatives would link: libblas.so.3 and liblapack.so.3 to Debian's reference builds."""
    for lib in rootfs.glob("usr/lib/*/*/lib*.so.3"):
        if lib.parent.name in ("blas", "lapack") and not (lib.parent.parent / lib.name).exists():
            (lib.parent.parent / lib.name).symlink_to(f"{lib.parent.name}/{lib.name}")


def _wheels(arch: Arch, site: Path) -> None:
    """ARM wheels for the interpreters (and numpy on aarch64); armv7l takes Debian's numpy instead."""
    platforms = [f"--platform=manylinux_2_{minor}_{arch.name}" for minor in range(GLIBC_MINOR, 16, -1)]
    _run([sys.executable, "-m", "pip", "install", "-q", "--target", str(site), "--only-binary=:all:",
          *platforms, "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
          "--no-deps", "--no-compile", *arch.wheels], f"pip install {arch.name} wheels")
