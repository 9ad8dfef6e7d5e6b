"""Put a bundle on boards over SSH (the system's OpenSSH client) or into a local directory, atomically.

Layout under the remote directory: releases/<id>/ (one per bundle), `current` and `previous` symlinks.
Upload goes to a hidden temp directory, is checked with `sha256sum -c`, smoke-tested, then `current` is
switched with `ln -sfn` + `mv -T`, so `current` never points at a partial or unchecked release.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqz.errors import InputError
from sqz.targets.bundle import SUMS, release_id

CHECKSUM_FAILED, NO_PYTHON, MISSING_DEPS, NO_PREVIOUS = 3, 120, 121, 4
SSH_FAILED = 255

UPLOAD = r"""set -e
R={root}; ID={id}
mkdir -p "$R/releases"
T=$(mktemp -d "$R/releases/.incoming.XXXXXX")
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
tar -xf - -C "$T"
if ! out=$(cd "$T" && sha256sum -c --strict {sums} 2>&1); then
  printf '%s\n' "$out" | grep -v ': OK$' | head -n 3 >&2
  exit {bad}
fi
if [ -d "$R/releases/$ID" ] && (cd "$R/releases/$ID" && sha256sum -c --quiet {sums}) >/dev/null 2>&1; then
  exit 0
fi
rm -rf "$R/releases/$ID"
mv "$T" "$R/releases/$ID"
"""

SMOKE = r"""cd {root}/releases/{id}
command -v {python} >/dev/null 2>&1 || exit {no_python}
PYTHONPATH=lib exec {python} probe.py --smoke . --threads {threads}
"""

SWITCH = r"""set -e
cd {root}
old=$(readlink current 2>/dev/null || true)
ln -sfn releases/{id} .current.tmp && mv -T .current.tmp current
if [ -n "$old" ] && [ "$old" != releases/{id} ]; then
  ln -sfn "$old" .previous.tmp && mv -T .previous.tmp previous
fi
prev=$(readlink previous 2>/dev/null || true)
for d in releases/*; do
  [ "$d" = releases/{id} ] || [ "$d" = "$prev" ] || rm -rf "$d"
done
echo "$prev"
"""

ROLLBACK = r"""set -e
cd {root}
prev=$(readlink previous 2>/dev/null) || exit {no_previous}
[ -d "$prev" ] || exit {no_previous}
cur=$(readlink current 2>/dev/null || true)
ln -sfn "$prev" .current.tmp && mv -T .current.tmp current
if [ -n "$cur" ]; then ln -sfn "$cur" .previous.tmp && mv -T .previous.tmp previous; fi
echo "$prev"
"""


@dataclass(frozen=True)
class SSH:
    """How to reach boards: port, key, known_hosts. Host keys are always checked (StrictHostKeyChecking=yes)."""

    port: int | None = None
    identity: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: int = 10

    def argv(self, host: str) -> list[str]:
        name, port = split_host(host)
        opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"ConnectTimeout={self.connect_timeout}", "-o", "LogLevel=ERROR"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.identity:
            opts += ["-i", str(self.identity), "-o", "IdentitiesOnly=yes"]
        port = port or self.port
        if port:
            opts += ["-p", str(port)]
        return ["ssh", *opts, name]


@dataclass
class Result:
    """What happened on one host; `line()` is its one summary line."""

    host: str
    ok: bool
    release: str = ""
    previous: str = ""
    smoke: str = ""
    error: str = ""
    details: dict = field(default_factory=dict)

    def line(self) -> str:
        if not self.ok:
            return f"FAIL  {self.host}: {self.error}"
        prev = f", previous {self.previous}" if self.previous else ""
        smoke = f"; {self.smoke}" if self.smoke else ""
        return f"OK    {self.host}: current -> {self.release}{prev}{smoke}"


def split_host(host: str) -> tuple[str, int | None]:
    """`user@board:2222` → ("user@board", 2222); a bare host keeps port None."""
    if host.count(":") == 1:
        name, port = host.split(":")
        if port.isdigit():
            return name, int(port)
    if not host or host.startswith("-"):
        raise InputError(f"host {host!r} is not a host name; write user@board or user@board:port")
    return host, None


def remote_quote(path: str) -> str:
    """Shell-quote a path for the board, keeping a leading ~/ as the remote home."""
    if path == "~" or path.startswith("~/"):
        return '"$HOME"' + (shlex.quote(path[1:]) if len(path) > 1 else "")
    return shlex.quote(path)


def _run(prefix: list[str] | None, script: str, stdin=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a POSIX sh script on the board (prefix: the ssh argv) or here (prefix None)."""
    argv = [*prefix, "sh -c " + shlex.quote(script)] if prefix else ["sh", "-c", script]
    return subprocess.run(argv, stdin=stdin, capture_output=True, timeout=timeout)


def _tail(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in proc.stderr.decode(errors="replace").splitlines() if ln.strip()]
    return "; ".join(lines[-2:]) if lines else f"exit status {proc.returncode}"


def _upload(prefix, root: str, bundle: Path, rid: str) -> subprocess.CompletedProcess:
    script = UPLOAD.format(root=root, id=rid, sums=SUMS, bad=CHECKSUM_FAILED)
    tar = subprocess.Popen(["tar", "-cf", "-", "-C", str(bundle), "."], stdout=subprocess.PIPE)
    try:
        return _run(prefix, script, stdin=tar.stdout)
    finally:
        tar.stdout.close()
        tar.wait()


def install(bundle: Path, prefix: list[str] | None, root: str, label: str, python: str | None,
            threads: int) -> Result:
    """Upload, check, smoke-test and switch one host (or local directory); never raises for the host's faults."""
    bundle = Path(bundle)
    rid = release_id(bundle)
    qroot = remote_quote(root)
    try:
        up = _upload(prefix, qroot, bundle, rid)
        if up.returncode == CHECKSUM_FAILED:
            return Result(label, False, rid, error=f"checksum mismatch on the board ({_tail(up)}); "
                                                    "refused, `current` unchanged")
        if up.returncode != 0:
            return Result(label, False, rid, error=f"upload failed: {_tail(up)}")
        smoke, details = "smoke: skipped (local directory; run it on the board)", {}
        if python:
            sm = _run(prefix, SMOKE.format(root=qroot, id=rid, python=remote_quote(python), threads=threads,
                                           no_python=NO_PYTHON))
            smoke, details, failed = _smoke_outcome(sm, python)
            if failed:
                return Result(label, False, rid, smoke=smoke, details=details,
                              error=f"{smoke}; release kept in releases/{rid}, `current` unchanged")
        sw = _run(prefix, SWITCH.format(root=qroot, id=rid))
        if sw.returncode != 0:
            return Result(label, False, rid, error=f"switch failed: {_tail(sw)}")
        previous = sw.stdout.decode().strip().removeprefix("releases/")
        return Result(label, True, rid, previous=previous, smoke=smoke, details=details)
    except subprocess.TimeoutExpired:
        return Result(label, False, rid, error="timed out; `current` unchanged")


def _smoke_outcome(proc: subprocess.CompletedProcess, python: str) -> tuple[str, dict, bool]:
    """(summary, probe report, failed?) of a remote smoke run."""
    if proc.returncode == NO_PYTHON:
        return f"smoke: skipped (no interpreter on host: {python} not found)", {}, False
    out = proc.stdout.decode(errors="replace").strip().splitlines()
    try:
        report = json.loads(out[-1]) if out else {}
    except ValueError:
        report = {}
    if proc.returncode == MISSING_DEPS:
        return f"smoke: skipped (no interpreter on host: {report.get('missing', 'numpy or TFLite missing')})", \
            report, False
    if proc.returncode in (0, 1) and "match" in report:
        summary = (f"smoke: {report['match']}/{report['images']} top-1 as on this machine "
                   f"({report['interpreter']})")
        return summary, report, proc.returncode != 0
    return f"smoke: failed ({_tail(proc)})", report, True


def deploy(bundle: Path, hosts: list[str], ssh: SSH = SSH(), remote_dir: str = "sqz",
           python: str = "python3", threads: int = 4, workers: int = 8) -> list[Result]:
    """Install the bundle on every host in parallel; one Result per host, in the order given."""
    if not hosts:
        raise InputError("give at least one --host user@board (or --dest DIR for a mounted SD card)")
    for h in hosts:
        split_host(h)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts)))) as pool:
        return list(pool.map(lambda h: install(bundle, ssh.argv(h), remote_dir, h, python, threads), hosts))


def deploy_local(bundle: Path, dest: Path) -> Result:
    """The same layout in a local directory (e.g. a mounted SD card's rootfs); no smoke test here."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: not a directory")
    return install(bundle, None, str(dest.resolve()), str(dest), None, 0)


def deploy_model(model: Path, target: str, hosts: list[str], dest: Path | None = None, ssh: SSH = SSH(),
                 remote_dir: str = "sqz", python: str = "python3", images: list[Path] | None = None) -> list[Result]:
    """Bundle MODEL for TARGET (in a temp directory) and install it on every host, or into DEST."""
    import tempfile

    from sqz.targets.bundle import build
    from sqz.targets.profiles import get

    profile = get(target)
    if bool(hosts) == bool(dest):
        raise InputError("give either --host user@board (one or more) or --dest DIR, not both")
    with tempfile.TemporaryDirectory(prefix="sqz-bundle-") as tmp:
        bundle = build(Path(model), Path(tmp) / "bundle", profile, images=images)
        if dest:
            return [deploy_local(bundle, dest)]
        return deploy(bundle, hosts, ssh, remote_dir, python, profile.threads)


def rollback(hosts: list[str], ssh: SSH = SSH(), remote_dir: str = "sqz", workers: int = 8) -> list[Result]:
    """Point `current` back at `previous` (and `previous` at what was current) on every host."""
    if not hosts:
        raise InputError("give at least one --host user@board (or --dest DIR)")
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts)))) as pool:
        return list(pool.map(lambda h: _rollback_one(ssh.argv(h), remote_dir, h), hosts))


def rollback_local(dest: Path) -> Result:
    return _rollback_one(None, str(Path(dest).resolve()), str(dest))


def _rollback_one(prefix, root: str, label: str) -> Result:
    proc = _run(prefix, ROLLBACK.format(root=remote_quote(root), no_previous=NO_PREVIOUS), timeout=60)
    if proc.returncode == NO_PREVIOUS:
        return Result(label, False, error="no previous release to roll back to")
    if proc.returncode != 0:
        return Result(label, False, error=f"rollback failed: {_tail(proc)}")
    return Result(label, True, proc.stdout.decode().strip().removeprefix("releases/"))
