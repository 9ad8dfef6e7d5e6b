"""Ctrl-C and SIGTERM held over a short step that must not be cut, or whose interruption would be lost."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager


@contextmanager
def held():
    """Note Ctrl-C and SIGTERM during the block and act on them after it.

    Python runs signal handlers in the main thread whichever thread the kernel picked, so the handlers are
    swapped for ones that only note the signal (a mask would not hold with other threads running)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: noted.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if noted:
            handler = old[noted[0]]
            if callable(handler):
                handler(noted[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), noted[0])
