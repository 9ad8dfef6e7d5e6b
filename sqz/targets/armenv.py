"""A cached ARM userland for qemu user-mode: Debian's arm64/armhf Python plus ARM wheels, no root needed.

Two Debian releases: bookworm (Debian 12, Python 3.11, glibc 2.36) and trixie (Debian 13, Python 3.13,
glibc 2.41). Built once (apt-get download + dpkg -x with a private apt state, pip --platform wheels), under
$SQZ_CACHE/arm/<arch> for bookworm and $SQZ_CACHE/arm/<arch>-trixie for trixie (default $SQZ_CACHE:
~/.cache/sqz); a marker written last makes it idempotent. Needs the Debian archive and PyPI while it is
built (install/test time), nothing afterwards. `userland` builds the same for any Debian-like release and
architecture qemu runs (tools/pythons.py: Ubuntu's and Debian's x86_64 Pythons under qemu-x86_64).
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
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MARKER = ".sqz-arm-complete-v1"
NOT_NEEDED = {
    "dpkg",
    "install-info",
    "tar",
    "perl",
    "perl-base",
    "mailcap",
    "mime-support",
    "media-types",
    "libgdbm-compat4",
    # python3-onnxruntime's Python dependencies that `import onnxruntime` and an InferenceSession never
    # load (sympy: the transformers tools; coloredlogs: the command-line tools)
    "python3-sympy",
    "python3-mpmath",
    "python3-coloredlogs",
    "python3-humanfriendly",
}
NOT_NEEDED_PREFIXES = ("perl-modules-", "libperl5.")
ALTERNATIVES = ("libopenblas", "libatlas", "libblis")  # other BLAS providers; the reference libblas3 is enough


@dataclass(frozen=True)
class Arch:
    """How one ARM architecture is emulated (the Debian packages and wheels per OS are in PACKAGES)."""

    name: str
    debian: str
    qemu: str
    cpuinfo: str


@dataclass(frozen=True)
class OS:
    """One release: its suites, its Python and its glibc (wheels tagged manylinux_2_17 … 2_<glibc> run), and the
    archive it comes from with the keyring that verifies it (Debian's unless told)."""

    name: str
    suites: tuple[str, ...]
    python: str
    glibc_minor: int
    distro: str = "Debian"
    mirror: str = MIRROR
    keyring: str = KEYRING


_A72 = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
    "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
    "CPU revision\t: 3\n\n"
    for i in range(4)
)
_A7 = (
    "".join(
        f"processor\t: {i}\nmodel name\t: ARMv7 Processor rev 3 (v7l)\nBogoMIPS\t: 108.00\n"
        "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n"
        "CPU implementer\t: 0x41\nCPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
        "CPU revision\t: 3\n\n"
        for i in range(4)
    )
    + "Hardware\t: BCM2835\n"
)

ARCHS = {
    "aarch64": Arch("aarch64", "arm64", "qemu-aarch64-static", _A72),
    "armv7l": Arch("armv7l", "armhf", "qemu-arm-static", _A7),
}
OSES = {
    "bookworm": OS("bookworm", ("bookworm", "bookworm-updates"), "3.11", 36),
    "trixie": OS("trixie", ("trixie", "trixie-updates"), "3.13", 41),
}
DEFAULT_OS = "bookworm"
# (os, arch) -> (Debian packages, ARM wheels). armv7l takes Debian's numpy; on trixie PyPI has no TFLite
# interpreter and no onnxruntime for cp313 armv7l, so that userland runs model.onnx with Debian's onnxruntime.
PACKAGES = {
    ("bookworm", "aarch64"): (
        ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6"),
        ("numpy==1.26.4", "ai-edge-litert==2.1.0", "tflite-runtime==2.14.0"),
    ),
    ("bookworm", "armv7l"): (
        ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6", "python3-numpy"),
        ("tflite-runtime==2.14.0",),
    ),
    ("trixie", "aarch64"): (
        ("python3.13-minimal", "libpython3.13-stdlib", "libstdc++6"),
        ("numpy==2.5.5", "ai-edge-litert==2.1.0"),
    ),
    ("trixie", "armv7l"): (
        ("python3.13-minimal", "libpython3.13-stdlib", "libstdc++6", "python3-numpy", "python3-onnxruntime"),
        (),
    ),
}


def cache_root() -> Path:
    base = os.environ.get("SQZ_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sqz"
    )
    return Path(base) / "arm"


@dataclass(frozen=True)
class Env:
    """A ready ARM environment: run `argv(cpu, script, …)` to execute ARM Python under qemu."""

    arch: Arch
    root: Path
    os: OS = OSES[DEFAULT_OS]

    @property
    def rootfs(self) -> Path:
        return self.root / "rootfs"

    @property
    def python(self) -> str:
        return f"python{self.os.python}"

    def argv(self, cpu: str, *args: str) -> list[str]:
        qemu = shutil.which(self.arch.qemu)
        if not qemu:
            raise ToolError(f"{self.arch.qemu} not found; apt-get install qemu-user-static")
        return [qemu, "-cpu", cpu, "-L", str(self.rootfs), str(self.rootfs / "usr/bin" / self.python), *args]

    def env(self, extra_path: list[Path]) -> dict:
        paths = [*map(str, extra_path), str(self.root / "site"), str(self.rootfs / "usr/lib/python3/dist-packages")]
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join(paths),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }


def directory(arch_name: str, os_name: str = DEFAULT_OS) -> Path:
    """Where the (os, arch) environment is cached: arm/<arch> for bookworm, arm/<arch>-<os> for any other release."""
    return cache_root() / (arch_name if os_name == "bookworm" else f"{arch_name}-{os_name}")


def ensure(arch_name: str, log=lambda msg: None, os_name: str = DEFAULT_OS) -> Env:
    """The cached environment for aarch64 or armv7l on bookworm or trixie, building it first when missing."""
    if arch_name not in ARCHS:
        raise ToolError(f"unknown architecture {arch_name!r}; choose aarch64 or armv7l")
    if os_name not in OSES:
        raise ToolError(f"unknown OS {os_name!r}; choose {' or '.join(OSES)}")
    debs, wheels = PACKAGES[(os_name, arch_name)]
    return userland(ARCHS[arch_name], OSES[os_name], debs, wheels, directory(arch_name, os_name), log)


def userland(
    arch: Arch,
    dist: OS,
    debs: tuple[str, ...],
    wheels: tuple[str, ...],
    final: Path,
    log=lambda msg: None,
    deps: bool = False,
) -> Env:
    """The environment cached in `final`: `dist`'s packages `debs` (with their dependencies) and the wheels `wheels`
    (with theirs, resolved for its Python, when `deps`), building it first when missing."""
    if (final / MARKER).is_file():
        return Env(arch, final, dist)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        log(
            f"building the {arch.name} {dist.name} environment in {final} ({dist.distro} {dist.name} {arch.debian} "
            f"+ {'wheels' if wheels else 'no wheels'}, once)"
        )
        _userland(arch, dist, debs, tmp, log)
        if wheels:
            _wheels(arch, dist, wheels, tmp / "site", deps)
        if arch.cpuinfo:
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
    return Env(arch, final, dist)


def _run(argv: list[str], what: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError(f"{what} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout


def _userland(arch: Arch, dist: OS, debs: tuple[str, ...], root: Path, log=lambda msg: None) -> None:
    """The release's Python and its libraries, unpacked with dpkg -x (no maintainer scripts, no root)."""
    state = root / "apt"
    for d in ("lists/partial", "cache/archives/partial", "debs"):
        (state / d).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    (state / "sources.list").write_text(
        "".join(
            f"deb [arch={arch.debian} signed-by={dist.keyring}] {dist.mirror} {suite} main\n" for suite in dist.suites
        )
    )
    opts = [
        f"-oDir::State={state}",
        f"-oDir::State::Lists={state / 'lists'}",
        f"-oDir::State::status={state / 'status'}",
        f"-oDir::Cache={state / 'cache'}",
        f"-oDir::Etc::SourceList={state / 'sources.list'}",
        "-oDir::Etc::SourceParts=/nonexistent",
        f"-oAPT::Architecture={arch.debian}",
        f"-oAPT::Architectures::={arch.debian}",
        "-oDebug::NoLocking=1",
    ]
    _run(["apt-get", *opts, "-qq", "update"], f"apt-get update ({arch.debian})")
    deps = _run(
        [
            "apt-cache",
            *opts,
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *debs,
        ],
        "apt-cache depends",
    )
    names = sorted(
        {
            ln.strip()
            for ln in deps.splitlines()
            if ln and not ln.startswith((" ", "<")) and not ln.startswith(ALTERNATIVES + NOT_NEEDED_PREFIXES)
        }
        - NOT_NEEDED
    )
    subprocess.run(["apt-get", *opts, "-qq", "download", *names], cwd=state / "debs", check=True, capture_output=True)
    got = sorted((state / "debs").glob("*.deb"))
    log(
        f"downloaded {len(got)} {dist.distro} {dist.name} {arch.debian} packages, "
        f"{sum(d.stat().st_size for d in got) / 1e6:.1f} MB"
    )
    for deb in got:
        _run(["dpkg", "-x", str(deb), str(root / "rootfs")], f"dpkg -x {deb.name}")
    shutil.rmtree(state)
    _merged_usr(root / "rootfs")
    _alternatives(root / "rootfs")
    _relative_links(root / "rootfs")


def _merged_usr(rootfs: Path) -> None:
    """A merged-/usr root as base-files makes it (trixie ships ld-linux only under /usr/lib): /lib -> usr/lib and so
    on, what packages put in /lib moved there first (on x86_64, qemu -L would find a library missing from one of
    the two directories in this machine's /lib instead)."""
    for name in ("bin", "sbin", "lib", "lib64"):
        top, usr = rootfs / name, rootfs / "usr" / name
        if usr.is_dir() and top.is_dir() and not top.is_symlink():
            shutil.copytree(top, usr, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(top)
        if usr.is_dir() and not top.is_symlink():
            top.symlink_to(f"usr/{name}")


def _relative_links(rootfs: Path) -> None:
    """Absolute links made relative, so they resolve inside the root (qemu -L follows them on this machine's tree:
    Ubuntu 22.04's /lib64/ld-linux-x86-64.so.2 -> /lib/… would load this machine's loader)."""
    for link in [p for p in rootfs.rglob("*") if p.is_symlink() and os.readlink(p).startswith("/")]:
        target = rootfs / os.readlink(link).lstrip("/")
        link.unlink()
        link.symlink_to(os.path.relpath(target, link.parent))


def _alternatives(rootfs: Path) -> None:
    """What update-alternatives would link: libblas.so.3 and liblapack.so.3 to Debian's reference builds."""
    for lib in rootfs.glob("usr/lib/*/*/lib*.so.3"):
        if lib.parent.name in ("blas", "lapack") and not (lib.parent.parent / lib.name).exists():
            (lib.parent.parent / lib.name).symlink_to(f"{lib.parent.name}/{lib.name}")


def _wheels(arch: Arch, dist: OS, wheels: tuple[str, ...], site: Path, deps: bool = False) -> None:
    """Wheels for the release's Python on `arch`: the interpreters (and numpy on aarch64; armv7l takes Debian's);
    with `deps`, their dependencies too, as pip resolves them for that Python."""
    platforms = [f"--platform=manylinux_2_{minor}_{arch.name}" for minor in range(dist.glibc_minor, 16, -1)]
    abi = "cp" + dist.python.replace(".", "")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--target",
            str(site),
            "--only-binary=:all:",
            *platforms,
            "--python-version",
            dist.python,
            "--implementation",
            "cp",
            "--abi",
            abi,
            *([] if deps else ["--no-deps"]),
            "--no-compile",
            *wheels,
        ],
        f"pip install {arch.name} {dist.name} wheels",
    )
