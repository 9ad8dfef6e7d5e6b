import os
import signal
import time

import pytest

from sqz.errors import ModelFileError
from sqz.runtime.isolate import isolated


def test_isolated_turns_a_native_crash_or_hang_into_an_error():
    with pytest.raises(ModelFileError, match=r"m\.tflite: the interpreter crashed \(SIGSEGV\)"):
        isolated(lambda: os.kill(os.getpid(), signal.SIGSEGV), "m.tflite")
    with pytest.raises(ModelFileError, match="did not finish within 1 s"):
        isolated(lambda: time.sleep(30), "m.tflite", timeout=1)
    assert isolated(lambda: None, "m.tflite") is True
    assert isolated(lambda: 1 / 0, "m.tflite") is False
