"""Run the example commands of docs/commands.md and write their real output to docs/cli_examples.md.

python tools/examples.py   (after `sqz-export --int8`, which writes exports/default/)
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    "sqz run exports/default/model_int8.tflite docs/examples/ankle_boot.png docs/examples/shirt.png",
    "sqz run exports/default/model_int8.tflite.xz docs/examples/shirt.png --top 2",
    "sqz check exports/default/model_int8.tflite exports/default/model_float32.tflite --budget 0.5MB",
    "sqz check exports/default/model_int8.tflite --metric packed --budget 300KB",
    "sqz check exports/default/model_int8.tflite --budget 0.5MB --json",
    "sqz check exports/default/missing.tflite",
]


def render(cwd: Path = ROOT) -> str:
    """Each command run in `cwd` (which holds exports/default and docs/examples) by this checkout's sqz."""
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    out = []
    for cmd in COMMANDS:
        argv = [sys.executable, "-m", "sqz.cli", *shlex.split(cmd)[1:]]
        r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
        shown = (r.stdout + r.stderr).rstrip()
        out += ["```", f"$ {cmd}", shown, "$ echo $?", str(r.returncode), "```", ""]
    return "\n".join(out)


def main() -> int:
    from sqz.files import write_text

    write_text(ROOT / "docs" / "cli_examples.md", render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
