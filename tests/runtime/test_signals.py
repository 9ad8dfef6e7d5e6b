"""Signals held over a step: noted during it, acted on after it."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sqz.runtime.signals import held


def test_signals_during_a_held_block_wait_until_it_is_done():
    """Ctrl-C and SIGTERM (as the CLI turns it into KeyboardInterrupt) that land in the block let it finish,
    then act; the handlers in place before are back afterwards."""
    from sqz.cli.base import _terminate

    before = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            done = []
            with pytest.raises(KeyboardInterrupt):
                with held():
                    os.kill(os.getpid(), sig)
                    time.sleep(0.05)
                    done.append(sig)
            assert done == [sig]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is _terminate
        with held():
            pass
    finally:
        signal.signal(signal.SIGTERM, before)


@pytest.mark.parametrize("guarded", [True, False])
def test_a_sigterm_in_the_after_fork_hooks_of_isolated_is_not_lost(guarded):
    """A SIGTERM whose handler runs inside os.fork's after-fork hooks (as when it lands during the fork of a
    large process) interrupts `isolated`; without `held` the hook swallows the KeyboardInterrupt."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        import sqz.runtime.isolate as iso
        from sqz.cli.base import _terminate
        if not {guarded}:
            from contextlib import nullcontext
            iso.held = nullcontext
        signal.signal(signal.SIGTERM, _terminate)
        def hook():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                time.sleep(0)
        os.register_at_fork(after_in_parent=hook)
        try:
            iso.isolated(lambda: None, "m.tflite")
        except KeyboardInterrupt:
            sys.exit(130)
        sys.exit(0)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == (130 if guarded else 0), r.stderr
    if not guarded:
        assert "KeyboardInterrupt" in r.stderr  # printed as "Exception ignored in", then lost
