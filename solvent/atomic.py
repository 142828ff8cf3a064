"""Atomic writes, shared by the repodata cache and the lockfile writers.

A reader (or a crash) sees either the old file or the whole new one, never a mix: the data goes to
a temporary file in the same directory, is flushed to disk, then renamed over the target.

``durable=False`` skips the flush to disk (``fsync``, a few milliseconds a file). The rename still
makes the write all-or-nothing for every other process; only a crash of the whole machine can
leave the new file short. That is right for files that are derived and checked when read (the
repodata cache: an index knows its own size, a payload its sha256, a state file is JSON), where
the worst a crash costs is a rebuild; a lockfile the user asked for is always flushed.

The temporary file is created as a plain ``open()`` creates a file (0666 less the umask), and a
rename keeps that mode; a file that is replaced passes its own mode on. A lockfile written by one
user must stay readable by the team and by a CI job.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _create_temp(target: Path) -> tuple[int, str]:
    """A new temporary file beside ``target``, created with mode 0666 so the umask applies as it
    does for ``open()`` (``tempfile.mkstemp`` would force 0600)."""
    while True:
        tmp = str(target.parent / f".{target.name}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, durable: bool = True) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if os.name != "nt":
            try:
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))  # a replaced file keeps its mode
            except FileNotFoundError:
                pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target
