"""Refresh the generated blocks of README.md from the files commands wrote; never type a figure.

python tools/readme.py [--check]

A block is `<!-- generated: PATH -->` … `<!-- end generated -->`; its body becomes PATH's text.
`--check` exits 1 when the README is out of date with those files.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- generated: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def refresh(text: str) -> str:
    def body(m: re.Match) -> str:
        src = ROOT / m.group("path")
        content = src.read_text() if src.exists() else f"(run the command that writes {m.group('path')})\n"
        return m.group(1) + content.rstrip("\n") + "\n" + m.group(4)
    return BLOCK.sub(body, text)


def main(argv: list[str]) -> int:
    readme = ROOT / "README.md"
    old = readme.read_text()
    new = refresh(old)
    if "--check" in argv:
        if new != old:
            print("README.md is out of date: run python tools/readme.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
