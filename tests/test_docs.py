"""The documentation site builds with warnings as errors, and that setting catches what it should: a broken link,
a missing anchor or a page left out of the nav fails the build."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        cwd=config.parent,
    )


def test_site_builds_strict(tmp_path):
    r = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert r.returncode == 0, r.stderr
    for page in ["index.html", "setup/index.html", "micro/index.html", "training/index.html"]:
        assert (tmp_path / "site" / page).exists(), page


def test_readme_links_reach_existing_pages():
    """The README links into docs/ (GitHub renders them); each target exists and is a page of the site."""
    import re

    nav = (ROOT / "mkdocs.yml").read_text()
    for target in re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text()):
        assert (ROOT / target).exists(), target
        assert target.endswith(".md") and target.removeprefix("docs/") in nav, target


def test_strict_build_fails_on_a_broken_link_or_an_orphan_page(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "docs" / "orphan.md").write_text("# Not in the nav\n")
    r = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0 and "orphan.md" in r.stderr
    (tmp_path / "docs" / "orphan.md").unlink()
    with (tmp_path / "docs" / "setup.md").open("a") as f:
        f.write("\n[gone](nowhere.md) and [no anchor](export.md#no-such-heading)\n")
    r = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert r.returncode != 0 and "nowhere.md" in r.stderr and "no-such-heading" in r.stderr
