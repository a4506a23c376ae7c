"""A dependency-free progress bar on stderr, shown only when stderr is a terminal.

It is silent in CI (``CI`` or ``GITHUB_ACTIONS`` set), when output is redirected, and when the
caller disables it, so logs and machine-readable output never contain carriage returns.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

BAR_WIDTH = 30
MIN_INTERVAL = 0.1  # seconds between redraws


def should_show(stream: TextIO | None = None, environ: dict[str, str] | None = None) -> bool:
    """True when a progress bar belongs on ``stream``: a terminal, and not in CI."""
    env = os.environ if environ is None else environ
    if env.get("CI") or env.get("GITHUB_ACTIONS"):
        return False
    target = sys.stderr if stream is None else stream
    try:
        return target.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """``update(done, total, label)`` redraws one line; ``close()`` clears it."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, total: int, label: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < MIN_INTERVAL:
            return
        self._last = now
        filled = BAR_WIDTH if total <= 0 else int(BAR_WIDTH * min(done, total) / total)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {label[:40]:<40}")
        self.stream.flush()
        self._drawn = True

    def message(self, label: str) -> None:
        if not self.enabled:
            return
        self.stream.write(f"\r{label[:78]:<78}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()
            self._drawn = False
