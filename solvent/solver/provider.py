"""The interface between the search and the package world.

The search never sees channels, files or HTTP: it asks a :class:`Provider` for the candidates of a
name (already filtered and in policy order), which candidates match a spec, and what a candidate
depends on or constrains. Anything that can list records by name (a :class:`RecordSource`) can
feed it: the channel index, an in-memory :class:`RecordSet` in tests, a lockfile.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Callable, Iterable, Protocol, Sequence, runtime_checkable

from solvent.errors import InvalidMatchSpec
from solvent.match_spec import MatchSpec, parse_match_spec
from solvent.record import PackageRecord
from solvent.solver.policy import CandidatePolicy


@runtime_checkable
class RecordSource(Protocol):
    """Where records come from: by name, with the rank of their channel (0 = highest priority)."""

    def records(self, name: str) -> Sequence[PackageRecord]: ...

    def channel_rank(self, record: PackageRecord) -> int: ...


class RecordSet:
    """An in-memory record source, ranked by a channel list (first = highest priority)."""

    def __init__(self, records: Iterable[PackageRecord], channels: Sequence[str] = ()) -> None:
        self._by_name: dict[str, list[PackageRecord]] = defaultdict(list)
        for record in records:
            self._by_name[record.name].append(record)
        self._ranks = {channel: i for i, channel in enumerate(channels)}

    def records(self, name: str) -> Sequence[PackageRecord]:
        return self._by_name.get(name, ())

    def channel_rank(self, record: PackageRecord) -> int:
        rank = self._ranks.get(record.channel)
        if rank is None:
            rank = self._ranks[record.channel] = len(self._ranks)
        return rank

    def names(self) -> set[str]:
        return set(self._by_name)


class Provider:
    """Candidates, matches and dependencies for one solve, with caching.

    Filtering happens here, once per name, so every back-end sees the same candidates: wrong
    subdir, newer than ``exclude_newer``, excluded by a pin, or (strict channel priority) from a
    lower-priority channel than the best channel that has the name.
    """

    def __init__(
        self,
        source: RecordSource,
        *,
        platform: str,
        virtual_packages: Sequence[PackageRecord] = (),
        channel_priority: str = "flexible",
        pins: Sequence[MatchSpec | str] = (),
        exclude_newer_ms: int | None = None,
        prefer: Callable[[PackageRecord], bool] | None = None,
        add_pip_as_python_dependency: bool = False,
        features: Iterable[str] = (),
    ) -> None:
        self.source = source
        # Features asked for directly: conda adds a pseudo record "<feature>@" that tracks each.
        self.feature_records = {f: PackageRecord.feature(f) for f in sorted(set(features))}
        self.platform = platform
        self.policy = CandidatePolicy(channel_priority, source.channel_rank)
        self.virtual_packages = {r.name: r for r in virtual_packages}
        self.pins: dict[str, list[MatchSpec]] = defaultdict(list)
        for pin in pins:
            spec = pin if isinstance(pin, MatchSpec) else parse_match_spec(pin)
            self.pins[spec.name].append(spec)
        self.exclude_newer_ms = exclude_newer_ms
        self.prefer = prefer
        self.add_pip = add_pip_as_python_dependency
        self._candidates: dict[str, tuple[PackageRecord, ...]] = {}
        self._matches: dict[MatchSpec, tuple[PackageRecord, ...]] = {}
        self._dependencies: dict[PackageRecord, tuple[MatchSpec, ...]] = {}
        self._trackers: dict[str, tuple[PackageRecord, ...]] = {}
        self._roots: tuple[MatchSpec, ...] | None = None
        self._pulled_in: set[PackageRecord] | None = None

    def set_roots(self, specs: Iterable[MatchSpec]) -> None:
        """The specs of the problem, for conda's rule that a feature never pulls its tracker in.

        A record with ``features: f`` needs some record that tracks ``f`` installed, but conda
        only counts trackers its reduced index holds, and that index follows a ``track_features``
        dependency only for the records the request itself matches ("a feature is a soft
        dependency: it must be in the environment, but it is not pulled in"). So a dependency
        deep in the graph that needs the ``mkl`` feature is out unless the request, or an
        ordinary dependency, reaches a package that tracks ``mkl``. Without roots every tracker
        counts (rattler's reading).
        """
        self._roots = tuple(specs)
        self._pulled_in = None
        for spec in [m for m in self._matches if _spec_track_features(m)]:
            del self._matches[spec]

    # -- candidates ---------------------------------------------------------------------------
    def candidates(self, name: str) -> tuple[PackageRecord, ...]:
        """Every installable record of ``name``, best first."""
        found = self._candidates.get(name)
        if found is None:
            found = self._candidates[name] = tuple(self._load(name))
        return found

    def _load(self, name: str) -> list[PackageRecord]:
        if name.startswith("__"):
            virtual = self.virtual_packages.get(name)
            return [virtual] if virtual is not None else []
        if name.endswith("@"):
            pseudo = self.feature_records.get(name[:-1])
            return [pseudo] if pseudo is not None else []
        subdirs = (self.platform, "noarch")
        records = [r for r in self.source.records(name) if r.subdir in subdirs]
        if self.exclude_newer_ms is not None:
            cutoff = self.exclude_newer_ms
            records = [r for r in records if not r.timestamp or r.timestamp <= cutoff]
        for pin in self.pins.get(name, ()):
            records = [r for r in records if pin.match(r)]
        if records and self.policy.channel_priority == "strict":
            rank = self.policy.rank
            best = min(rank(r) for r in records)
            records = [r for r in records if rank(r) == best]
        ordered = self.policy.sort(records)
        if self.prefer is not None:
            preferred = [r for r in ordered if self.prefer(r)]
            if preferred:
                ordered = preferred + [r for r in ordered if not self.prefer(r)]
        return ordered

    def matches(self, spec: MatchSpec) -> tuple[PackageRecord, ...]:
        """Candidates that satisfy ``spec``, in policy order."""
        found = self._matches.get(spec)
        if found is None:
            if _is_exact_name(spec.name):
                pool: Sequence[PackageRecord] = self.candidates(spec.name)
            else:
                pool = self._glob_pool(spec)
            found = self._matches[spec] = tuple(spec.select(pool))
        return found

    def _glob_pool(self, spec: MatchSpec) -> list[PackageRecord]:
        """Candidates for a spec whose name is a glob (``*[track_features=mkl]``, ``py*``)."""
        features = _spec_track_features(spec)
        if features:
            pool: list[PackageRecord] = []
            for feature in sorted(features):
                pool.extend(self.trackers(feature))
            if self._roots is not None and spec not in self._roots:
                pulled = self._reachable()
                pool = [r for r in pool if r in pulled or r.name.endswith("@")]
            return pool
        names = getattr(self.source, "names", None)
        if names is None:
            return []
        out: list[PackageRecord] = []
        for name in sorted(names()):
            out.extend(self.candidates(name))
        return out

    def trackers(self, feature: str) -> tuple[PackageRecord, ...]:
        """Records that switch ``feature`` on (legacy conda features)."""
        found = self._trackers.get(feature)
        if found is None:
            # A source that knows which names track what (ChannelIndex reads it from its index
            # header) spares building the records of every name in the channels.
            known = getattr(self.source, "tracker_names", None)
            if known is not None:
                names: Iterable[str] = sorted(known(feature))
            else:
                every = getattr(self.source, "names", None)
                names = sorted(every()) if every is not None else ()
            records = [r for name in names for r in self.candidates(name) if feature in r.track_features]
            pseudo = self.feature_records.get(feature)
            found = self._trackers[feature] = tuple([pseudo, *records] if pseudo is not None else records)
        return found

    def _reachable(self) -> set[PackageRecord]:
        """Records that conda's reduced index holds: the roots' matches, everything their
        dependencies reach, and the trackers of the roots' matches' own features; features
        deeper down are not followed. Computed once, and only when a featured record is met: it
        reads every reachable name, which legacy-feature channels are small enough for."""
        if self._pulled_in is None:
            indexed = self._index_names()
            seen: set[PackageRecord] = set()
            done: set[tuple[MatchSpec, bool]] = set()
            queue = deque((spec, True) for spec in self._roots or ())
            while queue:
                spec, root = queue.popleft()
                if (spec, root) in done:
                    continue
                done.add((spec, root))
                features = _spec_track_features(spec)
                if _is_exact_name(spec.name):
                    # the candidates all have the spec's name; matches() is what the encoding
                    # asks for the same specs later
                    found: Sequence[PackageRecord] = self.matches(spec) if spec.name in indexed else ()
                else:
                    if features:
                        pool: Sequence[PackageRecord] = [r for f in sorted(features) for r in self.trackers(f)]
                    else:
                        pool = self._glob_pool(spec)
                    found = spec.select(r for r in pool if r.name in indexed)
                for record in found:
                    if record in seen and not root:
                        continue
                    seen.add(record)
                    for dep in self.dependencies(record):
                        if root or not _spec_track_features(dep):
                            queue.append((dep, False))
            self._pulled_in = seen
        return self._pulled_in

    def _index_names(self) -> set[str]:
        """The names conda loads into its index for these roots: every name a dependency of any
        record of a collected name mentions, plus every tracker of a feature that a collected
        record tracks or a root asks for. A record's ``features`` add nothing, so a tracker no
        dependency names is not in conda's index at all."""
        names: set[str] = set()
        done_features: set[str] = set()
        pending: deque[str] = deque()
        pending_features: deque[str] = deque()
        # Every record of every collected name is read here, most of which no search will ever
        # consider: only the names of their dependencies are needed, once per depends string,
        # not each record's parsed specs (dependencies() adds nothing with an exact name but
        # pip, below).
        dep_names: dict[str, str | None] = {}
        for spec in self._roots or ():
            if _is_exact_name(spec.name):
                pending.append(spec.name)
            pending_features.extend(_spec_track_features(spec))
        while pending or pending_features:
            while pending:
                name = pending.popleft()
                if name in names:
                    continue
                names.add(name)
                for record in self.candidates(name):
                    for text in record.depends:
                        dep = dep_names.get(text, "")
                        if dep == "":
                            try:
                                dep_name = parse_match_spec(text).name
                            except InvalidMatchSpec:
                                self.dependencies(record)  # raises the InvalidRecord that names it
                                raise
                            dep = dep_names[text] = dep_name if _is_exact_name(dep_name) else None
                        if dep is not None and dep not in names:
                            pending.append(dep)
                    if name == "python" and self.add_pip:
                        pending.extend(d.name for d in self.dependencies(record) if d.name == "pip")
                    pending_features.extend(f for f in record.track_features if f not in done_features)
            while pending_features:
                feature = pending_features.popleft()
                if feature in done_features:
                    continue
                done_features.add(feature)
                pending.extend(r.name for r in self.trackers(feature) if r.name not in names)
        return names

    # -- edges ----------------------------------------------------------------------------------
    def dependencies(self, record: PackageRecord) -> tuple[MatchSpec, ...]:
        """What ``record`` needs installed: its depends, plus one tracker per feature it has."""
        found = self._dependencies.get(record)
        if found is None:
            deps = list(record.depends_specs)
            for feature in record.features:
                deps.append(parse_match_spec(f"*[track_features={feature}]"))
            if (
                self.add_pip
                and record.name == "python"
                and record.version.startswith(("2.", "3."))
                and not any(d.name == "pip" for d in deps)
            ):
                # conda's add_pip_as_python_dependency: pip rides along with every python 2/3.
                deps.append(parse_match_spec("pip"))
            found = self._dependencies[record] = tuple(deps)
        return found

    def constraints(self, record: PackageRecord) -> tuple[MatchSpec, ...]:
        """What ``record`` forbids: each constrains entry must match if its name is installed."""
        return record.constrains_specs


def _is_exact_name(name: str) -> bool:
    return "*" not in name and not name.startswith("^")


def requested_features(specs: Iterable[MatchSpec]) -> set[str]:
    """Features asked for by a bare ``*[track_features=...]`` spec (conda's feature request)."""
    out: set[str] = set()
    for spec in specs:
        if spec.name == "*":
            out |= _spec_track_features(spec)
    return out


def _spec_track_features(spec: MatchSpec) -> frozenset[str]:
    value = spec.get("track_features")
    if not value:
        return frozenset()
    if isinstance(value, str):
        return frozenset(v for v in value.replace(",", " ").split() if v)
    try:
        return frozenset(str(v) for v in value)
    except TypeError:
        return frozenset({str(value)})
