"""conda classic's objectives, and lexicographic minimization over the lazy encoding.

conda's classic solver (``Resolve.solve`` in conda/resolve.py) does not decide greedily: it
minimizes a sequence of objectives over the whole solution, each one fixed at its optimum before
the next is considered. The objectives that matter for ordinary requests are, in order:

1. requested names: channel rank, then version rank;
2. the number of distinct ``track_features`` switched on, then the "misfeature" count: records
   installed without a feature that a tracker in the solution switched on, while another build of
   the same name has it (so ``nomkl`` installed pulls the ``nomkl`` builds of numpy and friends);
3. requested names: build-number rank, then arch-before-noarch;
4. installed packages that would change (when solving against an existing environment);
5. every other name: channel, version, build-number and arch ranks;
6. the number of packages not named by any spec (prune what is not needed);
7. timestamps.

A rank is computed per name, exactly as conda does: sort the name's candidates by conda's version
key (best first) and count how many times the key changes before a record; the channel rank of a
record counts changes of the channel part, its version rank counts version changes within the
same channel, and so on.

Minimization starts from the greedy solution (usually optimal or close) and tightens a guarded
pseudo-boolean bound ``sum(weights) <= k`` until the engine proves no better value exists. Each
proof gets a conflict budget: a pass that runs out keeps the best solution found so far, so the
optimizer is bounded and never worse than greedy.
"""

from __future__ import annotations

from itertools import islice
from typing import Callable, Iterable, Sequence

from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.slots import SlotValue
from solvent.solver.encoding import REQUEST, Encoding
from solvent.solver.provider import Provider

Terms = dict[int, int]  # literal -> positive weight


class Objective(SlotValue):
    """A named objective whose terms are computed over the names touched so far."""

    __slots__ = ("name", "terms")

    def __init__(self, name: str, terms: Callable[[], Terms]) -> None:
        self.name = name
        self.terms = terms


def version_ranks(
    records: Sequence[PackageRecord], key: Callable[[PackageRecord], tuple]
) -> list[tuple[PackageRecord, tuple[int, int, int, int, int]]]:
    """conda's per-record ranks (channel, version, build, arch, timestamp) within one name."""
    keys = [key(r) for r in records]
    out = []
    prev: tuple | None = None
    ic = iv = ib = ia = it = 0
    for i in sorted(range(len(keys)), key=keys.__getitem__, reverse=True):
        record = records[i]
        k = keys[i]
        if prev is not None:
            if prev[0] != k[0] or prev[1] != k[1]:
                ic += 1
                iv = ib = ia = it = 0
            elif prev[2] != k[2]:
                iv += 1
                ib = ia = it = 0
            elif prev[3] != k[3]:
                ib += 1
                ia = it = 0
            elif prev[4] != k[4]:
                ia += 1
                it = 0
            elif prev[5] != k[5]:
                it += 1
        out.append((record, (ic, iv, ib, ia, it)))
        prev = k
    return out


class ClassicObjectives:
    """Builds conda classic's objective sequence for one encoding."""

    def __init__(
        self,
        encoding: Encoding,
        requested: Iterable[str],
        spec_names: Iterable[str],
        targets: Sequence[PackageRecord] = (),
        freeze: bool = False,
    ) -> None:
        self.encoding = encoding
        self.requested = frozenset(requested)
        self.spec_names = frozenset(spec_names)
        self.targets = tuple(targets)
        self.freeze = freeze
        self._ranks: dict[str, list[tuple[int, tuple[int, int, int, int, int]]]] = {}
        self._misfeature_var: dict[tuple[int, str], int] = {}
        self._misfeature_links: set[tuple[int, int]] = set()

    def _name_ranks(self, name: str) -> list[tuple[int, tuple[int, int, int, int, int]]]:
        found = self._ranks.get(name)
        if found is None:
            enc = self.encoding
            key = enc.provider.policy.classic_version_key
            records = [enc.record_of[v] for v in enc.name_vars[name]]
            found = self._ranks[name] = [(enc.var_of[r], ranks) for r, ranks in version_ranks(records, key)]
        return found

    def _metric(self, index: int, requested: bool) -> Callable[[], Terms]:
        def part(name: str, out: Terms) -> None:
            if name.startswith("__") or (name in self.requested) != requested:
                return
            for var, ranks in self._name_ranks(name):
                if ranks[index]:
                    out[var] = ranks[index]

        return _PerName(self.encoding, part)

    def _feature_count(self) -> Terms:
        return {var: 1 for var in self.encoding.feature_var.values()}

    def _feature_metric(self) -> Terms:
        """conda's ``generate_feature_metric``: one per (record, feature) where the record lacks a
        feature that other builds of its name have and some installed record tracks."""
        enc = self.encoding
        sat = enc.sat
        out: Terms = {}
        trackers = enc.feature_trackers
        if not trackers:
            return out  # no feature is tracked (yet): nothing to miss
        for name_vars in list(enc.name_vars.values()):
            records = [(v, enc.record_of[v]) for v in name_vars]
            active = {f for _, r in records for f in r.features if f in trackers}
            for feature in sorted(active):
                for var, record in records:
                    if feature in record.features:
                        continue
                    key = (var, feature)
                    metric = self._misfeature_var.get(key)
                    if metric is None:
                        metric = self._misfeature_var[key] = sat.new_var()
                    # metric >= record AND (some tracker installed); new trackers may appear later
                    for tracker in trackers[feature]:
                        if (metric, tracker) not in self._misfeature_links:
                            self._misfeature_links.add((metric, tracker))
                            sat.add_clause((-var, -tracker, metric), tag=("misfeature", feature))
                    out[metric] = 1
        return out

    def _update_count(self) -> Terms:
        enc = self.encoding
        out: Terms = {}
        for record in self.targets:
            var = enc.var_of.get(record)
            if var is not None:
                out[-var] = 1
        return out

    def _package_count(self, name: str, out: Terms) -> None:
        """One per installed name that no spec mentions: conda prunes what nothing needs."""
        if name in self.spec_names or name.startswith("__") or not self.encoding.name_vars[name]:
            return
        out[self.encoding.installed(name)] = 1

    def _timestamps(self) -> Callable[[], Terms]:
        requested = self._metric(4, True)
        others = self._metric(4, False)

        def terms() -> Terms:
            out = requested()
            out.update(others())
            return out

        return terms

    def sequence(self) -> list[Objective]:
        objectives = [
            Objective("requested channel", self._metric(0, True)),
            Objective("requested version", self._metric(1, True)),
            Objective("track_features count", self._feature_count),
            Objective("misfeature count", self._feature_metric),
            Objective("requested build number", self._metric(2, True)),
            Objective("requested arch over noarch", self._metric(3, True)),
            Objective("installed packages changed", self._update_count),
            Objective("dependency channel", self._metric(0, False)),
            Objective("dependency version", self._metric(1, False)),
            Objective("dependency build number", self._metric(2, False)),
            Objective("dependency arch over noarch", self._metric(3, False)),
            Objective("package count", _PerName(self.encoding, self._package_count)),
            Objective("timestamps", self._timestamps()),
        ]
        if self.freeze:
            objectives.insert(0, objectives.pop(6))
        return objectives


class _PerName:
    """Terms that sum a part per touched name, each part fixed once its name is touched.

    The optimizer asks for an objective's terms again and again (after every model, and for
    every finished objective whenever the encoding grew); names are only ever added, so each call
    reads just the names touched since the last one instead of all of them, a thousand on a
    large environment.
    """

    __slots__ = ("done", "encoding", "out", "part")

    def __init__(self, encoding: Encoding, part: Callable[[str, Terms], None]) -> None:
        self.encoding = encoding
        self.part = part
        self.done = 0
        self.out: Terms = {}

    def __call__(self) -> Terms:
        names = self.encoding.name_vars
        if len(names) > self.done:
            part = self.part
            out = self.out
            for name in islice(names, self.done, None):
                part(name, out)
            self.done = len(names)
        return dict(self.out)  # a copy: callers may keep or change theirs


def value_of(terms: Terms, model: set[int]) -> int:
    total = 0
    for lit, weight in terms.items():
        if (lit in model) if lit > 0 else (-lit not in model):
            total += weight
    return total


def objective_vector(
    provider: Provider, specs: Sequence[MatchSpec], chosen: set[tuple[str, str, str]]
) -> list[tuple[str, int]] | None:
    """conda's objective vector of an answer given as (name, version, build) keys, evaluated in a
    fresh encoding of the problem; None when the encoding rejects it (it breaks a dependency or a
    constraint). Two answers that differ compare by it whoever produced them: another solver
    (``python -m benchmarks score``), or solvent with its pick among ties cut short."""
    provider.set_roots(specs)
    enc = Encoding(provider)
    for spec in specs:
        enc.require(0, spec, (REQUEST, spec))
    for name in sorted({name for name, _, _ in chosen}):
        enc.touch(name)
    model = {v for v, r in enc.record_of.items() if (r.name, r.version, r.build) in chosen}
    names = {s.name for s in specs}
    sequence = ClassicObjectives(enc, names, names).sequence()
    for objective in sequence:
        objective.terms()  # their auxiliary variables exist before propagation values them
    for var in sorted(model):
        enc.expand(var)
    sat = enc.sat
    if not sat.implied(sorted(model)):
        return None
    true = model | {v for v in range(1, sat.num_vars + 1) if v not in enc.record_of and sat.value(v) is True}
    return [(o.name, value_of(o.terms(), true)) for o in sequence]
