"""Progress bars on a terminal only: a log file or a CI job gets the one line per epoch, not carriage-return
frames (a 28² run once wrote 626 KB of them)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(iterable=None, enabled: bool = True, **kw) -> tqdm:
    """A tqdm bar over `iterable`, drawn only when `enabled` and stderr is a terminal."""
    return tqdm(iterable, disable=not (enabled and sys.stderr.isatty()), **kw)
