"""Fuzz sqz's model loading: damaged and foreign files through the real commands; count what went wrong.

python tools/fuzz.py EXPORT_DIR CHECKPOINT [--cases 2000] [--seed 0] [--jobs 2] [--timeout 120]
                     [--json] [--write docs/reliability.md]

EXPORT_DIR is a real export (model_int8.tflite, model_float32.tflite, model.onnx, their .xz, manifest.json);
CHECKPOINT a real `sqz train` checkpoint. Each case damages one of them (truncation, bit flips, byte
insertion or deletion, zeroed, swapped or smashed regions; for .xz the container or the model inside)
or makes a foreign file (empty, PNG, text, random bytes, a sparse file over 2 GiB), then runs one
command on it: `sqz check FILE`, `sqz run FILE IMAGE` (beside a manifest rewritten to the damaged
file's sha256, so the bytes reach the validator and the interpreter) or checkpoint loading
(`sqz.train.checkpoint.load` behind the CLI's error handling). Each command runs in a forked child of
this process (its own process group, modules already imported) with a timeout, and is classified:
ok (exit 0), clean error (exit 1 or 2, one `sqz: error` line, no traceback), unclear error (exit 1 or 2
otherwise), traceback, crash (a signal, or another exit code) or hang (timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from fuzz_cases import HUGE, SEEDS, Fuzzer

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = ("ok", "clean error", "unclear error", "traceback", "crash", "hang")
BAD = ("unclear error", "traceback", "crash", "hang")


def child(cmd: list[str], out: Path) -> None:
    """In a forked child: run one command as the CLI would, stdout and stderr to files; never returns."""
    code = 70
    try:
        os.setpgid(0, 0)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            f = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        try:
            if cmd[0] == "checkpoint":
                from sqz.cli.base import friendly
                from sqz.train.checkpoint import load

                friendly(lambda: load(Path(cmd[1])))()
                code = 0
            else:
                from sqz.cli import main

                main(cmd, prog_name="sqz")
                code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def classify(status: int | None, out: Path) -> str:
    if status is None:
        return "hang"
    if os.WIFSIGNALED(status):
        return "crash"
    code = os.WEXITSTATUS(status)
    err = (out / "stderr").read_text(errors="replace")
    if "Traceback" in err:
        return "traceback"
    if code == 0:
        return "ok"
    if code not in (1, 2):
        return "crash"
    lines = [ln for ln in err.splitlines() if ln.startswith("sqz: error:")]
    return "clean error" if len(lines) == 1 else "unclear error"


def run(
    export_dir: Path,
    checkpoint: Path,
    cases: int = 2000,
    seed: int = 0,
    jobs: int = 2,
    timeout: float = 120,
    log=lambda msg: None,
) -> dict:
    """Run `cases` commands on damaged files; returns the tally and every bad case."""
    _preload()
    start = time.monotonic()
    tally = {o: 0 for o in OUTCOMES}
    by_artifact: dict[str, dict[str, int]] = {}
    by_command: dict[str, dict[str, int]] = {}
    messages: dict[str, int] = {}
    bad: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="sqz-fuzz-") as tmp:
        fz = Fuzzer(Path(export_dir), Path(checkpoint), Path(tmp), seed, timeout)
        queue: list[tuple[dict, list[str]]] = []
        running: dict[int, tuple[dict, list[str], Path, float]] = {}
        done, made, started = 0, 0, 0
        while done < cases:
            while len(running) < jobs and done + len(running) < cases:
                if not queue:
                    desc, cmds = fz.make(made)
                    made += 1
                    queue = [(desc, c) for c in cmds]
                desc, cmd = queue.pop(0)
                out = Path(tmp) / f"out{started:05d}"
                out.mkdir()
                started += 1
                pid = os.fork()
                if pid == 0:
                    child(cmd, out)
                running[pid] = (desc, cmd, out, time.monotonic() + timeout)
            for pid, (desc, cmd, out, deadline) in list(running.items()):
                got, status = os.waitpid(pid, os.WNOHANG)
                if not got and time.monotonic() < deadline:
                    continue
                if not got:
                    _kill_group(pid)
                    os.waitpid(pid, 0)
                    status = None
                else:
                    _kill_group(pid)
                del running[pid]
                outcome = classify(status, out)
                done += 1
                tally[outcome] += 1
                command = cmd[0]
                for table, key in ((by_artifact, desc["artifact"]), (by_command, command)):
                    table.setdefault(key, {o: 0 for o in OUTCOMES})[outcome] += 1
                err = (out / "stderr").read_text(errors="replace") if status is not None else ""
                if outcome == "clean error":
                    line = next(ln for ln in err.splitlines() if ln.startswith("sqz: error:"))
                    messages[_reason(line)] = messages.get(_reason(line), 0) + 1
                if outcome in BAD:
                    bad.append(
                        {
                            **desc,
                            "command": command,
                            "outcome": outcome,
                            "status": status,
                            "stderr_tail": err.strip().splitlines()[-5:],
                        }
                    )
                    keep = ROOT / "build" / "fuzz-failures" / f"case{len(bad):04d}"
                    shutil.copytree(
                        Path(cmd[1]).parent,
                        keep,
                        dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if os.path.getsize(os.path.join(d, n)) > HUGE - 1],
                    )
                if done % 100 == 0:
                    log(f"{done}/{cases} cases: " + ", ".join(f"{k} {v}" for k, v in tally.items() if v))
            if running:
                time.sleep(0.005)
    return {
        "cases": cases,
        "seed": seed,
        "export_dir": str(export_dir),
        "checkpoint": str(checkpoint),
        "jobs": jobs,
        "timeout_s": timeout,
        "seconds": round(time.monotonic() - start, 1),
        "outcomes": tally,
        "crashes": tally["crash"],
        "tracebacks": tally["traceback"],
        "hangs": tally["hang"],
        "unclear": tally["unclear error"],
        "by_artifact": by_artifact,
        "by_command": by_command,
        "reasons": dict(sorted(messages.items(), key=lambda kv: -kv[1])),
        "bad": bad,
        "environment": _environment(),
    }


def _reason(line: str) -> str:
    """The kind of a clean error, without the file name: `sqz: error: PATH: what` → `what` up to `(`."""
    text = line.split(": ", 3)[-1]
    return text.split(" (")[0].split(";")[0][:70]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _preload() -> None:
    """Import what the commands import, once, so each forked case starts at once."""
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import torch  # noqa: F401

    import sqz.cli  # noqa: F401
    import sqz.gate  # noqa: F401
    import sqz.runtime.onnx  # noqa: F401
    import sqz.runtime.tflite  # noqa: F401
    import sqz.train.checkpoint  # noqa: F401
    from sqz.runtime.interpreters import tflite_interpreter_class

    tflite_interpreter_class()


def _environment() -> dict:
    from importlib.metadata import version

    from sqz.runtime.interpreters import tflite_interpreter_class

    name, _ = tflite_interpreter_class()
    pkgs = {"ai-edge-litert": "ai-edge-litert", "tflite-runtime": "tflite-runtime", "tensorflow": "tensorflow"}
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "interpreter": f"{name} {version(pkgs[name])}",
        "onnxruntime": version("onnxruntime"),
        "onnx": version("onnx"),
        "torch": version("torch"),
    }


def markdown(r: dict) -> str:
    """The Reliability block of docs/robustness.md, rendered from the run's figures."""
    env = r["environment"]
    head = ["artifact"] + list(OUTCOMES)
    md = [
        f"{r['cases']:,} cases (seed {r['seed']}, {r['seconds']:,.0f} s, {r['jobs']} at a time, "
        f"timeout {r['timeout_s']:.0f} s each): **{r['crashes']} crashes, {r['tracebacks']} tracebacks, "
        f"{r['hangs']} hangs**, {r['unclear']} errors without one clear line.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for table in (r["by_artifact"], r["by_command"]):
        for key, row in sorted(table.items()):
            label = key if table is r["by_artifact"] else f"command: `{_command_label(key)}`"
            md.append("| " + " | ".join([label] + [f"{row[o]:,}" for o in OUTCOMES]) + " |")
    md += [
        "",
        "Most frequent clean errors: " + "; ".join(f"{k} ({v:,})" for k, v in list(r["reasons"].items())[:6]) + ".",
        "",
        f"Damaged inputs: {', '.join(f'`{n}`' for n in sorted(set(SEEDS.values())))} of the export "
        f"`{r['export_dir']}` and the checkpoint `{r['checkpoint']}`.",
        "",
        f"Run with {env['interpreter']}, onnxruntime {env['onnxruntime']}, onnx {env['onnx']}, torch "
        f"{env['torch']}, Python {env['python']} on {env['machine']}, by `python tools/fuzz.py` "
        f"(`--cases {r['cases']} --seed {r['seed']}`).",
    ]
    return "\n".join(md) + "\n"


def _command_label(key: str) -> str:
    return {"check": "sqz check", "run": "sqz run", "checkpoint": "checkpoint load"}.get(key, key)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--json", action="store_true", help="print the whole result as JSON")
    ap.add_argument("--write", type=Path, help="write the Markdown summary here (e.g. docs/reliability.md)")
    args = ap.parse_args(argv)
    r = run(
        args.export_dir,
        args.checkpoint,
        args.cases,
        args.seed,
        args.jobs,
        args.timeout,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    if args.write:
        from sqz.files import write_text

        write_text(args.write, markdown(r))
    print(json.dumps(r, indent=2) if args.json else markdown(r))
    return 1 if any(r[k] for k in ("crashes", "tracebacks", "hangs", "unclear")) else 0


if __name__ == "__main__":
    raise SystemExit(main())
