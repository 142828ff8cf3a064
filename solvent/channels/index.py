"""``ChannelIndex``: every channel subdir of a solve behind one lazy ``records(name)``.

Loading is split so that a solve pays only for what it reaches: subdirs are fetched once, in parallel
when any is remote (full repodata is indexed on disk by name, sharded subdirs only fetch their small shard index), and
``PackageRecord`` objects are built per name on first request. ``prefetch(specs)`` walks the
dependency closure so that sharded channels download the shards a solve will need in parallel
batches instead of one request per ``records()`` call.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from ..errors import ChannelError, InvalidRecord
from .cache import RepodataCache
from .channel import Channel, env_channel_alias, expand_channels
from .fetch import RepodataFetcher, Source, SubdirResult
from .http import HttpClient
from .log import log
from .progress import Progress
from .redact import redact
from .repodata import dep_name
from .shards import ShardedSubdir

if TYPE_CHECKING:
    import datetime as _dt
    from concurrent.futures import Executor, ThreadPoolExecutor

    import requests

    from ..match_spec import MatchSpec
    from ..record import PackageRecord

OFFLINE_ENV = "SOLVENT_OFFLINE"


def env_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def to_epoch_ms(value: _dt.datetime | int | float | None) -> int | None:
    """A cutoff in epoch milliseconds; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    import datetime as _dt  # here: the common cutoffs are numbers, and the module costs 1-2 ms

    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp() * 1000)
    return int(value)


class _Loaded:
    """One (channel, subdir) that exists, with its rank and where its packages download from."""

    __slots__ = ("base_url", "channel", "rank", "source", "subdir")

    def __init__(self, channel: Channel, rank: int, subdir: str, source: Source) -> None:
        self.channel = channel
        self.rank = rank
        self.subdir = subdir
        self.source = source
        self.base_url = source.package_base_url()


class ChannelIndex:
    """Records of every channel and subdir of a solve, loaded lazily and memoized per name.

    ``records[i].channel`` is the channel's canonical, secret-free name and ``records[i].url`` the
    secret-free download URL; :meth:`authenticated_url` adds the token back for a downloader.
    """

    def __init__(
        self,
        channels: Iterable[str | Channel] | str,
        platform: str,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool | None = None,
        exclude_newer: _dt.datetime | int | None = None,
        quiet: bool = True,
        session: requests.Session | None = None,
        channel_alias: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        max_workers: int = 8,
        use_shards: bool = True,
    ) -> None:
        if not platform or not isinstance(platform, str):
            raise ChannelError("a target platform (subdir) such as 'linux-64' is required")
        self.platform = platform
        ranked = expand_channels(channels, platform, channel_alias=channel_alias or env_channel_alias())
        self.channels: list[Channel] = [channel for channel, _ in ranked]
        self._ranks = {channel: rank for channel, rank in ranked}
        self._rank_by_name: dict[str, int] = {}
        for channel, rank in ranked:
            self._rank_by_name.setdefault(channel.canonical_name, rank)
        self.offline = env_offline() if offline is None else (offline or env_offline())
        self.exclude_newer_ms = to_epoch_ms(exclude_newer)
        self.quiet = quiet
        self.max_workers = max(1, max_workers)
        self.cache = RepodataCache(cache_dir)
        self.http = HttpClient(session, retries=retries, backoff=backoff, timeout=timeout, pool_size=max_workers)
        self.fetcher = RepodataFetcher(self.cache, self.http, offline=self.offline, use_shards=use_shards)
        self.timings: dict[str, float] = {"fetch_s": 0.0, "shards_s": 0.0, "records_s": 0.0}
        self.stats: dict[str, int] = {"records_built": 0, "names_loaded": 0, "skipped_entries": 0}
        self.results: list[SubdirResult] = []
        self._loaded: list[_Loaded] | None = None
        self._memo: dict[str, list[PackageRecord]] = {}
        self._lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"ChannelIndex({[str(c) for c in self.channels]}, {self.platform!r})"

    # --- loading ----------------------------------------------------------------------------------

    def _pool(self) -> Executor:
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="solvent-fetch")
        return self._executor

    def close(self) -> None:
        """Stop the worker threads (also done at garbage collection)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def __enter__(self) -> ChannelIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> None:
        """Fetch (or open from cache) every channel subdir, in parallel unless all are local.
        Idempotent."""
        with self._lock:
            if self._loaded is not None:
                return
            t0 = time.perf_counter()
            jobs = [(c, s) for c in self.channels for s in c.subdirs(self.platform)]
            progress = Progress(len(jobs), "solvent: repodata", quiet=self.quiet)
            try:

                def one(job: tuple[Channel, str]) -> SubdirResult:
                    result = self.fetcher.load(*job)
                    progress.step(f"{job[0]}/{job[1]}")
                    return result

                if all(channel.is_local for channel, _ in jobs):
                    # Reading local files is CPU work under the GIL: threads would only add their
                    # start-up and switching (and the import of concurrent.futures).
                    results = [one(job) for job in jobs]
                else:
                    results = list(self._pool().map(one, jobs))
            finally:
                progress.close()
            self.results = results
            by_channel: dict[Channel, list[SubdirResult]] = {}
            for result in results:
                by_channel.setdefault(result.channel, []).append(result)
            for channel, channel_results in by_channel.items():
                if all(r.source is None for r in channel_results):
                    codes = sorted({code for r in channel_results for code in r.http_statuses})
                    raise ChannelError(
                        f"channel {channel} ({channel.redacted_url}) does not exist or is not readable: "
                        f"no repodata for {', '.join(r.subdir for r in channel_results)}"
                        + (f" (HTTP {', '.join(map(str, codes))})" if codes else "")
                    )
            self._loaded = [
                _Loaded(r.channel, self._ranks[r.channel], r.subdir, r.source) for r in results if r.source is not None
            ]
            self.timings["fetch_s"] += time.perf_counter() - t0

    def _sources(self) -> list[_Loaded]:
        if self._loaded is None:
            self.load()
        assert self._loaded is not None
        return self._loaded

    def prefetch(self, specs: Iterable[Any]) -> None:
        """Load every subdir and, for sharded ones, the shards of the specs' dependency closure."""
        sources = self._sources()
        sharded = [s.source for s in sources if isinstance(s.source, ShardedSubdir)]
        if not sharded:
            return
        t0 = time.perf_counter()
        frontier: set[str] = set()
        for spec in specs:
            name = spec if isinstance(spec, str) else getattr(spec, "name", None)
            if isinstance(spec, str):
                name = dep_name(spec)
            if not name:
                continue
            if any(ch in name for ch in "*?["):
                frontier.update(n for n in self.names() if fnmatch.fnmatchcase(n, name))
            else:
                frontier.add(name)
        seen: set[str] = set()
        while frontier:
            batch = sorted(frontier - seen)
            seen.update(batch)
            # One flat task list over every sharded subdir, so the whole batch downloads in parallel
            # (nesting pool.map calls could deadlock the pool).
            tasks = [(src, n) for src in sharded for n in batch if not src.is_loaded(n)]
            if tasks:
                list(self._pool().map(lambda task: task[0].load([task[1]]), tasks))
            frontier = set()
            for name in batch:
                for loaded in sources:
                    for _, entry in loaded.source.raw(name):
                        for dep in entry.get("depends") or ():
                            dep_n = dep_name(dep)
                            if dep_n and dep_n not in seen:
                                frontier.add(dep_n)
        self.timings["shards_s"] += time.perf_counter() - t0

    # --- records ----------------------------------------------------------------------------------

    def names(self) -> set[str]:
        """Every package name over all channels and subdirs (no record is built)."""
        out: set[str] = set()
        for loaded in self._sources():
            out.update(loaded.source.names())
        return out

    def tracker_names(self, feature: str) -> set[str]:
        """Names with a record that tracks ``feature`` (legacy features), as each subdir knows
        them (its index header, or the shards fetched so far), so no record is built to find them."""
        out: set[str] = set()
        for loaded in self._sources():
            out.update(loaded.source.tracker_names(feature))
        return out

    def records(self, name: str) -> list[PackageRecord]:
        """Records of ``name`` in channel priority order, built on first use and memoized."""
        memo = self._memo.get(name)
        if memo is not None:
            return memo
        with self._lock:
            memo = self._memo.get(name)
            if memo is not None:
                return memo
            t0 = time.perf_counter()
            built = self._build(name)
            self._memo[name] = built
            self.stats["names_loaded"] += 1
            self.timings["records_s"] += time.perf_counter() - t0
            return built

    def _build(self, name: str) -> list[PackageRecord]:
        from ..record import PackageRecord

        cutoff = self.exclude_newer_ms
        out: list[PackageRecord] = []
        for loaded in self._sources():
            for fn, entry in loaded.source.raw(name):
                try:
                    record = PackageRecord.from_repodata(
                        fn,
                        entry,
                        channel=loaded.channel.canonical_name,
                        subdir=loaded.subdir,
                        base_url=loaded.base_url,
                    )
                except (InvalidRecord, ValueError, TypeError, KeyError) as exc:
                    self.stats["skipped_entries"] += 1
                    log.warning("skipping %s in %s: %s", fn, redact(loaded.source.url), redact(exc))
                    continue
                if cutoff is not None and record.timestamp and record.timestamp > cutoff:
                    continue
                out.append(record)
        self.stats["records_built"] += len(out)
        return out

    def iter_records(self) -> Iterator[PackageRecord]:
        """Every record of every name: materializes the whole index, so only when really needed."""
        for name in sorted(self.names()):
            yield from self.records(name)

    def channel_rank(self, record: PackageRecord) -> int:
        """0 for the highest-priority channel; channels of ``defaults`` share a rank."""
        return self._rank_by_name.get(record.channel, len(self.channels))

    def query(self, spec: str | MatchSpec) -> list[PackageRecord]:
        """Records matching a MatchSpec (a glob name scans the names, not every record)."""
        from ..match_spec import parse_match_spec

        match_spec = parse_match_spec(spec) if isinstance(spec, str) else spec
        name = match_spec.name
        if any(ch in name for ch in "*?["):
            names: Sequence[str] = sorted(n for n in self.names() if fnmatch.fnmatchcase(n, name))
        else:
            names = [name]
        return [r for n in names for r in self.records(n) if match_spec.match(r)]

    def authenticated_url(self, record: PackageRecord) -> str:
        """The record's download URL with its channel's credentials: for downloads, never for output."""
        for channel in self.channels:
            if channel.canonical_name == record.channel:
                return channel.authenticated_url(record.url)
        return str(record.url)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
