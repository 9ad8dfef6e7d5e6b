"""Progress bars only on a terminal: `sqz train` into a log (stderr a pipe) writes its epoch lines and no
carriage-return frames; on a terminal the bar is drawn."""

import subprocess
import sys

from sqz.train import progress


def test_training_into_a_log_writes_no_bar_frames(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqz.cli",
            "train",
            "--data",
            "fashion-mnist",
            "--epochs",
            "2",
            "--limit",
            "256",
            "--batch-size",
            "32",
            "--workers",
            "0",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-1000:]
    log = r.stdout + r.stderr
    assert "\r" not in log and "it/s" not in log and "batch/s" not in log
    assert "epoch 1/2" in log and "epoch 2/2" in log


def test_the_bar_is_drawn_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert not progress.bar(range(3), True).disable
    assert progress.bar(range(3), False).disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress.bar(range(3), True).disable
