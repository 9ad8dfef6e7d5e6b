"""SIGTERM while the TFLite files are written and during evaluation: the previous export stays intact, nothing
partial is left."""

import shutil
import signal
import subprocess
import sys
import time

import pytest

from sqz.runtime.manifest import sha256


@pytest.mark.parametrize("marker", ["TFLite: writing", "Evaluating"])
def test_sigterm_at_a_stage_keeps_the_previous_export(tiny_export, tiny_run, marker, tmp_path):
    out = shutil.copytree(tiny_export[0], tmp_path / "out")  # a failure must not change the shared export
    before = {p.name: sha256(p) for p in out.iterdir()}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "export",
            str(tiny_run / "model.pt"),
            "--int8",
            "--calib",
            "3000",
            "--eval-limit",
            "3000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(marker):
            break
    assert seen and seen[-1].startswith(marker), "".join(seen)
    time.sleep(0.3)
    assert proc.poll() is None, "the export finished before the signal; give it more work"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert {p.name: sha256(p) for p in out.iterdir()} == before
