"""Refresh the generated blocks of README.md and the docs pages from the files commands wrote; never type a figure.

python tools/readme.py [--check]

A block is `<!-- generated: PATH -->` … `<!-- end generated -->`; its body becomes PATH's text. The pages
scanned are README.md and every Markdown file under docs/ that holds a block. Generated files are written
for the repository root (`![plot](docs/bench/latency.png)`), so a relative link in a block is rebased onto
the page's folder (`bench/latency.png` in docs/performance.md); in README.md it stays as written.
`--check` exits 1 when a page is out of date with those files. bench/render.py and bench/small_sets.py
refresh their own blocks through `update` too: the one place that rewrites generated blocks.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MARK = "<!-- generated: "
BLOCK = re.compile(r"(<!-- generated: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)
LINK = re.compile(r"(\]\()([^)\s]+)(\))")  # [text](target) and ![alt](target)


def pages() -> list[Path]:
    """README.md and each Markdown file under docs/ that holds a generated block."""
    docs = sorted(p for p in DOCS.rglob("*.md") if MARK in p.read_text())
    return [README, *docs]


def rebase(text: str, page: Path) -> str:
    """`text`, written for the repository root, with its relative links pointing the same place from `page`."""

    def link(m: re.Match) -> str:
        target = m.group(2)
        if target.startswith(("#", "/")) or re.match(r"[a-z][a-z0-9+.-]*:", target):
            return m.group(0)
        rel = os.path.relpath(ROOT / target, page.parent).replace(os.sep, "/")
        return m.group(1) + rel + m.group(3)

    return LINK.sub(link, text)


def refresh(text: str, paths: Iterable[str] | None = None, page: Path = README) -> str:
    """`text` (the page `page`) with each generated block (only those for `paths`, when given) set to its
    file's text."""
    only = None if paths is None else set(paths)

    def body(m: re.Match) -> str:
        if only is not None and m.group("path") not in only:
            return m.group(0)
        src = ROOT / m.group("path")
        content = src.read_text() if src.exists() else f"(run the command that writes {m.group('path')})\n"
        return m.group(1) + rebase(content.rstrip("\n"), page) + "\n" + m.group(4)

    return BLOCK.sub(body, text)


def update(readme: Path | None = None, paths: Iterable[str] | None = None) -> None:
    """Refresh `readme` (by default every page) in place, atomically and only where a block changed."""
    from sqz.files import write_text

    for page in pages() if readme is None else [readme]:
        old = page.read_text()
        new = refresh(old, paths, page)
        if new != old:
            write_text(page, new)


def stale() -> list[Path]:
    """The pages whose blocks differ from their files."""
    return [p for p in pages() if refresh(p.read_text(), page=p) != p.read_text()]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        old = stale()
        for page in old:
            print(f"{page.relative_to(ROOT)} is out of date: run python tools/readme.py", file=sys.stderr)
        return 1 if old else 0
    update()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
