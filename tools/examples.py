"""Run the README's example commands and write their real output to docs/cli_examples.md.

python tools/examples.py   (after `sqz-export --int8`, which writes exports/default/)
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMMANDS = [
    "sqz run exports/default/model_int8.tflite docs/examples/ankle_boot.png docs/examples/shirt.png",
    "sqz run exports/default/model_int8.tflite.xz docs/examples/shirt.png --top 2",
    "sqz check exports/default/model_int8.tflite exports/default/model_float32.tflite --budget 0.5MB",
    "sqz check exports/default/model_int8.tflite --metric packed --budget 300KB",
    "sqz check exports/default/model_int8.tflite --budget 0.5MB --json",
    "sqz check exports/default/missing.tflite",
]


def main() -> int:
    out = []
    for cmd in COMMANDS:
        argv = shlex.split(cmd)
        argv[0] = str(BIN / argv[0])
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        shown = (r.stdout + r.stderr).rstrip()
        out += ["```", f"$ {cmd}", shown, f"$ echo $?", str(r.returncode), "```", ""]
    from sqz.files import write_text

    write_text(ROOT / "docs" / "cli_examples.md", "\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
