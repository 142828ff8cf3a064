"""The on-disk repodata cache: one file set per subdir URL, written atomically under a file lock.

Layout under the cache root (``$SOLVENT_CACHE_DIR``, the ``cache_dir`` argument, or
``platformdirs.user_cache_dir("solvent")``)::

    repodata/<key>.state.json     url, etag, last_modified, cache_control, size, sha256, fetched_at
    repodata/<key>.json           the decoded repodata.json payload (http channels only)
    repodata/<key>.idx            the per-name index built once from the payload (see repodata.py)
    repodata/<key>.shards.msgpack the decoded CEP-16 shard index, when the channel is sharded
    repodata/<key>.lock           the cross-process lock of the entry
    shards/<hh>/<sha256>.msgpack.zst  CEP-16 shards, content-addressed, so never stale

``<key>`` hashes the secret-free subdir URL, so no token reaches a file name, and two tokens for one
channel share an entry. The state file is written last: it is the commit point, so a reader never
sees a state that points at a half-written payload, and a failed download leaves the old entry whole.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from ..atomic import write_atomic
from ..errors import CacheError
from .locking import EntryFileLock, LockTimeout
from .redact import redact

CACHE_ENV = "SOLVENT_CACHE_DIR"
STATE_VERSION = 1


def default_cache_dir() -> Path:
    """``$SOLVENT_CACHE_DIR`` or the per-user cache directory of the OS."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs  # 3 ms that a given cache directory never needs

    return Path(platformdirs.user_cache_dir("solvent"))


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` so readers see either the old file or the whole new one, never a mix.

    The cache's own files pass ``durable=False``: each is checked when read (see
    :func:`solvent.atomic.write_atomic`), so a crash costs a rebuild, not a wrong answer, and the
    flush would cost every cold solve a few milliseconds per subdir."""
    write_atomic(path, data, durable=durable)


def sha256_hex(data: bytes) -> str:
    import hashlib  # OpenSSL's sha256, the fast one for payloads; loading it costs about 2 ms

    return hashlib.sha256(data).hexdigest()


def _url_key(url: str) -> str:
    """The entry's name: the start of the URL's sha256.

    A local solve hashes nothing else, and loading OpenSSL for ``hashlib`` costs about 2 ms of
    every command, so a URL is hashed with the interpreter's own sha256 module when it has one
    (CPython's ``_sha2``, ``_sha256`` before 3.12: 0.1-0.2 ms to load, the same digest).
    """
    try:
        if sys.version_info >= (3, 12):
            from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
        else:
            from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from hashlib import sha256
    return str(sha256(url.encode("utf-8")).hexdigest()[:24])


class CacheEntry:
    """The file set of one subdir URL; every mutation happens while holding :meth:`lock`."""

    def __init__(self, directory: Path, url: str, lock_timeout: float) -> None:
        self.url = redact(url)
        self.key = _url_key(url)
        self.directory = directory
        self.state_path = directory / f"{self.key}.state.json"
        self.payload_path = directory / f"{self.key}.json"
        self.index_path = directory / f"{self.key}.idx"
        self.shard_index_path = directory / f"{self.key}.shards.msgpack"
        self._lock_path = directory / f"{self.key}.lock"
        self._file_lock: EntryFileLock | None = None
        self._lock_timeout = lock_timeout

    @property
    def _lock(self) -> EntryFileLock:
        if self._file_lock is None:
            self._file_lock = EntryFileLock(self._lock_path, timeout=self._lock_timeout)
        return self._file_lock

    def lock(self) -> _EntryLock:
        """Cross-process (and cross-thread) exclusive lock of this entry."""
        return _EntryLock(self)

    def read_state(self) -> dict[str, Any]:
        """The entry's state, or ``{}`` when absent or unreadable (then it is simply refetched)."""
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            return {}
        return state

    def write_state(self, state: dict[str, Any]) -> None:
        state = dict(state, version=STATE_VERSION, url=self.url)
        text = json.dumps(state, indent=1, sort_keys=True)
        # Belt and braces: nothing written to the cache may carry a secret.
        atomic_write(self.state_path, redact(text).encode("utf-8"), durable=False)

    def write(self, path: Path, data: bytes) -> None:
        atomic_write(path, data, durable=False)


class _EntryLock:
    def __init__(self, entry: CacheEntry) -> None:
        self.entry = entry
        self.held = False

    def __enter__(self) -> CacheEntry:
        self.held = False
        try:
            self.entry._lock.acquire()
            self.held = True
        except LockTimeout as exc:  # before OSError: LockTimeout is a TimeoutError
            raise CacheError(
                f"timed out after {self.entry._lock_timeout:.0f}s waiting for the cache lock of "
                f"{self.entry.url} ({self.entry.directory})"
            ) from exc
        except OSError:
            # A read-only cache (a shared, pre-filled directory) is still readable without a lock;
            # writes will fail loudly instead.
            if os.access(self.entry.directory, os.W_OK):
                raise
        return self.entry

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.entry._lock.release()


class RepodataCache:
    """Where fetched repodata and shards live between runs."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None, *, lock_timeout: float = 600.0) -> None:
        self.root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.repodata_dir = self.root / "repodata"
        self.shards_dir = self.root / "shards"
        self.lock_timeout = lock_timeout
        self._writable: bool | None = None

    def __repr__(self) -> str:
        return f"RepodataCache({str(self.root)!r})"

    @property
    def writable(self) -> bool:
        """Whether entries can be created; a read-only cache still serves what it holds."""
        if self._writable is None:
            try:
                self.repodata_dir.mkdir(parents=True, exist_ok=True)
                self.shards_dir.mkdir(parents=True, exist_ok=True)
                probe = self.repodata_dir / f".probe.{os.getpid()}.{os.urandom(4).hex()}"
                os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                os.unlink(probe)
                self._writable = True
            except OSError:
                self._writable = False
        return self._writable

    def entry(self, url: str) -> CacheEntry:
        """The entry of a secret-free subdir URL."""
        if not self.writable and not self.repodata_dir.is_dir():
            raise CacheError(f"cache directory {self.root} cannot be created")
        return CacheEntry(self.repodata_dir, url, self.lock_timeout)

    # Shards are immutable and named by their hash: no lock is needed, atomic rename suffices.
    def shard_path(self, sha256: str) -> Path:
        return self.shards_dir / sha256[:2] / f"{sha256}.msgpack.zst"

    def read_shard(self, sha256: str) -> bytes | None:
        """The cached compressed shard, or None when absent or not matching its hash."""
        try:
            data = self.shard_path(sha256).read_bytes()
        except OSError:
            return None
        return data if sha256_hex(data) == sha256 else None

    def write_shard(self, sha256: str, data: bytes) -> None:
        path = self.shard_path(sha256)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data, durable=False)  # read_shard checks the hash
        except OSError:
            pass  # a read-only cache only costs a refetch next time

    def entries(self) -> Iterator[dict[str, Any]]:
        """The state of every cached entry (for ``solvent cache list``-style tooling)."""
        if not self.repodata_dir.is_dir():
            return
        for path in sorted(self.repodata_dir.glob("*.state.json")):
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(state, dict):
                yield state


def now() -> float:
    return time.time()
