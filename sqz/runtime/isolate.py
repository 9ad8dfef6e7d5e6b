"""Run a first load by native code in a forked child, so a crash or hang there is an error, not the end of sqz."""

from __future__ import annotations

import faulthandler
import os
import signal
import time

from sqz.errors import ModelFileError
from sqz.runtime.signals import held


def _child(fn) -> None:
    """The forked child: run `fn` with its output discarded and exit 0 if it returned, 1 if not."""
    code = 1
    try:
        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        fn()
        code = 0
    finally:
        os._exit(code)


def isolated(fn, path, timeout: float = 60.0) -> bool:
    """Run `fn()` (a first load by native code) in a forked child; a crash or hang is a ModelFileError.

    True when `fn` returned. False when it raised (the caller's own load then reports the error) or
    where fork is missing (then `fn` is not run and the caller's load goes ahead unguarded).
    """
    if not hasattr(os, "fork"):
        return False
    pid = 0
    try:
        with held():  # a Ctrl-C or SIGTERM landing in fork's after-fork hooks would be swallowed there
            pid = os.fork()
            if pid == 0:
                _child(fn)
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                raise ModelFileError(f"{path}: loading it did not finish within {timeout:.0f} s; the file is damaged")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    except BaseException:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise ModelFileError(
            f"{path}: the interpreter crashed ({name}) loading it; the file is damaged "
            "or not a model this interpreter can run"
        )
    return os.WEXITSTATUS(status) == 0
