"""Refresh the generated blocks of README.md from the files commands wrote; never type a figure.

python tools/readme.py [--check]

A block is `<!-- generated: PATH -->` … `<!-- end generated -->`; its body becomes PATH's text.
`--check` exits 1 when the README is out of date with those files. bench/render.py refreshes its own
blocks through `update` too: the one place that rewrites README blocks.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- generated: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def refresh(text: str, paths: Iterable[str] | None = None) -> str:
    """`text` with each generated block (only those for `paths`, when given) set to its file's text."""
    only = None if paths is None else set(paths)

    def body(m: re.Match) -> str:
        if only is not None and m.group("path") not in only:
            return m.group(0)
        src = ROOT / m.group("path")
        content = src.read_text() if src.exists() else f"(run the command that writes {m.group('path')})\n"
        return m.group(1) + content.rstrip("\n") + "\n" + m.group(4)
    return BLOCK.sub(body, text)


def update(readme: Path = README, paths: Iterable[str] | None = None) -> None:
    """Refresh `readme` in place (atomically, and only when a block changed)."""
    from sqz.files import write_text

    old = readme.read_text()
    new = refresh(old, paths)
    if new != old:
        write_text(readme, new)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        old = README.read_text()
        if refresh(old) != old:
            print("README.md is out of date: run python tools/readme.py", file=sys.stderr)
            return 1
        return 0
    update()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
