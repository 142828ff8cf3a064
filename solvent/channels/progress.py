"""A one-line progress display on stderr, shown only to a human at a terminal.

A progress-bar dependency is not worth it for "3/8 subdirs"; pipes, CI logs and library callers get
silence (``quiet=True`` is the library default).
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    """Counts finished steps and redraws a single stderr line while work is under way."""

    def __init__(self, total: int | None, label: str, *, quiet: bool = True, stream: TextIO | None = None) -> None:
        """``total`` None: the amount of work is not known up front (an index walk), so the line
        counts steps without a denominator."""
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = not quiet and (total is None or total > 0) and bool(isatty and isatty())
        self.total = total
        self.done = 0
        self.label = label
        self._lock = threading.Lock()
        self._width = 0

    def step(self, what: str = "") -> None:
        with self._lock:
            self.done += 1
            if self.enabled:
                count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
                line = f"{self.label} {count} {what}"[:100]
                pad = max(0, self._width - len(line))
                self._width = len(line)
                self.stream.write("\r" + line + " " * pad)
                self.stream.flush()

    def close(self) -> None:
        with self._lock:
            if self.enabled and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0
