"""Parsing repodata.json into a per-name on-disk index that is read lazily.

``json.load`` of a big subdir costs seconds and hundreds of MB, and a solve touches a few hundred of
the tens of thousands of names. So after a download the JSON is parsed once and rewritten as::

    MAGIC (8 bytes) | header length (8 bytes, little endian) | msgpack header | body

The header holds ``info``, the payload's sha256, ``track_features: feature -> names``,
``names: name -> [offset, length, count]`` and the body's size; the body
holds, per name, one msgpack list of ``[fn, entry]`` pairs with the ``.conda``-beats-``.tar.bz2`` and
``removed`` rules already applied. Later runs read the header only and decode one name at a time.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import struct
import sys
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Protocol, Tuple
from urllib.parse import urljoin, urlsplit

import msgpack

from ..errors import RepodataError
from ..string_match import split_features
from .log import log
from .redact import redact
from .repodata_stream import PACKAGE_KEYS, iter_repodata

# Version 2 added ``track_features`` to the header; an index of another version is rebuilt.
MAGIC = b"SLVIDX2\n"
_LEN = struct.Struct("<Q")
RawEntry = Tuple[str, dict]

_DEP_NAME_RE = re.compile(r"^\s*(?:[^\s:\[]+::)?([^\s=<>!~\[,|;]+)")


def dep_name(spec: str) -> str | None:
    """The package name of a depends string, cheaply (this runs for every edge of a closure)."""
    match = _DEP_NAME_RE.match(spec) if isinstance(spec, str) else None
    return match.group(1) if match else None


def _stem(fn: str) -> str:
    if fn.endswith(".conda"):
        return fn[: -len(".conda")]
    if fn.endswith(".tar.bz2"):
        return fn[: -len(".tar.bz2")]
    return fn


def _hexify(entry: dict) -> dict:
    # CEP-16 shards may carry md5/sha256 as raw bytes; records everywhere expect hex strings.
    for key in ("md5", "sha256"):
        value = entry.get(key)
        if isinstance(value, (bytes, bytearray)):
            entry[key] = bytes(value).hex()
    return entry


def group_packages(
    document: Mapping[str, Any], source: str, *, binary_digests: bool = False
) -> tuple[dict[str, list[RawEntry]], int]:
    """Entries of a repodata document (or shard) grouped by name, ``.conda`` winning per stem.

    Returns the groups and the number of skipped malformed entries (each logged with the source).
    ``binary_digests``: the document is msgpack (a CEP-16 shard), whose md5 and sha256 may be raw
    bytes; JSON has none, and checking every entry of a big subdir for them is not free.
    """
    removed = document.get("removed") or ()
    removed_set = set(removed) if isinstance(removed, (list, tuple)) else set()
    by_stem: dict[str, tuple[str, dict]] = {}
    skipped = 0
    for key in ("packages", "packages.conda"):
        packages = document.get(key)
        if packages is None:
            continue
        if not isinstance(packages, Mapping):
            raise RepodataError(f"{redact(source)}: {key!r} is a {type(packages).__name__}, not an object")
        for fn, entry in packages.items():
            if not isinstance(fn, str) or not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                skipped += 1
                log.warning("%s: skipping malformed entry %s", redact(source), redact(repr(fn))[:200])
                continue
            if fn in removed_set:
                continue
            if binary_digests:
                _hexify(entry)
            # Later keys win: packages.conda is read after packages.
            by_stem[_stem(fn)] = (fn, entry)
    groups: dict[str, list[RawEntry]] = {}
    for fn, entry in by_stem.values():
        groups.setdefault(entry["name"], []).append((fn, entry))
    return groups, skipped


def parse_json(data: bytes, source: str) -> dict[str, Any]:
    """The JSON document, or a :class:`RepodataError` saying where and what broke."""
    try:
        document = json.loads(data)
    except UnicodeDecodeError as exc:
        raise RepodataError(f"corrupt repodata at {redact(source)}: not UTF-8 ({exc.reason})") from None
    except ValueError as exc:
        raise RepodataError(f"corrupt repodata at {redact(source)}: invalid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise RepodataError(
            f"corrupt repodata at {redact(source)}: top level is a {type(document).__name__}, not an object"
        )
    return document


#: Payloads from this size on are indexed entry by entry. Below it a whole-document parse is a few
#: milliseconds faster and its memory does not matter; above it the document as Python objects is
#: what costs (conda-forge linux-64 at real scale: 1.5 GB and 8.6 s whole, 0.9 GB and 3.3 s
#: streamed). Both paths give the same bytes.
STREAM_ABOVE = 16 * 1024 * 1024


def build_index(data: bytes, source: str, payload_sha256: str = "", stream_above: int = STREAM_ABOVE) -> bytes:
    """The on-disk index bytes of a repodata.json payload (raises RepodataError when corrupt).

    Big payloads are decoded one entry at a time and each entry packed straight away (see
    :mod:`.repodata_stream`), so peak memory is the payload plus its packed copy, not the whole
    document as Python objects.
    """
    if len(data) < stream_above:
        return _build_from_document(parse_json(data, source), source, payload_sha256)
    packer = msgpack.Packer(use_bin_type=True)
    members: dict[str, Any] = {}
    # per package key, in document order: (fn, name, packed entry, features it tracks)
    chosen: dict[str, list[tuple[str, str, bytes, frozenset[str]]]] = {key: [] for key in PACKAGE_KEYS}
    skipped = 0
    try:
        for key, fn, value in iter_repodata(data.decode("utf-8")):
            if key is None:
                members[fn] = value
                continue
            if not isinstance(value, dict) or not isinstance(value.get("name"), str):
                skipped += 1
                log.warning("%s: skipping malformed entry %s", redact(source), redact(repr(fn))[:200])
                continue
            packed = packer.pack(value)
            chosen[key].append((fn, value["name"], packed, split_features(value.get("track_features"))))
    except (UnicodeDecodeError, ValueError):
        # parse_json names what is wrong precisely; were the document valid after all, the
        # general path below indexes it.
        return _build_from_document(parse_json(data, source), source, payload_sha256)
    for key in PACKAGE_KEYS:
        value = members.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise RepodataError(f"{redact(source)}: {key!r} is a {type(value).__name__}, not an object")
    removed = members.get("removed") or ()
    removed_set = set(removed) if isinstance(removed, (list, tuple)) else set()
    # The same rule as group_packages: removed entries dropped, then per stem the last entry wins
    # with packages.conda read after packages (a dict keeps each stem where it first appeared).
    by_stem: dict[str, tuple[str, str, bytes, frozenset[str]]] = {}
    for key in PACKAGE_KEYS:
        for found in chosen.pop(key):
            if found[0] not in removed_set:
                by_stem[_stem(found[0])] = found
    groups: dict[str, list[tuple[str, bytes]]] = {}
    trackers: dict[str, set[str]] = {}
    for fn, name, packed, features in by_stem.values():
        groups.setdefault(name, []).append((fn, packed))
        for feature in features:
            trackers.setdefault(feature, set()).add(name)
    by_stem.clear()
    body = bytearray()
    names: dict[str, list[int]] = {}
    for name in sorted(groups):
        entries = groups.pop(name)
        start = len(body)
        body += packer.pack_array_header(len(entries))
        for fn, packed in entries:
            body += packer.pack_array_header(2)
            body += packer.pack(fn)
            body += packed
        names[name] = [start, len(body) - start, len(entries)]
    return _assemble(members, names, body, skipped, payload_sha256, trackers)


def _build_from_document(document: Mapping[str, Any], source: str, payload_sha256: str) -> bytes:
    groups, skipped = group_packages(document, source)
    trackers: dict[str, set[str]] = {}
    for name, entries in groups.items():
        for _, entry in entries:
            tracked = entry.get("track_features")
            if tracked:  # rare: legacy features
                for feature in split_features(tracked):
                    trackers.setdefault(feature, set()).add(name)
    body = bytearray()
    names: dict[str, list[int]] = {}
    packer = msgpack.Packer(use_bin_type=True)
    for name in sorted(groups):
        entries = groups[name]
        blob = packer.pack(entries)  # (fn, entry) tuples pack as msgpack arrays
        names[name] = [len(body), len(blob), len(entries)]
        body += blob
    return _assemble(document, names, body, skipped, payload_sha256, trackers)


def names_tracking(feature: str, groups: Iterable[tuple[str, list[RawEntry]]]) -> list[str]:
    """The names among ``groups`` (name, raw entries) with an entry that tracks ``feature``."""
    return [
        name
        for name, entries in groups
        if any(feature in split_features(entry.get("track_features")) for _, entry in entries)
    ]


def _assemble(
    members: Mapping[str, Any],
    names: dict[str, list[int]],
    body: bytearray,
    skipped: int,
    payload_sha256: str,
    trackers: Mapping[str, set[str]],
) -> bytes:
    info = members.get("info")
    if not isinstance(info, dict):
        info = {}
    header = msgpack.packb(
        {
            "info": {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool))},
            "repodata_version": members.get("repodata_version", 1),
            "sha256": payload_sha256,
            "skipped": skipped,
            # feature -> names with a record that tracks it: finding trackers reads no entry
            "track_features": {f: sorted(trackers[f]) for f in sorted(trackers)},
            "names": names,
            # the body's size: a file cut short (a crash before the cache's unflushed write
            # reached the disk) is caught on opening, not as a corrupt entry halfway through a solve
            "body_size": len(body),
        },
        use_bin_type=True,
    )
    # One copy of the body, not two: it can be a few hundred MB.
    return b"".join((MAGIC, _LEN.pack(len(header)), header, body))


def package_base_url(subdir_url: str, info: Mapping[str, Any]) -> str:
    """Where a subdir's packages live: CEP-15 ``info.base_url`` (absolute or relative) or the subdir."""
    base = info.get("base_url") if info else None
    if not isinstance(base, str) or not base:
        return subdir_url
    if urlsplit(base).scheme:
        joined = base
    else:
        joined = urljoin(subdir_url, base)
    return joined if joined.endswith("/") else joined + "/"


class SubdirSource(Protocol):
    """What ChannelIndex needs from one channel subdir, whether a full index or shards."""

    subdir: str
    url: str  # secret-free subdir URL with a trailing slash

    def names(self) -> Iterable[str]: ...

    def raw(self, name: str) -> list[RawEntry]: ...

    def tracker_names(self, feature: str) -> Iterable[str]: ...

    def package_base_url(self) -> str: ...


class SubdirIndex:
    """A lazily decoded per-name index of one subdir (see the module docstring for the format)."""

    def __init__(self, blob: bytes | mmap.mmap, *, url: str, subdir: str, source: str) -> None:
        self.url = url
        self.subdir = subdir
        self.source = source
        self._blob = blob
        self._lock = threading.Lock()
        if len(blob) < 16 or blob[:8] != MAGIC:
            raise RepodataError(f"{redact(source)}: not a solvent repodata index")
        (length,) = _LEN.unpack(blob[8:16])
        try:
            header = msgpack.unpackb(blob[16 : 16 + length], raw=False, strict_map_key=False)
        except Exception as exc:
            raise RepodataError(f"{redact(source)}: corrupt index header ({exc})") from None
        self._body_start = 16 + length
        body_size = header.get("body_size")
        if body_size is not None and len(blob) != self._body_start + body_size:
            raise RepodataError(
                f"{redact(source)}: truncated index ({len(blob)} bytes, expected {self._body_start + body_size})"
            )
        self.info: dict[str, Any] = header.get("info") or {}
        self.sha256: str = header.get("sha256") or ""
        self.skipped: int = header.get("skipped", 0)
        # None for an index written before the header had it: then trackers are found by a scan.
        self.track_features: dict[str, list[str]] | None = header.get("track_features")
        self._names: dict[str, list[int]] = header["names"]

    @classmethod
    def open(cls, path: Path, *, url: str, subdir: str, source: str) -> SubdirIndex:
        """Map the index file; the mapping stays valid if another process replaces the file."""
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if sys.platform == "win32" or size == 0:
                # A live mapping would block os.replace of the file by other processes on Windows.
                blob: bytes | mmap.mmap = handle.read()
            else:
                blob = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return cls(blob, url=url, subdir=subdir, source=source)

    def __len__(self) -> int:
        return len(self._names)

    def names(self) -> Iterable[str]:
        return self._names.keys()

    def count(self, name: str) -> int:
        slot = self._names.get(name)
        return slot[2] if slot else 0

    def raw(self, name: str) -> list[RawEntry]:
        slot = self._names.get(name)
        if slot is None:
            return []
        start = self._body_start + slot[0]
        with self._lock:
            chunk = self._blob[start : start + slot[1]]
        try:
            pairs = msgpack.unpackb(chunk, raw=False, strict_map_key=False)
        except Exception as exc:
            raise RepodataError(f"{redact(self.source)}: corrupt index entry for {name!r} ({exc})") from None
        return [(fn, entry) for fn, entry in pairs]

    def tracker_names(self, feature: str) -> Iterable[str]:
        """Names with a record that tracks ``feature``."""
        if self.track_features is not None:
            return self.track_features.get(feature, ())
        return names_tracking(feature, self.iter_raw())

    def iter_raw(self) -> Iterator[tuple[str, list[RawEntry]]]:
        for name in self._names:
            yield name, self.raw(name)

    def package_base_url(self) -> str:
        return package_base_url(self.url, self.info)


__all__ = [
    "SubdirIndex",
    "SubdirSource",
    "build_index",
    "dep_name",
    "group_packages",
    "names_tracking",
    "package_base_url",
    "parse_json",
]
