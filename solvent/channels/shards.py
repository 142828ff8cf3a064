"""CEP-16 sharded repodata: the shard index, per-name shards, and a generator of both.

A sharded subdir publishes ``repodata_shards.msgpack.zst``: a zstd-compressed msgpack map with ``info``
(``base_url``, ``shards_base_url``, ``subdir``), ``version`` and ``shards: name -> sha256 (32 bytes)``. Each
shard is ``<shards_base_url><sha256 hex>.msgpack.zst`` holding ``packages`` and ``packages.conda`` for one
name. The hash covers the compressed file, so a cached shard is verified by its name and never stale:
only the small index is revalidated, and a solve downloads just the names it can reach.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import msgpack

from ..errors import CacheError, RepodataError
from .cache import RepodataCache, atomic_write, sha256_hex
from .redact import redact
from .repodata import RawEntry, group_packages, names_tracking, package_base_url

if TYPE_CHECKING:
    from concurrent.futures import Executor

SHARD_INDEX_FN = "repodata_shards.msgpack.zst"
# Guards against zstd bombs when a frame does not declare its size.
MAX_SHARD_SIZE = 64 * 2**20
MAX_INDEX_SIZE = 256 * 2**20


def decompress_zst(data: bytes, source: str, max_size: int = 2**34) -> bytes:
    """Decompress one zstd frame; a cut-off or corrupt frame is a RepodataError naming ``source``."""
    import zstandard  # imported on first use: a solve from an uncompressed local channel never needs it

    try:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        out = dobj.decompress(data)
    except zstandard.ZstdError as exc:
        raise RepodataError(f"corrupt zstd data from {redact(source)}: {exc}") from None
    if not dobj.eof:
        raise RepodataError(f"truncated zstd data from {redact(source)}: the frame ends early")
    if len(out) > max_size:
        raise RepodataError(f"{redact(source)} decompresses to more than {max_size} bytes")
    return out


def _unpack(data: bytes, source: str, what: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:
        raise RepodataError(f"corrupt {what} from {redact(source)}: {exc}") from None


def parse_shard_index(raw: bytes, source: str) -> dict[str, Any]:
    """The decoded (not compressed) shard index, validated enough that lookups cannot crash."""
    index = _unpack(raw, source, "shard index")
    if not isinstance(index, dict) or not isinstance(index.get("shards"), dict):
        raise RepodataError(f"corrupt shard index from {redact(source)}: no 'shards' map")
    info = index.get("info")
    if not isinstance(info, dict):
        index["info"] = {}
    for name, digest in index["shards"].items():
        if not isinstance(name, str) or not isinstance(digest, (bytes, bytearray)) or len(digest) != 32:
            raise RepodataError(f"corrupt shard index from {redact(source)}: bad hash for {name!r}")
    return index


def dir_url(base: str, relative: str) -> str:
    """``relative`` resolved against the directory of ``base``, with a trailing slash."""
    if not relative:
        joined = urljoin(base, ".")
    elif urlsplit(relative).scheme:
        joined = relative
    else:
        joined = urljoin(base, relative)
    return joined if joined.endswith("/") else joined + "/"


class ShardedSubdir:
    """One sharded subdir; shards are fetched on demand (or in batches) and memoized per name."""

    def __init__(
        self,
        *,
        url: str,
        subdir: str,
        index: dict[str, Any],
        cache: RepodataCache,
        download: Callable[[str], bytes] | None,
    ) -> None:
        self.url = url  # secret-free subdir URL, trailing slash
        self.subdir = subdir
        self.index_url = url + SHARD_INDEX_FN
        self.info: dict[str, Any] = index.get("info") or {}
        self._hashes: dict[str, bytes] = index["shards"]
        self._cache = cache
        self._download = download  # None: offline, the shard cache is all there is
        self._loaded: dict[str, list[RawEntry]] = {}
        self._lock = threading.Lock()
        self.shards_fetched = 0
        shards_base = self.info.get("shards_base_url")
        self.shards_base_url = dir_url(self.index_url, shards_base if isinstance(shards_base, str) else "")

    def names(self) -> Iterable[str]:
        return self._hashes.keys()

    def __len__(self) -> int:
        return len(self._hashes)

    def package_base_url(self) -> str:
        return package_base_url(self.url, self.info)

    def shard_url(self, name: str) -> str:
        return f"{self.shards_base_url}{bytes(self._hashes[name]).hex()}.msgpack.zst"

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded or name not in self._hashes

    def tracker_names(self, feature: str) -> list[str]:
        """Names among the fetched shards with a record that tracks ``feature``.

        Knowing it for the whole channel would mean downloading every shard. The fetched ones
        hold the request's dependency closure (``ChannelIndex.prefetch``), which is where conda
        looks for trackers too: a feature never pulls one in from outside it.
        """
        with self._lock:
            loaded = list(self._loaded.items())
        return sorted(names_tracking(feature, loaded))

    def raw(self, name: str) -> list[RawEntry]:
        if name not in self._hashes:
            return []
        if name not in self._loaded:
            self.load([name])
        return self._loaded[name]

    def load(self, names: Iterable[str], executor: Executor | None = None) -> None:
        """Make the shards of ``names`` available, downloading the uncached ones in parallel."""
        wanted = [n for n in dict.fromkeys(names) if n in self._hashes and n not in self._loaded]
        if not wanted:
            return
        if executor is None or len(wanted) == 1:
            results = [self._get(name) for name in wanted]
        else:
            results = list(executor.map(self._get, wanted))
        with self._lock:
            for name, entries in zip(wanted, results):
                self._loaded[name] = entries

    def _get(self, name: str) -> list[RawEntry]:
        digest = bytes(self._hashes[name]).hex()
        url = self.shard_url(name)
        data = self._cache.read_shard(digest)
        if data is None:
            if self._download is None:
                raise CacheError(
                    f"offline: the shard of {name!r} in {redact(self.url)} is not in the cache ({self._cache.root})"
                )
            data = self._download(url)
            with self._lock:
                self.shards_fetched += 1
            actual = sha256_hex(data)
            if actual != digest:
                raise RepodataError(
                    f"shard of {name!r} from {redact(url)} has sha256 {actual}, the index says {digest}"
                )
            self._cache.write_shard(digest, data)
        document = _unpack(decompress_zst(data, url, MAX_SHARD_SIZE), url, "shard")
        if not isinstance(document, dict):
            raise RepodataError(f"corrupt shard from {redact(url)}: not a map")
        groups, _ = group_packages(document, url, binary_digests=True)
        # A shard should hold only its own name; anything else is ignored rather than misfiled.
        return groups.get(name, [])


# --- generating shards (tests serve sharded channels with these) -----------------------------------


def make_shards(
    repodata: Mapping[str, Any],
    *,
    base_url: str = "",
    shards_base_url: str = "",
    level: int = 3,
) -> tuple[bytes, dict[str, bytes]]:
    """The compressed shard index and ``{sha256 hex: compressed shard}`` of a repodata.json document."""
    per_name: dict[str, dict[str, dict[str, Any]]] = {}
    for key in ("packages", "packages.conda"):
        for fn, entry in (repodata.get(key) or {}).items():
            shard = per_name.setdefault(entry["name"], {"packages": {}, "packages.conda": {}})
            shard[key][fn] = entry
    import hashlib

    import zstandard

    compressor = zstandard.ZstdCompressor(level=level)
    shards: dict[str, bytes] = {}
    hashes: dict[str, bytes] = {}
    for name in sorted(per_name):
        blob = compressor.compress(msgpack.packb(per_name[name], use_bin_type=True))
        digest = hashlib.sha256(blob).digest()
        shards[digest.hex()] = blob
        hashes[name] = digest
    info = dict(repodata.get("info") or {})
    info["base_url"] = base_url
    info["shards_base_url"] = shards_base_url
    index = {"info": info, "version": 1, "shards": hashes}
    return compressor.compress(msgpack.packb(index, use_bin_type=True)), shards


def write_sharded(repodata: Mapping[str, Any], directory: str | Path, **options: Any) -> Path:
    """Write a CEP-16 sharded subdir (index plus shards) into ``directory``; returns the index path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    index, shards = make_shards(repodata, **options)
    for digest, blob in shards.items():
        atomic_write(directory / f"{digest}.msgpack.zst", blob)
    path = directory / SHARD_INDEX_FN
    atomic_write(path, index)
    return path


__all__ = [
    "SHARD_INDEX_FN",
    "ShardedSubdir",
    "decompress_zst",
    "dir_url",
    "make_shards",
    "parse_shard_index",
    "write_sharded",
]
