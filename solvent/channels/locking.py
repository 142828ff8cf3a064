"""The cross-process lock of one cache entry.

On POSIX it is ``fcntl.flock`` on the entry's ``.lock`` file, polled until a timeout: the kernel
drops the lock when its holder dies, so a crashed process never leaves a stale lock, and it is the
same lock filelock takes on POSIX, so the two interoperate. On Windows it is filelock's.

Why not filelock everywhere: importing it (3.20 and later) imports asyncio, 50-80 ms, which is a
fifth of a whole cold solve on a small channel and more than the solve itself. The POSIX lock is a
dozen lines of the standard library; Windows keeps the library (``msvcrt`` byte-range locks have
enough corner cases to be worth it there).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

POLL_S = 0.05


class LockTimeout(TimeoutError):
    """The lock stayed held by another process (or thread) past the timeout."""


class EntryFileLock:
    """A re-entrant (per thread) lock that also excludes other processes.

    Threads of one process wait on an in-process lock first (blocking, not polling the file), and
    the thread that holds it may enter again, as with filelock.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._win: Any = None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=max(self.timeout, 0.0)):
            raise LockTimeout(f"{self.path}: held by another thread")
        try:
            if self._depth == 0:
                self._lock_file(deadline)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        if self._depth <= 0:
            raise RuntimeError(f"{self.path}: released more often than acquired")
        self._depth -= 1
        try:
            if self._depth == 0:
                self._unlock_file()
        finally:
            self._thread_lock.release()

    def __enter__(self) -> EntryFileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # --- the file lock -----------------------------------------------------------------------------

    def _lock_file(self, deadline: float) -> None:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import filelock

            self._win = filelock.FileLock(str(self.path), timeout=max(deadline - time.monotonic(), 0.0))
            try:
                self._win.acquire()
            except filelock.Timeout as exc:
                raise LockTimeout(f"{self.path}: held by another process") from exc
            return
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(f"{self.path}: held by another process") from None
                    time.sleep(POLL_S)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _unlock_file(self) -> None:
        if self._win is not None:  # pragma: no cover - Windows
            self._win.release()
            self._win = None
            return
        if self._fd is not None:
            import fcntl

            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
