"""When an export does not fit: the routes that would, in the export report and from `sqz check` (exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqz.export.report import verdict_lines
from sqz.fit import routes
from sqz.fit.size import serialised
from sqz.train.arch import ArchConfig


def _write(path: Path, cfg: ArchConfig, size: int) -> Path:
    """A .tflite with the exported structure of `cfg` (zero weights) — the bytes sqz-export would write."""
    path.write_bytes(serialised(cfg, size))
    return path


def test_routes_for_224_rgb_all_fit():
    found = routes.routes(ArchConfig(num_classes=10, in_channels=3), 224, 500_000, packed_bytes=480_000)
    kinds = [r["route"] for r in found]
    assert kinds[0] == "budget-trained metaparameters" and "packed metric" in kinds
    assert any(k.startswith("input ") for k in kinds)
    assert "channels pruned to fit" in kinds and "INT4 conv weights" in kinds
    assert all(r["bytes"] <= 500_000 for r in found)


def test_routes_leave_out_what_cannot_reach_the_budget():
    """1000 classes at 224²: INT4 (735,920 B) does not fit 500,000 B, and nothing fits 50,000 B."""
    cfg = ArchConfig(num_classes=1000, in_channels=3)
    kinds = [r["route"] for r in routes.routes(cfg, 224, 500_000)]
    assert "INT4 conv weights" not in kinds and "channels pruned to fit" in kinds
    assert routes.routes(cfg, 224, 50_000) == []


def test_report_lists_the_routes_under_the_verdict():
    rep = {
        "gate": {
            "budget": 500_000,
            "metric": "file",
            "target": None,
            "artifacts": {
                "model_int8.tflite": {
                    "bytes": 819_424,
                    "fits": False,
                    "over_bytes": 319_424,
                    "over_percent": 63.9,
                    "packed_bytes": 757_836,
                    "file_fits": False,
                    "packed_fits": False,
                }
            },
            "routes": [{"route": "budget-trained metaparameters", "bytes": 498_984, "how": "sqz train --budget"}],
        }
    }
    text = "\n".join(verdict_lines(rep["gate"]))
    assert "would fit 500,000 B: budget-trained metaparameters — 498,984 B" in text


def _check(*paths):
    return subprocess.run([sys.executable, "-m", "sqz.cli", "check", *map(str, paths)], capture_output=True, text=True)


def test_check_prints_the_routes_on_exit_1(tmp_path):
    """From the manifest beside the file (its arch) and, with no manifest, from the file itself."""
    cfg = ArchConfig(num_classes=10, in_channels=3)
    export = tmp_path / "export"
    export.mkdir()
    f = _write(export / "model_int8.tflite", cfg, 224)
    (export / "manifest.json").write_text(
        json.dumps({"arch": cfg.to_dict(), "preprocess": {"size": 224}, "artifacts": {"model_int8.tflite": {}}})
    )
    lone = _write(tmp_path / "lone.tflite", cfg, 224)
    for path in (f, lone):
        r = _check(path)
        assert r.returncode == 1, r.stderr
        assert "FAIL" in r.stdout and "would fit 500,000 B: budget-trained metaparameters" in r.stdout
        assert "sqz train --arch 1.1 --budget 500000B" in r.stdout
    r = _check(_write(tmp_path / "small.tflite", ArchConfig(num_classes=10, in_channels=1), 32))
    assert r.returncode == 0 and "would fit" not in r.stdout


def test_a_lone_file_tells_its_bypass(tmp_path):
    """No manifest: ADD ops mark a bypass, extra CONV_2Ds (the 1x1 skips) the complex one."""
    for arch in ("1.1", "1.1-bypass", "1.1-complex", "1.0-complex"):
        cfg = ArchConfig.named(arch, num_classes=10, in_channels=3)
        found, size = routes.describe_file(_write(tmp_path / f"{arch}.tflite", cfg, 96))
        assert (found.name, size) == (arch, 96)
