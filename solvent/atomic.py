"""Atomic writes, shared by the repodata cache and the lockfile writers.

A reader (or a crash) sees either the old file or the whole new one, never a mix: the data goes to
a temporary file in the same directory, is flushed to disk, then renamed over the target.

The temporary file is created with mode 0600, and a rename keeps that mode, so the final file gets
the mode a plain ``open()`` would have given it (0666 less the umask), or the mode of the file it
replaces: a lockfile written by one user must stay readable by the team and by a CI job.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def _current_umask() -> int:
    """The process umask: reading it means setting it, so writers in other threads are held off."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _final_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if os.name != "nt":
            os.chmod(tmp, _final_mode(target))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target
