"""The cache entry lock: other processes are kept out, threads wait, the holder may re-enter, and
a holder that dies releases the lock (no stale lock files)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from solvent.channels.locking import EntryFileLock, LockTimeout

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX lock (Windows uses filelock)")

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def hold_in_other_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``path``'s lock (as filelock or another solvent would)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_other_process_keeps_it_out_until_it_dies(tmp_path: Path) -> None:
    path = tmp_path / "e.lock"
    with hold_in_other_process(path) as proc:
        t0 = time.monotonic()
        with pytest.raises(LockTimeout):
            EntryFileLock(path, timeout=0.2).acquire()
        assert time.monotonic() - t0 >= 0.2
        proc.kill()  # a crash, not a release: the kernel frees the lock
        proc.wait()
        lock = EntryFileLock(path, timeout=2)
        with lock:
            assert lock._depth == 1


def test_reentrant_in_one_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    lock = EntryFileLock(tmp_path / "e.lock", timeout=5)
    order: list[str] = []
    with lock:
        with lock:  # the holder may enter again
            order.append("outer")

        def other() -> None:
            with EntryFileLock(tmp_path / "e.lock", timeout=5):
                order.append("other")

        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.2)
        order.append("released")
    t.join(5)
    assert order == ["outer", "released", "other"]
    with pytest.raises(RuntimeError):
        lock.release()


def test_timeout_in_another_thread_of_the_same_lock(tmp_path: Path) -> None:
    lock = EntryFileLock(tmp_path / "e.lock", timeout=0.1)
    errors: list[BaseException] = []
    with lock:

        def other() -> None:
            try:
                lock.acquire()
            except LockTimeout as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join(5)
    assert len(errors) == 1
