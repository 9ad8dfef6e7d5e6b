"""The code is formatted and lint-clean by the rules in pyproject.toml's [tool.ruff] (`ruff format`, `ruff check`)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREES = ["sqz", "tests", "bench", "tools"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is missing: pip install -e '.[dev]' (make test does)")
    return subprocess.run([exe, *args, *TREES], cwd=ROOT, capture_output=True, text=True)


def test_lint_is_clean():
    r = _ruff("check", "--output-format", "concise")
    assert r.returncode == 0, r.stdout[-3000:]


def test_format_is_clean():
    r = _ruff("format", "--check")
    assert r.returncode == 0, r.stdout[-3000:]
