"""The reduced problem as CNF for picosat, and conda's objectives as bounded unary counters.

**Problem.** One variable per record that :class:`~.pycosat_reduce.Reduction` keeps, for the
names those records reach from the roots. At-most-one per name is a sequential counter (3n
clauses, n auxiliary variables, instead of n²/2 pairs). A ``depends`` entry is "record implies one
of the matches"; a match list longer than a few records gets one variable of its own, shared by
every record with the same spec (conda's ``push_MatchSpec`` does the same), so the hundreds of
packages that need ``python >=3.9,<3.10.0a0`` share one long clause instead of repeating it. A
``constrains`` entry excludes the non-matching records of its name, through a shared variable too
when there are many.

**Objectives.** conda's objectives are sums of per-record ranks, and at most one record per name
is installed, so a name contributes the rank of its one installed record. Each name becomes a
*leaf*: a few literals ``g_j`` meaning "the installed record's rank is at least v_j", one per
distinct rank (the records imply their level, the levels imply the one below). Leaves are merged
pairwise into a generalized totalizer (Joshi, Martins, Manquinho, CP 2015): a node's outputs say
"the sum below me is at least s" for each reachable sum s, capped at the largest bound the search
will try. Unlike conda's BDD, which is rebuilt (with new variables) for every bound of the
bisection, one counter serves every bound below its cap: a bound is the unit clause "not at least
B+1". Names that every solution installs (certain names) carry their smallest rank as a constant
floor, so only the excess over it is counted, and the usual optimum, no excess at all, needs no
counter, only unit clauses.
"""

from __future__ import annotations

import heapq
from typing import Callable, Sequence

from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.backends.pycosat_reduce import Reduction
from solvent.solver.objectives import version_ranks
from solvent.solver.provider import Provider

Clause = list[int]

#: a match list at least this long gets a shared variable (shorter ones are cheaper inline)
SHARE_FROM = 4


class CNF:
    """The reduced problem as clauses; variables are allocated here, for the objectives too."""

    def __init__(self, provider: Provider, reduction: Reduction) -> None:
        self.provider = provider
        self.reduction = reduction
        self.clauses: list[Clause] = []
        self.n_vars = 0
        self.var_of: dict[PackageRecord, int] = {}
        self.record_of: dict[int, PackageRecord] = {}
        self.name_vars: dict[str, list[int]] = {}
        self._spec_lit: dict[MatchSpec, list[int]] = {}
        self._excluded: dict[MatchSpec, list[int]] = {}
        self._synced = len(reduction.dead_order)

    def new_var(self) -> int:
        self.n_vars += 1
        return self.n_vars

    def _touch(self, name: str, queue: list[str]) -> list[int]:
        found = self.name_vars.get(name)
        if found is None:
            found = []
            for record in self.reduction.live(name):
                var = self.new_var()
                self.var_of[record] = var
                self.record_of[var] = record
                found.append(var)
            self.name_vars[name] = found
            self._at_most_one(found)
            queue.append(name)
        return found

    def _at_most_one(self, lits: Sequence[int]) -> None:
        if len(lits) <= 4:
            for i, a in enumerate(lits):
                for b in lits[i + 1 :]:
                    self.clauses.append([-a, -b])
            return
        # Sequential counter: s_i is true when some of lits[0..i] is true.
        prev = self.new_var()
        self.clauses.append([-lits[0], prev])
        for lit in lits[1:-1]:
            s = self.new_var()
            self.clauses += [[-lit, s], [-prev, s], [-lit, -prev]]
            prev = s
        self.clauses.append([-lits[-1], -prev])

    def live_vars(self, name: str) -> list[int]:
        dead = self.reduction.dead
        return [v for v in self.name_vars.get(name, ()) if self.record_of[v] not in dead]

    def sync(self) -> int:
        """Unit clauses for the records the reduction took out since the last call (after the
        CNF was built): picosat settles them before it searches. Returns how many."""
        order = self.reduction.dead_order
        added = 0
        for record in order[self._synced :]:
            var = self.var_of.get(record)
            if var is not None:
                self.clauses.append([-var])
                added += 1
        self._synced = len(order)
        return added

    def spec_vars(self, spec: MatchSpec) -> list[int]:
        """The variables of the records that can satisfy ``spec``, best first (names are encoded
        as they are met)."""
        var_of = self.var_of
        return [var_of[r] for r in self.reduction.live_matches(spec) if r in var_of]

    def _spec_lits(self, spec: MatchSpec, queue: list[str]) -> list[int]:
        """The tail of a dependency clause for ``spec``: its matches, or one shared literal."""
        found = self._spec_lit.get(spec)
        if found is None:
            matches = self.reduction.live_matches(spec)
            for name in {r.name for r in matches}:
                self._touch(name, queue)
            lits = [self.var_of[r] for r in matches]
            if len(lits) >= SHARE_FROM:
                shared = self.new_var()
                self.clauses.append([-shared, *lits])
                found = [shared]
            else:
                found = lits
            self._spec_lit[spec] = found
        return found

    def _excluded_lits(self, spec: MatchSpec) -> list[int]:
        """What a record that constrains ``spec`` excludes: the non-matching records of its name,
        or one shared literal implied by each of them."""
        found = self._excluded.get(spec)
        if found is None:
            lits = [v for v in self.name_vars.get(spec.name, ()) if not spec.match(self.record_of[v])]
            if len(lits) >= SHARE_FROM:
                shared = self.new_var()
                self.clauses += [[-v, shared] for v in lits]
                found = [shared]
            else:
                found = lits
            self._excluded[spec] = found
        return found

    def build(self, roots: Sequence[MatchSpec]) -> None:
        queue: list[str] = []
        for spec in roots:
            matches = self.reduction.live_matches(spec)
            for name in {r.name for r in matches}:
                self._touch(name, queue)
            self.clauses.append([self.var_of[r] for r in matches])
        constrained: list[tuple[int, MatchSpec]] = []
        provider = self.provider
        while queue:
            name = queue.pop()
            for var in list(self.name_vars[name]):
                record = self.record_of[var]
                for spec in provider.dependencies(record):
                    self.clauses.append([-var, *self._spec_lits(spec, queue)])
                for spec in provider.constraints(record):
                    if "*" not in spec.name and not spec.name.startswith("__"):
                        constrained.append((var, spec))
        # Virtual-package constrains were settled by the reduction; the rest need every name.
        for var, spec in constrained:
            for lit in self._excluded_lits(spec):
                self.clauses.append([-var, -lit])


class Objective:
    """One of conda's objectives over the current CNF: leaves of mutually exclusive steps.

    ``terms`` maps each literal to the excess it adds when true (for a model's value). A leaf is a
    list of ``(at_least, literal)`` steps, ascending: the literal is implied whenever the leaf's
    excess is at least ``at_least``. ``out`` names, for a step literal, the records that can no
    longer be installed once it is false, for :meth:`.Reduction.exclude`.

    A term may be a variable made for this objective, after the model in hand was found: its
    definition (true when ``any`` / ``all`` of some literals are) gives its value in that model.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.terms: dict[int, int] = {}
        self.leaves: list[list[tuple[int, int]]] = []
        self.out: dict[int, list[PackageRecord]] = {}
        self.defined: dict[int, tuple[bool, list[int]]] = {}

    def single(
        self, lit: int, out: Sequence[PackageRecord] = (), any_of: Sequence[int] = (), all_of: Sequence[int] = ()
    ) -> None:
        self.terms[lit] = self.terms.get(lit, 0) + 1
        self.leaves.append([(1, lit)])
        if out:
            self.out[lit] = list(out)
        if any_of:
            self.defined[lit] = (True, list(any_of))
        elif all_of:
            self.defined[lit] = (False, list(all_of))

    def value(self, model: set[int]) -> int:
        total = 0
        defined = self.defined
        for lit, weight in self.terms.items():
            definition = defined.get(lit)
            if definition is not None:
                some, lits = definition
                true = any(v in model for v in lits) if some else all(v in model for v in lits)
            else:
                true = (lit in model) if lit > 0 else (-lit not in model)
            if true:
                total += weight
        return total

    def cut(self, bound: int) -> list[int]:
        """The step literals that alone exceed ``bound``: all false under ``sum <= bound``."""
        return [lit for leaf in self.leaves for at_least, lit in leaf if at_least > bound]

    def ruled_out(self, bound: int) -> list[PackageRecord]:
        """The records that ``sum <= bound`` rules out by themselves."""
        return [r for lit in self.cut(bound) for r in self.out.get(lit, ())]


class Counter:
    """A generalized totalizer over an objective's leaves, exact up to ``cap``.

    Each node holds ``(at_least, literal)`` outputs for the sums its leaves can reach below the
    cap, and one output for "at least cap". Clauses go one way (the inputs imply the outputs, each
    output implies the one below), which is all an upper bound needs.
    """

    def __init__(self, cnf: CNF, objective: Objective, cap: int) -> None:
        self.cap = cap
        self.first_var = cnf.n_vars + 1
        self.clauses: list[Clause] = []
        heap: list[tuple[int, int, list[tuple[int, int]]]] = []
        for i, leaf in enumerate(objective.leaves):
            # steps at or past the cap all mean "at least cap": the first of them stands for all
            steps: list[tuple[int, int]] = []
            for at_least, lit in leaf:
                steps.append((min(at_least, cap), lit))
                if at_least >= cap:
                    break
            heap.append((len(steps), i, steps))
        heapq.heapify(heap)
        tie = len(objective.leaves)
        while len(heap) > 1:
            _, _, a = heapq.heappop(heap)
            _, _, b = heapq.heappop(heap)
            merged = self._merge(cnf, a, b)
            tie += 1
            heapq.heappush(heap, (len(merged), tie, merged))
        self.root: list[tuple[int, int]] = heap[0][2] if heap else []

    def _merge(self, cnf: CNF, a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """The node over ``a`` and ``b``: an output per reachable sum (sums past the cap are the
        cap), implied by each input alone and by each pair. The hot loop of the Python side, so
        variables are numbered inline."""
        cap = self.cap
        clauses = self.clauses
        out: dict[int, int] = {}
        n = cnf.n_vars
        for side in (a, b):
            for x, lit in side:
                o = out.get(x)
                if o is None:
                    n += 1
                    o = out[x] = n
                clauses.append([-lit, o])
        for x, la in a:
            for y, lb in b:
                s = x + y
                if s > cap:
                    s = cap
                o = out.get(s)
                if o is None:
                    n += 1
                    o = out[s] = n
                clauses.append([-la, -lb, o])
                if s == cap:
                    break
        cnf.n_vars = n
        sums = sorted(out)
        for lower, upper in zip(sums, sums[1:]):
            clauses.append([-out[upper], out[lower]])
        return [(s, out[s]) for s in sums]

    def bound(self, bound: int) -> list[Clause]:
        """Clauses for "sum <= bound" (bound < cap)."""
        assert bound < self.cap
        for at_least, lit in self.root:
            if at_least > bound:
                return [[-lit]]
        return []


class ClassicObjectives:
    """conda's objective sequence, the one :mod:`solvent.solver.objectives` minimizes, over the
    reduced CNF.

    Each objective is built only when its turn comes, from the records still in at that point:
    the objectives fixed before it have usually ruled out many records and made more names
    certain. Ranks are computed over every candidate of a name, as without the reduction, so an
    objective has the same value on every solution up to a constant (the floors of certain
    names, and terms that are constant), which is left out.
    """

    def __init__(
        self,
        cnf: CNF,
        requested: frozenset[str],
        spec_names: frozenset[str],
        targets: Sequence[PackageRecord] = (),
        freeze: bool = False,
    ) -> None:
        self.cnf = cnf
        self.requested = requested
        self.spec_names = spec_names
        self.targets = tuple(targets)
        self.freeze = freeze
        self._ranks: dict[str, dict[PackageRecord, tuple[int, int, int, int, int]]] = {}
        self.features: dict[str, int] = {}
        self.trackers: dict[str, list[int]] = {}
        for var, record in cnf.record_of.items():
            for feature in record.track_features:
                self.trackers.setdefault(feature, []).append(var)
        for feature, tracking in self.trackers.items():
            fvar = self.features[feature] = cnf.new_var()
            cnf.clauses += [[-v, fvar] for v in tracking]
            cnf.clauses.append([-fvar, *tracking])

    def sequence(self) -> list[tuple[str, Callable[[], Objective]]]:
        sequence: list[tuple[str, Callable[[], Objective]]] = [
            ("requested channel", lambda: self._metric("requested channel", 0, True)),
            ("requested version", lambda: self._metric("requested version", 1, True)),
            ("track_features count", self._feature_count),
            ("misfeature count", self._misfeatures),
            ("requested build number", lambda: self._metric("requested build number", 2, True)),
            ("requested arch over noarch", lambda: self._metric("requested arch over noarch", 3, True)),
            ("installed packages changed", self._changed),
            ("dependency channel", lambda: self._metric("dependency channel", 0, False)),
            ("dependency version", lambda: self._metric("dependency version", 1, False)),
            ("dependency build number", lambda: self._metric("dependency build number", 2, False)),
            ("dependency arch over noarch", lambda: self._metric("dependency arch over noarch", 3, False)),
            ("package count", self._package_count),
            ("timestamps", lambda: self._metric("timestamps", 4, None)),
        ]
        if self.freeze:
            sequence.insert(0, sequence.pop(6))
        return sequence

    def _live_names(self) -> list[str]:
        cnf = self.cnf
        dead = cnf.reduction.dead
        record_of = cnf.record_of
        return [
            name
            for name, name_vars in cnf.name_vars.items()
            if not name.startswith("__") and any(record_of[v] not in dead for v in name_vars)
        ]

    def _name_ranks(self, name: str) -> dict[PackageRecord, tuple[int, int, int, int, int]]:
        found = self._ranks.get(name)
        if found is None:
            provider = self.cnf.provider
            key = provider.policy.classic_version_key
            found = self._ranks[name] = dict(version_ranks(provider.candidates(name), key))
        return found

    def _metric(self, title: str, index: int, requested: bool | None) -> Objective:
        cnf = self.cnf
        certain = cnf.reduction.certain
        dead = cnf.reduction.dead
        objective = Objective(title)
        for name in self._live_names():
            if requested is not None and (name in self.requested) != requested:
                continue
            ranks = self._name_ranks(name)
            live = [(v, ranks[cnf.record_of[v]][index]) for v in cnf.name_vars[name] if cnf.record_of[v] not in dead]
            floor = min(rank for _, rank in live) if name in certain else 0
            excess = {v: rank - floor for v, rank in live if rank > floor}
            if excess:
                _rank_leaf(cnf, objective, excess)
        return objective

    def _feature_count(self) -> Objective:
        cnf = self.cnf
        objective = Objective("track_features count")
        for feature, fvar in self.features.items():
            objective.single(fvar, [cnf.record_of[v] for v in self.trackers[feature]])
        return objective

    def _misfeatures(self) -> Objective:
        """conda's generate_feature_metric: a build without a feature that other builds of its
        name have counts once when that feature is switched on in the solution."""
        cnf = self.cnf
        dead = cnf.reduction.dead
        objective = Objective("misfeature count")
        for name in self._live_names():
            active = {f for r in cnf.provider.candidates(name) for f in r.features if f in self.features}
            for feature in sorted(active):
                fvar = self.features[feature]
                for var in cnf.name_vars[name]:
                    record = cnf.record_of[var]
                    if record not in dead and feature not in record.features:
                        metric = cnf.new_var()
                        cnf.clauses += [[-var, -fvar, metric], [-metric, var], [-metric, fvar]]
                        objective.single(metric, all_of=[var, fvar])
        return objective

    def _changed(self) -> Objective:
        cnf = self.cnf
        dead = cnf.reduction.dead
        objective = Objective("installed packages changed")
        for record in self.targets:
            var = cnf.var_of.get(record)
            if var is not None and record not in dead:
                others = [cnf.record_of[v] for v in cnf.name_vars[record.name] if v != var]
                objective.single(-var, others)
        return objective

    def _package_count(self) -> Objective:
        """One per installed name that no spec mentions and that not every solution has."""
        cnf = self.cnf
        certain = cnf.reduction.certain
        objective = Objective("package count")
        for name in self._live_names():
            if name in self.spec_names or name in certain:
                continue
            live = cnf.live_vars(name)
            installed = cnf.new_var()
            cnf.clauses += [[-v, installed] for v in live]
            cnf.clauses.append([-installed, *live])
            objective.single(installed, [cnf.record_of[v] for v in live], any_of=live)
        return objective


def _rank_leaf(cnf: CNF, objective: Objective, excess: dict[int, int]) -> None:
    """One name's excess as steps "rank at least v" over the distinct values v of its records."""
    levels = sorted(set(excess.values()))
    members: list[list[int]] = [[] for _ in levels]
    index = {v: i for i, v in enumerate(levels)}
    for var, e in excess.items():
        members[index[e]].append(var)
        objective.terms[var] = e
    steps: list[tuple[int, int]] = []
    higher: int | None = None
    above: list[PackageRecord] = []
    for i in range(len(levels) - 1, -1, -1):
        # "rank at least levels[i]": implied by the records at this level and by the level above;
        # the top level of a single record is that record's own literal
        level_vars = members[i]
        if higher is None and len(level_vars) == 1:
            lit = level_vars[0]
        else:
            lit = cnf.new_var()
            cnf.clauses += [[-v, lit] for v in level_vars]
            if higher is not None:
                cnf.clauses.append([-higher, lit])
        above = above + [cnf.record_of[v] for v in level_vars]
        objective.out[lit] = above
        steps.append((levels[i], lit))
        higher = lit
    steps.reverse()
    objective.leaves.append(steps)
