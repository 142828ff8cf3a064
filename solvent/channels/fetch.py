"""Getting one channel subdir into a loadable form: cache, conditional requests, .zst, shards, offline.

Order of preference for an http(s) subdir, under the entry's lock (so concurrent processes serialize
and the second one finds the first one's fresh result):

1. a cached shard index or repodata still fresh by ``Cache-Control: max-age``: no request at all;
2. the CEP-16 shard index, unless the server said recently (7 days) that it has none;
3. ``repodata.json.zst``, unless the server said recently that it has none; then ``repodata.json``
   (gzip transfer encoding). Cached copies are revalidated with If-None-Match / If-Modified-Since.

A subdir whose files all answer 4xx is *missing* (not an error here: ChannelIndex decides). Bad bodies
(truncated, corrupt zstd or JSON) raise before anything is written, so the previous entry survives.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Union

from ..errors import CacheError, FetchError, RepodataError
from ..slots import SlotValue
from .cache import CacheEntry, RepodataCache, now, sha256_hex
from .channel import Channel
from .http import HttpClient, Response, TruncatedDownload
from .log import log
from .redact import redact
from .repodata import SubdirIndex, build_index
from .shards import MAX_INDEX_SIZE, SHARD_INDEX_FN, ShardedSubdir, decompress_zst, parse_shard_index

RECHECK_SECONDS = 7 * 24 * 3600
Source = Union[SubdirIndex, ShardedSubdir]


class SubdirResult(SlotValue):
    """The outcome for one (channel, subdir); ``source`` is None when the subdir does not exist."""

    __slots__ = ("channel", "http_statuses", "source", "status", "subdir")

    def __init__(
        self,
        channel: Channel,
        subdir: str,
        source: Source | None,
        status: str,  # fresh | not-modified | downloaded | offline | local | missing
        http_statuses: list[int] | None = None,
    ) -> None:
        self.channel = channel
        self.subdir = subdir
        self.source = source
        self.status = status
        self.http_statuses = [] if http_statuses is None else http_statuses


def max_age(cache_control: str | None) -> int:
    """Seconds a response may be reused without asking; 0 for no-cache/no-store or no header."""
    if not cache_control:
        return 0
    if re.search(r"\b(no-cache|no-store|must-revalidate)\b", cache_control) and "max-age" not in cache_control:
        return 0
    match = re.search(r"\bmax-age=(\d+)", cache_control)
    return int(match.group(1)) if match else 0


def is_fresh(meta: Any) -> bool:
    """Whether cached metadata (``fetched_at``, ``cache_control``) may be used without asking."""
    if not isinstance(meta, dict):
        return False
    age = now() - float(meta.get("fetched_at", 0))
    return 0 <= age < max_age(meta.get("cache_control"))


def _should_probe(state: dict[str, Any], flag: str) -> bool:
    """Whether to ask for an optional representation the server may lack (.zst, shards)."""
    meta = state.get(flag)
    if not isinstance(meta, dict) or meta.get("value") is not False:
        return True
    return now() - float(meta.get("checked_at", 0)) > RECHECK_SECONDS


def conditional_headers(meta: Any) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators a cached response was stored with."""
    headers: dict[str, str] = {}
    if isinstance(meta, dict):
        if meta.get("etag"):
            headers["If-None-Match"] = meta["etag"]
        if meta.get("last_modified"):
            headers["If-Modified-Since"] = meta["last_modified"]
    return headers


def _meta(response: Response, url: str, data: bytes, fmt: str) -> dict[str, Any]:
    return {
        "url": redact(url),
        "format": fmt,
        "etag": response.headers.get("ETag"),
        "last_modified": response.headers.get("Last-Modified"),
        "cache_control": response.headers.get("Cache-Control"),
        "size": len(data),
        "sha256": sha256_hex(data),
        "fetched_at": now(),
    }


def refreshed(meta: Mapping[str, Any], response: Response) -> dict[str, Any]:
    """Metadata after a 304: same payload, new validity window (servers may send new headers)."""
    meta = dict(meta, fetched_at=now())
    for header, key in (
        ("ETag", "etag"),
        ("Last-Modified", "last_modified"),
        ("Cache-Control", "cache_control"),
    ):
        if response.headers.get(header):
            meta[key] = response.headers[header]
    return meta


class RepodataFetcher:
    """Turns (channel, subdir) into a SubdirIndex or ShardedSubdir, through the cache."""

    def __init__(
        self,
        cache: RepodataCache,
        http: HttpClient,
        *,
        offline: bool = False,
        use_shards: bool = True,
    ) -> None:
        self.cache = cache
        self.http = http
        self.offline = offline
        self.use_shards = use_shards

    def load(self, channel: Channel, subdir: str) -> SubdirResult:
        """The subdir's source; SolventErrors only (a full disk or bad permissions is a CacheError)."""
        try:
            return self._load(channel, subdir)
        except OSError as exc:
            raise CacheError(
                f"cache failure for channel {channel} subdir {subdir} under {self.cache.root}: "
                f"{redact(exc.strerror or exc)}"
            ) from None

    def _load(self, channel: Channel, subdir: str) -> SubdirResult:
        if channel.is_local:
            return self._load_local(channel, subdir)
        url = channel.subdir_url(subdir)
        entry = self.cache.entry(url)
        with entry.lock():
            state = entry.read_state()
            if self.offline:
                return self._load_offline(channel, subdir, entry, state)
            if is_fresh(state.get("shards")):
                sharded = self._open_sharded(channel, subdir, entry)
                if sharded is not None:
                    return SubdirResult(channel, subdir, sharded, "fresh")
            if is_fresh(state.get("repodata")) and not state.get("shards"):
                index = self._open_full(entry, state)
                if index is not None:
                    return SubdirResult(channel, subdir, index, "fresh")
            statuses: list[int] = []
            if self.use_shards and _should_probe(state, "has_shards"):
                result = self._refresh_shards(channel, subdir, entry, state, statuses)
                if result is not None:
                    return result
            return self._refresh_full(channel, subdir, entry, state, statuses)

    # --- offline and local ------------------------------------------------------------------------

    def _load_offline(self, channel: Channel, subdir: str, entry: CacheEntry, state: dict[str, Any]) -> SubdirResult:
        if state.get("shards"):
            sharded = self._open_sharded(channel, subdir, entry, offline=True)
            if sharded is not None:
                return SubdirResult(channel, subdir, sharded, "offline")
        if state.get("repodata"):
            index = self._open_full(entry, state)
            if index is not None:
                return SubdirResult(channel, subdir, index, "offline")
        if state.get("missing"):
            return SubdirResult(channel, subdir, None, "missing", list(state["missing"].get("statuses", [])))
        raise CacheError(
            f"offline mode: no cached repodata for channel {channel} subdir {subdir} "
            f"({redact(channel.redacted_url)}/{subdir}) in {self.cache.root}"
        )

    def _load_local(self, channel: Channel, subdir: str) -> SubdirResult:
        """Read a file:// subdir in place; only the index goes to the cache (or stays in memory)."""
        directory = channel.local_path(subdir)
        candidates = [(directory / "repodata.json", "json"), (directory / "repodata.json.zst", "zst")]
        found = [(p, f) for p, f in candidates if p.is_file()]
        if not found:
            return SubdirResult(channel, subdir, None, "missing", [404])
        path, fmt = found[0]
        url = channel.subdir_url(subdir)
        source = path.as_uri()
        stat = path.stat()
        signature = {"file": path.name, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}
        if self.cache.writable:
            entry = self.cache.entry(url)
            # A warm entry is read without the lock: the index is renamed into place before the
            # state that names its source, so a state matching this file proves the index is its.
            warm = self._open_local_index(entry, signature, url, subdir, source)
            if warm is not None:
                return SubdirResult(channel, subdir, warm, "local")
            with entry.lock():
                state = entry.read_state()
                if state.get("local") == signature and entry.index_path.is_file():
                    try:
                        index = SubdirIndex.open(entry.index_path, url=url, subdir=subdir, source=source)
                        return SubdirResult(channel, subdir, index, "local")
                    except RepodataError:
                        pass
                blob = self._local_index_bytes(path, fmt, source)
                entry.write(entry.index_path, blob)
                entry.write_state({"local": signature})
                index = SubdirIndex.open(entry.index_path, url=url, subdir=subdir, source=source)
                return SubdirResult(channel, subdir, index, "local")
        index = SubdirIndex(self._local_index_bytes(path, fmt, source), url=url, subdir=subdir, source=source)
        return SubdirResult(channel, subdir, index, "local")

    @staticmethod
    def _open_local_index(
        entry: CacheEntry, signature: dict[str, Any], url: str, subdir: str, source: str
    ) -> SubdirIndex | None:
        if entry.read_state().get("local") != signature:
            return None
        try:
            return SubdirIndex.open(entry.index_path, url=url, subdir=subdir, source=source)
        except (OSError, RepodataError):
            return None

    @staticmethod
    def _local_index_bytes(path: Path, fmt: str, source: str) -> bytes:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RepodataError(f"cannot read {source}: {exc.strerror}") from None
        if fmt == "zst":
            data = decompress_zst(data, source)
        # A local file's index is keyed on its mtime and size (the state's "local" signature), so
        # no digest of it is kept: hashing a big local channel would cost every cold read.
        return build_index(data, source)

    # --- opening cached entries -------------------------------------------------------------------

    def _open_full(self, entry: CacheEntry, state: dict[str, Any]) -> SubdirIndex | None:
        """The cached index if it matches the committed state; rebuilt from the payload if stale."""
        meta = state.get("repodata")
        if not isinstance(meta, dict):
            return None
        url, subdir = entry.url, _subdir_of(entry.url)
        try:
            index = SubdirIndex.open(entry.index_path, url=url, subdir=subdir, source=meta.get("url", url))
            if index.sha256 == meta.get("sha256"):
                return index
        except (OSError, RepodataError, KeyError):
            pass
        try:
            data = entry.payload_path.read_bytes()
        except OSError:
            return None
        if sha256_hex(data) != meta.get("sha256"):
            return None
        log.info("rebuilding the index of %s", entry.url)
        try:
            entry.write(entry.index_path, build_index(data, meta.get("url", url), meta["sha256"]))
            return SubdirIndex.open(entry.index_path, url=url, subdir=subdir, source=meta.get("url", url))
        except (OSError, RepodataError):
            return None

    def _open_sharded(
        self, channel: Channel, subdir: str, entry: CacheEntry, *, offline: bool = False
    ) -> ShardedSubdir | None:
        try:
            raw = entry.shard_index_path.read_bytes()
            index = parse_shard_index(raw, entry.url + SHARD_INDEX_FN)
        except (OSError, RepodataError):
            return None
        return self._sharded(channel, subdir, index, offline=offline)

    def _sharded(self, channel: Channel, subdir: str, index: dict[str, Any], *, offline: bool = False) -> ShardedSubdir:
        def download(url: str) -> bytes:
            try:
                response = self.http.get(channel.authenticated_url(url))
            except TruncatedDownload as exc:
                raise RepodataError(f"truncated shard download: {exc}") from None
            if response.status != 200:
                raise FetchError(f"HTTP {response.status} fetching shard {response.url} of channel {channel}")
            return response.content

        return ShardedSubdir(
            url=channel.subdir_url(subdir),
            subdir=subdir,
            index=index,
            cache=self.cache,
            download=None if offline else download,
        )

    # --- network refreshes ------------------------------------------------------------------------

    def _get(self, channel: Channel, url: str, headers: dict[str, str]) -> Response:
        try:
            return self.http.get(channel.authenticated_url(url), headers)
        except TruncatedDownload as exc:
            raise RepodataError(f"truncated download ({exc}); the cached copy was left unchanged") from None

    def _refresh_shards(
        self, channel: Channel, subdir: str, entry: CacheEntry, state: dict[str, Any], statuses: list[int]
    ) -> SubdirResult | None:
        url = channel.subdir_url(subdir) + SHARD_INDEX_FN
        meta = state.get("shards")
        headers = conditional_headers(meta) if entry.shard_index_path.is_file() else {}
        response = self._get(channel, url, headers)
        if response.status == 304 and isinstance(meta, dict):
            sharded = self._open_sharded(channel, subdir, entry)
            if sharded is not None:
                state["shards"] = refreshed(meta, response)
                entry.write_state(state)
                return SubdirResult(channel, subdir, sharded, "not-modified")
            response = self._get(channel, url, {})
        if response.status == 200:
            raw = decompress_zst(response.content, url, MAX_INDEX_SIZE)
            index = parse_shard_index(raw, url)
            entry.write(entry.shard_index_path, raw)
            state["shards"] = _meta(response, url, raw, "shards")
            state["has_shards"] = {"value": True, "checked_at": now()}
            state.pop("missing", None)
            entry.write_state(state)
            return SubdirResult(channel, subdir, self._sharded(channel, subdir, index), "downloaded")
        self._check_status(response, channel, subdir)
        statuses.append(response.status)
        state["has_shards"] = {"value": False, "checked_at": now()}
        if state.pop("shards", None) is not None:
            entry.shard_index_path.unlink(missing_ok=True)
        return None

    def _refresh_full(
        self, channel: Channel, subdir: str, entry: CacheEntry, state: dict[str, Any], statuses: list[int]
    ) -> SubdirResult:
        base = channel.subdir_url(subdir)
        meta = state.get("repodata") if isinstance(state.get("repodata"), dict) else None
        cached = self._open_full(entry, state) if meta else None
        formats = (["zst"] if _should_probe(state, "has_zst") else []) + ["json"]
        for fmt in formats:
            url = base + ("repodata.json.zst" if fmt == "zst" else "repodata.json")
            usable = cached is not None and meta is not None and meta.get("format") == fmt
            response = self._get(channel, url, conditional_headers(meta) if usable else {})
            if response.status == 304 and usable and meta is not None and cached is not None:
                state["repodata"] = refreshed(meta, response)
                entry.write_state(state)
                return SubdirResult(channel, subdir, cached, "not-modified")
            if response.status == 304:  # unsolicited 304: ask again without validators
                response = self._get(channel, url, {})
            if response.status == 200:
                data = decompress_zst(response.content, url) if fmt == "zst" else response.content
                new_meta = _meta(response, url, data, fmt)
                blob = build_index(data, url, new_meta["sha256"])  # raises before any write
                entry.write(entry.payload_path, data)
                entry.write(entry.index_path, blob)
                state["repodata"] = new_meta
                if fmt == "zst":
                    state["has_zst"] = {"value": True, "checked_at": now()}
                state.pop("missing", None)
                entry.write_state(state)
                index = SubdirIndex.open(entry.index_path, url=base, subdir=subdir, source=redact(url))
                return SubdirResult(channel, subdir, index, "downloaded")
            self._check_status(response, channel, subdir)
            statuses.append(response.status)
            if fmt == "zst":
                state["has_zst"] = {"value": False, "checked_at": now()}
        state["missing"] = {"statuses": statuses, "checked_at": now()}
        entry.write_state(state)
        log.info("channel %s has no %s subdir (HTTP %s)", channel, subdir, statuses)
        return SubdirResult(channel, subdir, None, "missing", statuses)

    @staticmethod
    def _check_status(response: Response, channel: Channel, subdir: str) -> None:
        """Raise for answers that do not mean 'this file is not here'."""
        status = response.status
        if status in (401, 407):
            raise FetchError(
                f"HTTP {status}: authentication required for channel {channel} ({response.url}); "
                "check the token or credentials"
            )
        if not 400 <= status < 500:
            raise FetchError(f"unexpected HTTP {status} for channel {channel} subdir {subdir} ({response.url})")


def _subdir_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]
