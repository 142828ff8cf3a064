"""The C-accelerated back-end: the reachable problem as CNF, solved by picosat through pycosat.

picosat is not incremental through pycosat, so this back-end encodes eagerly: it walks the
dependency graph from the specs over *every* candidate (the reachable closure), one variable per
record. At-most-one per name uses a sequential-counter encoding (3n clauses, n auxiliary
variables) instead of n²/2 pairs. ``depends`` become "record implies one of the matches",
``constrains`` "record excludes each non-matching record of that name", virtual packages are the
only candidates of their names.

The answer follows the same policy as the default back-end. ``classic`` minimizes conda's objective
sequence exactly as conda does with picosat: each bound ``sum(weights) <= k`` is encoded as a
BDD over the weighted terms and the optimum is found by bisection. ``greedy`` fixes names in the
default back-end's decision order (requested names first, then dependencies breadth-first), each
to its best candidate that keeps the problem satisfiable.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Sequence

from solvent.errors import BackendUnavailable, Unsatisfiable
from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.objectives import version_ranks
from solvent.solver.provider import Provider

Clause = list[int]


def _import_pycosat() -> Any:
    try:
        import pycosat
    except ImportError:
        raise BackendUnavailable("the pycosat back-end needs pycosat: pip install 'solvent[pycosat]'") from None
    return pycosat


class CNF:
    """An eagerly built CNF of everything the specs can reach."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.clauses: list[Clause] = []
        self.n_vars = 0
        self.var_of: dict[PackageRecord, int] = {}
        self.record_of: dict[int, PackageRecord] = {}
        self.name_vars: dict[str, list[int]] = {}
        self._queue: deque[str] = deque()
        self._constrains: list[tuple[int, MatchSpec]] = []

    def new_var(self) -> int:
        self.n_vars += 1
        return self.n_vars

    def _touch(self, name: str) -> list[int]:
        found = self.name_vars.get(name)
        if found is None:
            found = []
            for record in self.provider.candidates(name):
                var = self.new_var()
                self.var_of[record] = var
                self.record_of[var] = record
                found.append(var)
            self.name_vars[name] = found
            self._at_most_one(found)
            self._queue.append(name)
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

    def spec_vars(self, spec: MatchSpec) -> list[int]:
        matches = self.provider.matches(spec)
        for name in {r.name for r in matches}:
            self._touch(name)
        return [self.var_of[r] for r in matches]

    def build(self, specs: Iterable[MatchSpec]) -> None:
        for spec in specs:
            self.clauses.append(self.spec_vars(spec))
        while self._queue:
            name = self._queue.popleft()
            for var in list(self.name_vars[name]):
                record = self.record_of[var]
                for spec in self.provider.dependencies(record):
                    self.clauses.append([-var, *self.spec_vars(spec)])
                for spec in self.provider.constraints(record):
                    if "*" not in spec.name:
                        self._constrains.append((var, spec))
        for var, spec in self._constrains:
            if spec.name.startswith("__"):
                # virtual packages are present whether or not anything depends on them
                if any(not spec.match(r) for r in self.provider.candidates(spec.name)):
                    self.clauses.append([-var])
                continue
            for other in self.name_vars.get(spec.name, ()):
                if not spec.match(self.record_of[other]):
                    self.clauses.append([-var, -other])


class BDD:
    """``sum(w_i * x_i) <= k`` as clauses through a memoized BDD, one-directional (sound for upper bounds)."""

    def __init__(self, cnf: CNF, terms: list[tuple[int, int]], bound: int) -> None:
        self.cnf = cnf
        self.terms = sorted(terms, key=lambda t: -t[1])
        self.suffix = [0] * (len(self.terms) + 1)
        for i in range(len(self.terms) - 1, -1, -1):
            self.suffix[i] = self.suffix[i + 1] + self.terms[i][1]
        self.memo: dict[tuple[int, int], int] = {}
        self.clauses: list[Clause] = []
        self.root = self._build(bound)

    def _classify(self, i: int, k: int) -> int | None:
        """-1 for false, 0 for true, None for a real node at (i, k)."""
        if k < 0:
            return -1
        if self.suffix[i] <= k:
            return 0
        return None

    def _build(self, bound: int) -> int:
        """Build the BDD level by level (no recursion: there may be thousands of terms).

        A node at (i, k) means "the terms from i on sum to at most k"; its literal implies the
        high branch (term true, bound k - w) or the low branch (term false, bound k).
        """
        top = self._classify(0, bound)
        if top is not None:
            return top
        levels: list[set[int]] = [{bound}]
        for i, (_, weight) in enumerate(self.terms):
            nxt: set[int] = set()
            for k in levels[i]:
                for child in (k - weight, k):
                    if self._classify(i + 1, child) is None:
                        nxt.add(child)
            levels.append(nxt)
            if not nxt:
                break
        for i in range(min(len(levels), len(self.terms)) - 1, -1, -1):
            lit, weight = self.terms[i]
            for k in levels[i]:
                hi = self._ref(i + 1, k - weight)
                lo = self._ref(i + 1, k)
                node = self.cnf.new_var()
                for branch, guard in ((hi, -lit), (lo, lit)):
                    if branch == -1:
                        self.clauses.append([-node, guard])
                    elif branch != 0:
                        self.clauses.append([-node, guard, branch])
                self.memo[(i, k)] = node
        return self.memo[(0, bound)]

    def _ref(self, i: int, k: int) -> int:
        kind = self._classify(i, k)
        return self.memo[(i, k)] if kind is None else kind

    def assert_clauses(self) -> list[Clause]:
        if self.root == -1:
            return [[]]
        if self.root == 0:
            return []
        return [*self.clauses, [self.root]]


def _value(terms: list[tuple[int, int]], model: set[int]) -> int:
    return sum(w for lit, w in terms if (lit in model if lit > 0 else -lit not in model))


def _classic_terms(
    cnf: CNF,
    requested: frozenset[str],
    spec_names: frozenset[str],
    targets: Sequence[PackageRecord] = (),
    freeze: bool = False,
) -> list[list[tuple[int, int]]]:
    """conda's objective sequence, the same one :mod:`solvent.solver.objectives` minimizes."""
    key = cnf.provider.policy.classic_version_key
    metrics: dict[tuple[bool, int], list[tuple[int, int]]] = {}
    for name, name_vars in cnf.name_vars.items():
        if name.startswith("__"):
            continue
        is_req = name in requested
        for record, ranks in version_ranks([cnf.record_of[v] for v in name_vars], key):
            for index, rank in enumerate(ranks):
                if rank:
                    metrics.setdefault((is_req, index), []).append((cnf.var_of[record], rank))
    features: dict[str, int] = {}
    for var, record in cnf.record_of.items():
        for tf in record.track_features:
            fvar = features.get(tf)
            if fvar is None:
                fvar = features[tf] = cnf.new_var()
            cnf.clauses.append([-var, fvar])
    # conda's generate_feature_metric: a build without a feature that other builds of its name
    # have counts once when that feature is switched on in the solution.
    misfeatures: list[tuple[int, int]] = []
    for name_vars in cnf.name_vars.values():
        records = [(v, cnf.record_of[v]) for v in name_vars]
        active = {f for _, r in records for f in r.features if f in features}
        for feature in sorted(active):
            for var, record in records:
                if feature not in record.features:
                    metric = cnf.new_var()
                    cnf.clauses.append([-var, -features[feature], metric])
                    misfeatures.append((metric, 1))
    count = []
    for name, name_vars in cnf.name_vars.items():
        if name in spec_names or name.startswith("__") or not name_vars:
            continue
        installed = cnf.new_var()
        cnf.clauses += [[-v, installed] for v in name_vars]
        count.append((installed, 1))

    def m(req: bool, index: int) -> list[tuple[int, int]]:
        return metrics.get((req, index), [])

    timestamps = m(True, 4) + m(False, 4)
    changed = [(-cnf.var_of[r], 1) for r in targets if r in cnf.var_of]
    sequence = [
        m(True, 0),
        m(True, 1),
        [(v, 1) for v in features.values()],
        misfeatures,
        m(True, 2),
        m(True, 3),
        changed,
        m(False, 0),
        m(False, 1),
        m(False, 2),
        m(False, 3),
        count,
        timestamps,
    ]
    if freeze:
        sequence.insert(0, sequence.pop(6))
    return sequence


def solve_pycosat(
    provider: Provider,
    specs: Sequence[MatchSpec],
    required: Iterable[MatchSpec] = (),
    policy: str = "classic",
    targets: Sequence[PackageRecord] = (),
    freeze: bool = False,
) -> list[PackageRecord]:
    pycosat = _import_pycosat()
    required = list(required)
    provider.set_roots([*specs, *required])
    cnf = CNF(provider)
    cnf.build([*specs, *required])

    def sat(extra: list[Clause]) -> set[int] | None:
        result = pycosat.solve(cnf.clauses + extra, vars=cnf.n_vars)
        if result == "UNSAT":
            return None
        return {lit for lit in result if lit > 0}

    model = sat([])
    if model is None:
        from solvent.solver.resolver import Resolver

        # Let the default back-end explain: it builds the conflict tree from its own proof.
        try:
            Resolver(provider, policy="greedy").resolve(specs, required=required)
        except Unsatisfiable:
            raise
        raise Unsatisfiable("Cannot solve for: " + ", ".join(str(s) for s in specs))  # pragma: no cover

    fixed: list[Clause] = []
    if policy == "greedy":
        model = _greedy(cnf, specs, required, sat)
    else:
        objectives = _classic_terms(
            cnf,
            frozenset(s.name for s in specs),
            frozenset(s.name for s in (*specs, *required)),
            targets,
            freeze,
        )
        # The objectives added auxiliary variables and clauses: take a model that covers them.
        model = sat([]) or model
        for terms in objectives:
            if not terms:
                continue
            best = _value(terms, model)
            lo = 0
            while lo < best:
                mid = (lo + best - 1) // 2 if best - lo > 2 else best - 1
                trial = sat(fixed + BDD(cnf, terms, mid).assert_clauses())
                if trial is None:
                    lo = mid + 1
                else:
                    model, best = trial, _value(terms, trial)
            fixed += BDD(cnf, terms, best).assert_clauses()
    chosen = [cnf.record_of[v] for v in model if v in cnf.record_of]
    return sorted((r for r in chosen if not r.is_virtual), key=lambda r: r.name)


def _greedy(cnf: CNF, specs: Sequence[MatchSpec], required: Sequence[MatchSpec], sat: Any) -> set[int]:
    """Fix names in decision order, each to its best candidate that keeps the problem satisfiable."""
    fixed: list[Clause] = []
    model: set[int] = set()
    queue: deque[MatchSpec] = deque([*specs, *required])
    decided: set[str] = set()
    while queue:
        spec = queue.popleft()
        if spec.name in decided or "*" in spec.name:
            continue
        decided.add(spec.name)
        name_vars = cnf.name_vars.get(spec.name, [])
        choice = None
        for var in cnf.spec_vars(spec) if spec in specs else name_vars:
            trial = sat([*fixed, [var]])
            if trial is not None:
                choice, model = var, trial
                break
        if choice is None:
            fixed += [[-v] for v in name_vars]
            continue
        fixed.append([choice])
        queue.extend(cnf.provider.dependencies(cnf.record_of[choice]))
    final = sat(fixed)
    return final if final is not None else model
