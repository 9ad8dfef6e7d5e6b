"""The training curves: matplotlib is loaded whole even when Ctrl-C or SIGTERM arrives during its first import."""

import subprocess
import sys

CODE = """
import os, signal, sys

class SignalDuringImport:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib.ft2font":
            os.kill(os.getpid(), signal.SIGTERM)
        return None

def stop(signum, frame):
    raise KeyboardInterrupt

sys.meta_path.insert(0, SignalDuringImport())
signal.signal(signal.SIGTERM, stop)
from sqz.train.history import figure_class
try:
    figure_class()
except KeyboardInterrupt:
    print("stopped after the import:", "matplotlib.ft2font" in sys.modules)
    sys.exit(130)
print("not stopped")
"""


def test_a_signal_during_matplotlibs_first_import_stops_the_run_after_it():
    """A SIGTERM inside the import of matplotlib's C extension once aborted Python (exit -6) at an epoch's end."""
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 130, r.stdout + r.stderr[-2000:]
    assert "stopped after the import: True" in r.stdout
