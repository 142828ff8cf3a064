"""``SolventResolve``: conda's ``Resolve`` with the SAT solve replaced by solvent's resolver.

conda classic's ``Resolve.solve(specs)`` receives the final spec list of a command, where each
spec carries two conda-only flags that encode the whole install/update policy:

- ``target``: the dist string of the installed record the spec should keep if it can (conda's
  "dependency update count" objective);
- ``optional``: the spec constrains the name only if something else brings it in (pins, and
  installed packages conda would rather keep but lets go of on conflict).

``Resolve.solve`` splits them into requested specs (neither flag), other specs (a target) and
optional specs, and minimizes its objective sequence. solvent's :class:`~solvent.solver.resolver.Resolver`
has the same objectives; this module maps the three groups onto it (requested -> ``specs``,
targeted -> ``required`` + ``targets``, optional -> candidate filters that only bite when the name
is present) and converts conda's records both ways. The records are those of classic's reduced
index for the same specs (``Resolve.get_reduced_index``), so channel priorities, ``--exclude-newer``
cutoffs, installed records missing from every channel, the virtual packages and the version ranks
are the ones classic would see.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Sequence

from conda.base.context import context
from conda.exceptions import ResolvePackageNotFound, UnsatisfiableError

from solvent.collector import collector_paused
from solvent.errors import InvalidInput, Unsatisfiable
from solvent.match_spec import MatchSpec, parse_match_spec
from solvent.record import VIRTUAL_CHANNEL, PackageRecord
from solvent.solver.provider import Provider, requested_features

log = logging.getLogger("conda.solvent")


class SolventUnsatisfiableError(UnsatisfiableError):
    """conda's UnsatisfiableError with solvent's explanation as its text.

    A subclass (not classic's class itself), without classic's ``unsatisfiable`` attribute:
    those are chains from classic's own ``find_conflicts``, which solvent does not compute, and
    test suites (conda's ``SolverTests``, pytest-conda-solvers) compare them only when the class
    is classic's or the attribute exists; otherwise they look for the conflicting names in the
    text. ``allow_retry`` is False: solvent's answer does not change when conda retries with
    another repodata file name or unfrozen.
    """

    allow_retry = False

    def __init__(self, explanation: str, conflict: object = None) -> None:
        from conda import CondaError

        # classic's __init__ formats bad_deps; the text here is already formatted. '%' is doubled
        # because CondaError %-formats messages that carry keyword arguments.
        CondaError.__init__(self, explanation.replace("%", "%%") if "%" in explanation else explanation)
        # conda's --json error output serializes every attribute of the exception.
        to_dict = getattr(conflict, "to_dict", None)
        self.conflict = to_dict() if to_dict is not None else None

    def __str__(self) -> str:
        return str(self.message).replace("%%", "%")


def _channel_name(prec: Any) -> str:
    channel = prec.channel
    return str(getattr(channel, "canonical_name", None) or getattr(channel, "name", None) or channel)


def _timestamp_ms(value: Any) -> int:
    if not value:
        return 0
    ts = float(value)
    return int(ts * 1000) if ts < 253402300799 else int(ts)


def to_solvent_record(prec: Any, subdir: str) -> PackageRecord:
    """One conda record as solvent's, keeping what the solver and its objectives look at.

    ``subdir`` is the record's subdir unless it is neither the platform nor noarch (conda's test
    indexes put records in channels whose subdir they do not name): solvent filters candidates by
    subdir, conda by the channel the record was read from.
    """
    if prec.name.startswith("__"):
        return PackageRecord.virtual(prec.name, prec.version, prec.build, subdir=subdir)
    noarch = prec.noarch
    return PackageRecord(
        prec.name,
        prec.version,
        prec.build,
        int(prec.build_number or 0),
        depends=tuple(prec.depends or ()),
        constrains=tuple(prec.constrains or ()),
        track_features=tuple(prec.track_features or ()),
        features=tuple(prec.features or ()),
        subdir=subdir,
        noarch=str(getattr(noarch, "value", noarch)) if noarch else None,
        timestamp=_timestamp_ms(prec.timestamp),
        md5=prec.get("md5", None),
        sha256=prec.get("sha256", None),
        fn=prec.fn,
        channel=_channel_name(prec),
        url=prec.get("url", None),
    )


def to_solvent_spec(spec: Any) -> MatchSpec:
    """A conda MatchSpec without its ``target``/``optional`` flags, in solvent's grammar.

    conda's ``str()`` is the canonical MatchSpec text both parse; channels print as canonical
    names, which is also what :func:`to_solvent_record` stores as a record's channel.
    """
    from conda.models.match_spec import MatchSpec as CondaMatchSpec

    plain = CondaMatchSpec(spec, target=None, optional=False)
    return parse_match_spec(str(plain))


def _split_specs(conda_specs: Iterable[Any]) -> tuple[list[MatchSpec], list[MatchSpec], list[MatchSpec], list[str]]:
    """classic's three groups (requested, targeted, optional) in solvent's grammar, and the
    dist strings of the targets."""
    requested: list[MatchSpec] = []
    required: list[MatchSpec] = []
    optional: list[MatchSpec] = []
    target_dists: list[str] = []
    for spec in sorted(conda_specs, key=str):
        converted = to_solvent_spec(spec)
        if spec.target:
            target_dists.append(str(spec.target))
        if spec.name.startswith("__") and str(converted) == spec.name:
            # classic asks for every virtual package by bare name: a fact of the system that no
            # objective ranks and nothing can remove, so it adds nothing to the problem (and
            # would crowd an explanation). Constrained ones (pins) stay.
            continue
        if spec.optional:
            optional.append(converted)
        elif spec.target or spec.name.startswith("__"):
            required.append(converted)
        else:
            requested.append(converted)
    return requested, required, optional, target_dists


class _IndexSource:
    """conda's index as a solvent record source, ranked by classic's channel priorities."""

    def __init__(self, index: Iterable[Any], platform: str, priorities: dict[str, int]) -> None:
        self.by_name: dict[str, list[PackageRecord]] = {}
        self.conda_of: dict[int, Any] = {}
        self.by_dist: dict[str, PackageRecord] = {}
        self.virtual: list[PackageRecord] = []
        self._rank: dict[int, int] = {}
        for prec in index:
            if prec.name.endswith("@"):
                continue  # feature pseudo-records: solvent's provider makes its own
            subdir = prec.subdir if prec.subdir in (platform, "noarch") else platform
            record = to_solvent_record(prec, subdir)
            self.conda_of[id(record)] = prec
            self.by_dist[prec.dist_str()] = record
            # classic's Resolve.version_key: a channel it was not given ranks 1, not last.
            self._rank[id(record)] = priorities.get(prec.channel.name, 1)
            if record.channel == VIRTUAL_CHANNEL:
                self.virtual.append(record)
            else:
                self.by_name.setdefault(record.name, []).append(record)

    def records(self, name: str) -> Sequence[PackageRecord]:
        return self.by_name.get(name, ())

    def channel_rank(self, record: PackageRecord) -> int:
        return self._rank.get(id(record), 1)

    def names(self) -> set[str]:
        return set(self.by_name)


class SolventResolve:
    """Wraps the ``Resolve`` conda built; everything but ``solve()`` is classic's.

    A wrapper rather than a subclass so conda's pre-solve helpers (``get_conflicting_specs``,
    ``bad_installed``, ``find_matches``...) run on the very object classic would have used.
    """

    def __init__(self, inner: Any, subdirs: Sequence[str] = ()) -> None:
        self._inner = inner
        self._subdirs = tuple(subdirs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def solve(
        self,
        specs: Sequence[Any],
        returnall: bool = False,
        _remove: bool = False,
        specs_to_add: Any = None,
        history_specs: Any = None,
        should_retry_solve: bool = False,
    ) -> list[Any]:
        """classic's ``Resolve.solve`` contract: the package set (sorted by name) or an error."""
        from conda.models.match_spec import MatchSpec as CondaMatchSpec

        r = self._inner
        conda_specs = {s if isinstance(s, CondaMatchSpec) else CondaMatchSpec(s) for s in specs}
        if not conda_specs:
            return []
        missing = {s for s in conda_specs if not s.optional and not r.find_matches(s) and s.name not in r.groups}
        if missing:
            raise ResolvePackageNotFound(missing)

        try:
            problem = _split_specs(conda_specs)
        except InvalidInput as exc:
            return self._classic(exc, specs, returnall, _remove, specs_to_add, history_specs, should_retry_solve)

        platform = next((s for s in self._subdirs if s != "noarch"), None) or context.subdir
        # classic ranks versions over its reduced index (what survives its pruning for these
        # specs, strict channel priority applied), not over every record: solving on the same
        # records gives the same ranks, hence the same answer.
        reduced = r.get_reduced_index(tuple(conda_specs), exit_on_conflict=not context.unsatisfiable_hints)
        try:
            source, resolver = self._run(reduced.values() if reduced else r.index.values(), platform, *problem)
        except InvalidInput as exc:
            return self._classic(exc, specs, returnall, _remove, specs_to_add, history_specs, should_retry_solve)
        except Unsatisfiable as exc:
            if should_retry_solve:
                # classic's protocol: a quick, empty error so conda's CLI retries unfrozen (or
                # with the next repodata file) before anything is explained.
                raise UnsatisfiableError({}) from None
            error = exc
            if reduced:
                # The reduction drops what cannot be installed, so an explanation over it says
                # "no such package"; over the whole index it names the real conflict.
                try:
                    self._run(r.index.values(), platform, *problem)
                except Unsatisfiable as full:
                    error = full
            raise SolventUnsatisfiableError(str(error), error.conflict) from None
        assert resolver.encoding is not None
        chosen = resolver.encoding.chosen(resolver.model)
        out = []
        for record in chosen:
            prec = source.conda_of.get(id(record))
            # classic's solution drops feature pseudo-records and (their dist strings hold '@')
            # virtual packages; the caller's PrefixGraph never sees either.
            if prec is None or record.is_virtual:
                continue
            out.append(prec)
        return sorted(out, key=lambda p: p.name)

    def _classic(self, reason: Exception, *args: Any) -> list[Any]:
        """classic's own solve, for what solvent cannot read (a spec or record outside the
        grammar it implements): a user's command should not fail because of the plugin."""
        log.warning("solvent cannot solve this request (%s); using conda's classic solve", reason)
        return self._inner.solve(*args)

    @collector_paused
    def _run(
        self,
        records: Iterable[Any],
        platform: str,
        requested: list[MatchSpec],
        required: list[MatchSpec],
        optional: list[MatchSpec],
        target_dists: list[str],
    ) -> tuple[_IndexSource, Any]:
        """One solvent solve over ``records``; raises solvent's Unsatisfiable."""
        from solvent.solver.resolver import Resolver

        source = _IndexSource(records, platform, self._inner._channel_priorities_map)
        # A target that is not a record's dist string (conda sometimes passes a MatchSpec) counts
        # for nothing in classic's update count either.
        targets = [source.by_dist[d] for d in target_dists if d in source.by_dist]
        provider = Provider(
            source,
            platform=platform,
            virtual_packages=source.virtual,
            channel_priority=str(context.channel_priority.value).lower(),
            pins=optional,
            features=requested_features([*requested, *required]),
        )
        resolver = Resolver(provider)
        resolver.resolve(requested, required=required, targets=targets, also_named=[s.name for s in optional])
        return source, resolver
