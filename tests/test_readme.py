"""The README's figures are generated from files that commands wrote, and are up to date with them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_blocks_match_their_sources():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = (ROOT / "README.md").read_text()
    assert text.count("<!-- generated: ") >= 2
    for line in text.splitlines():
        if line.startswith("<!-- generated: "):
            assert (ROOT / line.split()[2]).exists(), line
