"""``PackageRecord``: one package build as a channel's repodata describes it.

Records are the unit of everything (candidates, solutions, lockfile lines), and a conda-forge-sized
index has ~465,000 of them, so the class uses ``__slots__`` and parses nothing it does not have
to: the version, ``depends`` and ``constrains`` are parsed on first use (the solver touches only
the records it can reach).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from solvent.errors import InvalidMatchSpec, InvalidRecord, InvalidVersion
from solvent.string_match import split_features
from solvent.version import VersionOrder, parse_version

if TYPE_CHECKING:
    from solvent.match_spec import MatchSpec

#: Timestamps below this are seconds, above it milliseconds (year 9999 in seconds), as in conda.
_SECONDS_LIMIT = 253402300799
VIRTUAL_CHANNEL = "@"


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    if type(value) is list or type(value) is tuple:
        # Joining checks in C that every item is a string (as repodata's always are): five times
        # quicker than converting each one, for the depends of every record a solve builds.
        try:
            "".join(value)
            return tuple(value)
        except TypeError:
            pass
    return tuple(map(str, value))


def _timestamp_ms(value: Any) -> int:
    if not value:
        return 0
    try:
        ts = float(value)
    except (TypeError, ValueError):
        return 0
    if ts < _SECONDS_LIMIT:
        ts *= 1000
    return int(ts)


class PackageRecord:
    """A package build: identity, dependencies and the facts lockfiles need."""

    __slots__ = (
        "_constrains_specs",
        "_depends_specs",
        "_version_order",
        "build",
        "build_number",
        "channel",
        "constrains",
        "depends",
        "features",
        "fn",
        "license",
        "md5",
        "name",
        "noarch",
        "sha256",
        "size",
        "subdir",
        "timestamp",
        "track_features",
        "url",
        "version",
    )

    def __init__(
        self,
        name: str,
        version: str,
        build: str = "0",
        build_number: int = 0,
        *,
        depends: tuple[str, ...] = (),
        constrains: tuple[str, ...] = (),
        track_features: tuple[str, ...] = (),
        features: tuple[str, ...] = (),
        subdir: str = "noarch",
        noarch: str | None = None,
        timestamp: int = 0,
        md5: str | None = None,
        sha256: str | None = None,
        size: int | None = None,
        license: str | None = None,
        fn: str | None = None,
        channel: str = "",
        url: str | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.build = build
        self.build_number = build_number
        self.depends = depends
        self.constrains = constrains
        self.track_features = track_features
        self.features = features
        self.subdir = subdir
        self.noarch = noarch
        self.timestamp = timestamp
        self.md5 = md5
        self.sha256 = sha256
        self.size = size
        self.license = license
        self.fn = fn or f"{name}-{version}-{build}.tar.bz2"
        self.channel = channel
        self.url = url
        self._version_order: VersionOrder | None = None
        self._depends_specs: tuple[MatchSpec, ...] | None = None
        self._constrains_specs: tuple[MatchSpec, ...] | None = None

    @classmethod
    def from_repodata(
        cls,
        fn: str,
        entry: Mapping[str, Any],
        channel: str | None = None,
        subdir: str | None = None,
        base_url: str | None = None,
    ) -> PackageRecord:
        """Build a record from one ``packages`` / ``packages.conda`` entry of a repodata file.

        Raises :class:`InvalidRecord` naming the file and the field when the entry is unusable.
        """
        if type(entry) is not dict and not isinstance(entry, Mapping):  # dict first: typing's check is slow
            raise InvalidRecord(f"{fn}: repodata entry is not an object")
        name = entry.get("name")
        version = entry.get("version")
        if not name or not isinstance(name, str):
            raise InvalidRecord(f"{fn}: missing or invalid 'name'")
        if version is None or version == "":
            raise InvalidRecord(f"{fn}: missing 'version'")
        version = str(version)
        try:
            order = parse_version(version)
        except InvalidVersion as exc:
            raise InvalidRecord(f"{fn}: {exc}") from None
        try:
            build_number = int(entry.get("build_number") or 0)
        except (TypeError, ValueError):
            raise InvalidRecord(f"{fn}: invalid 'build_number' {entry.get('build_number')!r}") from None
        get = entry.get
        sd = subdir or get("subdir") or "noarch"
        noarch = get("noarch")
        if noarch is True:
            noarch = "generic"
        size = get("size")
        tf = get("track_features")
        ft = get("features")
        build = get("build", "0")
        # Slots are filled directly, not through __init__'s keywords: an index builds thousands
        # of records per solve, and the keyword call was a fifth of each record's cost.
        record = object.__new__(cls)
        record.name = name.lower()
        record.version = version
        record.build = build if type(build) is str else str(build)
        record.build_number = build_number
        record.depends = _tuple_of_str(get("depends"))
        record.constrains = _tuple_of_str(get("constrains"))
        record.track_features = tuple(sorted(split_features(tf))) if tf else ()
        record.features = tuple(sorted(split_features(ft))) if ft else ()
        record.subdir = sd
        record.noarch = str(noarch) if noarch else None
        record.timestamp = _timestamp_ms(get("timestamp"))
        record.md5 = get("md5")
        record.sha256 = get("sha256")
        record.size = int(size) if isinstance(size, (int, float)) else None
        record.license = get("license")
        record.fn = fn or f"{name.lower()}-{version}-{record.build}.tar.bz2"
        record.channel = channel or ""
        record.url = None if base_url is None else base_url.rstrip("/") + "/" + fn
        record._depends_specs = None
        record._constrains_specs = None
        record._version_order = order  # parsed above to validate: keep it
        return record

    @classmethod
    def virtual(cls, name: str, version: str, build: str = "0", subdir: str = "noarch") -> PackageRecord:
        """A virtual package (``__cuda``, ``__glibc``, ...): a fact about the target, not a file."""
        if not name.startswith("__"):
            raise InvalidRecord(f"virtual package names start with '__': {name!r}")
        try:
            parse_version(version)
        except InvalidVersion as exc:
            raise InvalidRecord(f"virtual package {name}: {exc}") from None
        return cls(name, version, build, 0, subdir=subdir, channel=VIRTUAL_CHANNEL, fn=f"{name}-{version}-{build}")

    @classmethod
    def feature(cls, feature: str) -> PackageRecord:
        """conda's stand-in for a feature asked for directly (``*[track_features=mkl]``): it
        tracks the feature, so builds that have it are allowed, without installing any package."""
        name = f"{feature}@"
        return cls(name, "0", "0", 0, track_features=(feature,), channel=VIRTUAL_CHANNEL, fn=name)

    # -- lazily parsed parts -----------------------------------------------------------------
    @property
    def version_order(self) -> VersionOrder:
        vo = self._version_order
        if vo is None:
            vo = self._version_order = parse_version(self.version)
        return vo

    @property
    def depends_specs(self) -> tuple[MatchSpec, ...]:
        specs = self._depends_specs
        if specs is None:
            specs = self._depends_specs = self._parse_specs(self.depends, "depends")
        return specs

    @property
    def constrains_specs(self) -> tuple[MatchSpec, ...]:
        specs = self._constrains_specs
        if specs is None:
            specs = self._constrains_specs = self._parse_specs(self.constrains, "constrains")
        return specs

    def _parse_specs(self, items: tuple[str, ...], field: str) -> tuple[MatchSpec, ...]:
        from solvent.match_spec import parse_match_spec

        out = []
        for item in items:
            try:
                out.append(parse_match_spec(item))
            except InvalidMatchSpec as exc:
                raise InvalidRecord(f"{self.dist_str()}: bad {field} entry: {exc}") from None
        return tuple(out)

    @property
    def is_virtual(self) -> bool:
        return self.channel == VIRTUAL_CHANNEL

    # -- identity ----------------------------------------------------------------------------
    def dist_str(self) -> str:
        return f"{self.channel}/{self.subdir}::{self.name}-{self.version}-{self.build}"

    def to_repodata(self) -> dict[str, Any]:
        """The record as a repodata entry (JSON-ready, stable keys)."""
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "build_number": self.build_number,
            "depends": list(self.depends),
            "subdir": self.subdir,
        }
        if self.constrains:
            out["constrains"] = list(self.constrains)
        if self.track_features:
            out["track_features"] = " ".join(self.track_features)
        if self.features:
            out["features"] = " ".join(self.features)
        for key in ("noarch", "md5", "sha256", "size", "license"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.timestamp:
            out["timestamp"] = self.timestamp
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackageRecord):
            return NotImplemented
        return (self.channel, self.subdir, self.fn) == (other.channel, other.subdir, other.fn)

    def __hash__(self) -> int:
        return hash((self.channel, self.subdir, self.fn))

    def __repr__(self) -> str:
        return f"PackageRecord({self.dist_str()!r})"
