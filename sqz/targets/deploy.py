"""Put a bundle on boards over SSH (the system's OpenSSH client) or into a local directory, atomically.

Layout under the remote directory: releases/<id>/ (one per bundle), `current` and `previous` symlinks, `.lock`.
One shell script per host holds `flock` on `.lock` from upload to switch (a second deploy or rollback waits,
then fails with one clear line). The upload goes to a hidden temp directory, is checked with `sha256sum -c`,
smoke-tested, then `current` is switched with `ln -sfn` + `mv -T`, so it never points at a partial release.
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
from sqz.targets.ssh import SSH, distinct, split_host

__all__ = ["SSH", "Result", "deploy", "deploy_local", "deploy_model", "rollback", "rollback_local", "split_host"]

CHECKSUM_FAILED, NO_PREVIOUS, SMOKE_FAILED, LOCKED, NO_LOCK = 3, 4, 5, 6, 7
NO_PYTHON, MISSING_DEPS = 120, 121
LOCK_WAIT = 120
MARK = "@@sqz"

LOCK = r"""exec 9>>"$R/.lock"
if ! command -v flock >/dev/null 2>&1; then
  echo "flock not found on the board: install util-linux (it locks $R)" >&2; exit {no_lock}
fi
n=0
while :; do
  s=0; flock -n 9 || s=$?
  [ "$s" -eq 0 ] && break
  [ "$s" -eq 1 ] || {{ echo "cannot lock $R/.lock (flock exit $s)" >&2; exit {no_lock}; }}
  if [ "$n" -ge {wait} ]; then
    echo "another deploy or rollback holds $R/.lock (waited {wait} s); run again when it ends" >&2; exit {locked}
  fi
  n=$((n + 1)); sleep 1
done
"""

UPLOAD = (
    r"""set -e
R={root}; ID={id}
mkdir -p "$R/releases"
"""
    + LOCK
    + r"""rm -rf "$R"/releases/.incoming.*
T=$(mktemp -d "$R/releases/.incoming.XXXXXX")
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
tar -xf - -C "$T"
if ! out=$(cd "$T" && sha256sum -c --strict {sums} 2>&1); then
  printf '%s\n' "$out" | grep -v ': OK$' | head -n 3 >&2
  exit {bad}
fi
if ! {{ [ -d "$R/releases/$ID" ] && (cd "$R/releases/$ID" && sha256sum -c --quiet {sums}) >/dev/null 2>&1; }}; then
  rm -rf "$R/releases/$ID"
  mv "$T" "$R/releases/$ID"
fi
echo "{mark} uploaded"
"""
)

SMOKE = r"""rc={no_python}
if command -v {python} >/dev/null 2>&1; then
  rc=0; (cd "$R/releases/$ID" && PYTHONPATH=lib exec {python} probe.py --smoke . --threads {threads}) || rc=$?
fi
echo "{mark} smoke $rc"
case $rc in 0|{no_python}|{missing}) ;; *) exit {smoke_failed};; esac
"""

SWITCH = r"""cd "$R"
old=$(readlink current 2>/dev/null || true)
ln -sfn "releases/$ID" .current.tmp && mv -T .current.tmp current
if [ -n "$old" ] && [ "$old" != "releases/$ID" ]; then
  ln -sfn "$old" .previous.tmp && mv -T .previous.tmp previous
fi
prev=$(readlink previous 2>/dev/null || true)
for d in releases/*; do
  [ "$d" = "releases/$ID" ] || [ "$d" = "$prev" ] || rm -rf "$d"
done
echo "{mark} previous $prev"
"""

ROLLBACK = (
    r"""set -e
R={root}
[ -d "$R" ] || exit {no_previous}
"""
    + LOCK
    + r"""cd "$R"
prev=$(readlink previous 2>/dev/null) || exit {no_previous}
[ -d "$prev" ] || exit {no_previous}
cur=$(readlink current 2>/dev/null || true)
ln -sfn "$prev" .current.tmp && mv -T .current.tmp current
if [ -n "$cur" ]; then ln -sfn "$cur" .previous.tmp && mv -T .previous.tmp previous; fi
echo "$prev"
"""
)


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


def install_script(root: str, rid: str, python: str | None, threads: int, lock_wait: int = LOCK_WAIT) -> str:
    """The one script that locks the board, uploads (tar on stdin), checks, smoke-tests and switches."""
    parts = [UPLOAD, SMOKE if python else "", SWITCH]
    return "".join(parts).format(
        root=root,
        id=shlex.quote(rid),
        sums=SUMS,
        bad=CHECKSUM_FAILED,
        wait=int(lock_wait),
        locked=LOCKED,
        no_lock=NO_LOCK,
        python=remote_quote(python or ""),
        threads=int(threads),
        no_python=NO_PYTHON,
        missing=MISSING_DEPS,
        smoke_failed=SMOKE_FAILED,
        mark=MARK,
    )


def _marked(stdout: str) -> tuple[list[str], dict[str, str]]:
    """(the probe's stdout lines, {"smoke": rc, "previous": id}) from an install's stdout."""
    probe, marks = [], {}
    for line in stdout.splitlines():
        if line.startswith(MARK + " "):
            key, _, value = line[len(MARK) + 1 :].partition(" ")
            marks[key] = value
        elif "smoke" not in marks:
            probe.append(line)
    return probe, marks


def install(
    bundle: Path,
    prefix: list[str] | None,
    root: str,
    label: str,
    python: str | None,
    threads: int,
    lock_wait: int = LOCK_WAIT,
) -> Result:
    """Lock, upload, check, smoke-test and switch one host (or local directory); never raises for its faults."""
    bundle = Path(bundle)
    rid = release_id(bundle)
    script = install_script(remote_quote(root), rid, python, threads, lock_wait)
    tar = subprocess.Popen(["tar", "-cf", "-", "-C", str(bundle), "."], stdout=subprocess.PIPE)
    try:
        proc = _run(prefix, script, stdin=tar.stdout, timeout=300 + lock_wait)
    except subprocess.TimeoutExpired:
        return Result(label, False, rid, error="timed out; `current` is switched atomically: old or new, never partial")
    finally:
        tar.stdout.close()
        tar.wait()
    probe, marks = _marked(proc.stdout.decode(errors="replace"))
    if proc.returncode == CHECKSUM_FAILED:
        return Result(
            label, False, rid, error=f"checksum mismatch on the board ({_tail(proc)}); refused, `current` unchanged"
        )
    if proc.returncode in (LOCKED, NO_LOCK):
        return Result(label, False, rid, error=f"{_tail(proc)}; `current` unchanged")
    smoke, details = "smoke: skipped (local directory; run it on the board)", {}
    if python and "smoke" in marks:
        rc = int(marks["smoke"])
        smoke, details, failed = _smoke_outcome(
            subprocess.CompletedProcess(proc.args, rc, "\n".join(probe).encode(), proc.stderr), python
        )
        if failed:
            return Result(
                label,
                False,
                rid,
                smoke=smoke,
                details=details,
                error=f"{smoke}; release kept in releases/{rid}, `current` unchanged",
            )
    if proc.returncode != 0 or "previous" not in marks:
        stage = "switch" if "uploaded" in marks else "upload"
        return Result(label, False, rid, error=f"{stage} failed: {_tail(proc)}")
    return Result(label, True, rid, previous=marks["previous"].removeprefix("releases/"), smoke=smoke, details=details)


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
        return (
            f"smoke: skipped (no interpreter on host: {report.get('missing', 'numpy or TFLite missing')})",
            report,
            False,
        )
    if proc.returncode in (0, 1) and "match" in report:
        summary = f"smoke: {report['match']}/{report['images']} top-1 as on this machine ({report['interpreter']})"
        return summary, report, proc.returncode != 0
    return f"smoke: failed ({_tail(proc)})", report, True


def deploy(
    bundle: Path,
    hosts: list[str],
    ssh: SSH = SSH(),
    remote_dir: str = "sqz",
    python: str = "python3",
    threads: int = 4,
    workers: int = 8,
    lock_wait: int = LOCK_WAIT,
) -> list[Result]:
    """Install the bundle on every host in parallel; one Result per host, in the order given."""
    if not hosts:
        raise InputError("give at least one --host user@board (or --dest DIR for a mounted SD card)")
    distinct(hosts, ssh)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts)))) as pool:
        return list(pool.map(lambda h: install(bundle, ssh.argv(h), remote_dir, h, python, threads, lock_wait), hosts))


def deploy_local(bundle: Path, dest: Path, lock_wait: int = LOCK_WAIT) -> Result:
    """The same layout in a local directory (e.g. a mounted SD card's rootfs); no smoke test here."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: not a directory")
    return install(bundle, None, str(dest.resolve()), str(dest), None, 0, lock_wait)


def deploy_model(
    model: Path,
    target: str,
    hosts: list[str],
    dest: Path | None = None,
    ssh: SSH = SSH(),
    remote_dir: str = "sqz",
    python: str = "python3",
    images: list[Path] | None = None,
    os: str | None = None,
    log=lambda msg: None,
) -> list[Result]:
    """Bundle MODEL for TARGET on Debian `os` (in a temp directory) and install it on every host, or into DEST."""
    import tempfile

    from sqz.targets.bundle import build
    from sqz.targets.profiles import get

    profile = get(target, "linux")
    if bool(hosts) == bool(dest):
        raise InputError("give either --host user@board (one or more) or --dest DIR, not both")
    if hosts:
        distinct(hosts, ssh)
    with tempfile.TemporaryDirectory(prefix="sqz-bundle-") as tmp:
        bundle = build(Path(model), Path(tmp) / "bundle", profile, images=images, os_name=os, log=log)
        if dest:
            return [deploy_local(bundle, dest)]
        return deploy(bundle, hosts, ssh, remote_dir, python, profile.threads)


def rollback(
    hosts: list[str], ssh: SSH = SSH(), remote_dir: str = "sqz", workers: int = 8, lock_wait: int = LOCK_WAIT
) -> list[Result]:
    """Point `current` back at `previous` (and `previous` at what was current) on every host."""
    if not hosts:
        raise InputError("give at least one --host user@board (or --dest DIR)")
    distinct(hosts, ssh)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts)))) as pool:
        return list(pool.map(lambda h: _rollback_one(ssh.argv(h), remote_dir, h, lock_wait), hosts))


def rollback_local(dest: Path, lock_wait: int = LOCK_WAIT) -> Result:
    """Roll back a local directory written by `deploy_local`."""
    return _rollback_one(None, str(Path(dest).resolve()), str(dest), lock_wait)


def _rollback_one(prefix, root: str, label: str, lock_wait: int) -> Result:
    script = ROLLBACK.format(
        root=remote_quote(root), no_previous=NO_PREVIOUS, wait=int(lock_wait), locked=LOCKED, no_lock=NO_LOCK
    )
    try:
        proc = _run(prefix, script, timeout=60 + lock_wait)
    except subprocess.TimeoutExpired:
        return Result(label, False, error="timed out; `current` is switched atomically: old or new, never partial")
    if proc.returncode == NO_PREVIOUS:
        return Result(label, False, error="no previous release to roll back to")
    if proc.returncode in (LOCKED, NO_LOCK):
        return Result(label, False, error=f"{_tail(proc)}; `current` unchanged")
    if proc.returncode != 0:
        return Result(label, False, error=f"rollback failed: {_tail(proc)}")
    return Result(label, True, proc.stdout.decode().strip().removeprefix("releases/"))
