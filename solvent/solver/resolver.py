"""The default back-end: lazy CDCL search, then conda classic's objectives.

``Resolver(provider).resolve(specs)`` returns the records to install. With ``policy="greedy"`` it
returns the first solution of the policy-driven search (what libsolv or resolvo would answer);
with ``policy="classic"`` (the default) it then minimizes conda classic's objective sequence, so
the answer is the one ``conda create --solver classic`` gives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from solvent.errors import InvalidInput, Unsatisfiable
from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.decide import GreedyDecider
from solvent.solver.encoding import REQUEST, Encoding
from solvent.solver.objectives import ClassicObjectives, Objective, Terms, value_of
from solvent.solver.provider import Provider

POLICIES = ("classic", "greedy")
UPDATE_MODIFIERS = ("freeze-installed", "update-specs", "update-deps", "update-all", "specs-satisfied-skip-solve")


@dataclass
class ResolveStats:
    """What the search did: for benchmarks and ``--json`` output."""

    variables: int = 0
    clauses_generated: int = 0
    records_touched: int = 0
    names_touched: int = 0
    decisions: int = 0
    conflicts: int = 0
    solves: int = 0
    greedy_s: float = 0.0
    optimize_s: float = 0.0
    optimize_passes: int = 0
    objectives: dict[str, int] = field(default_factory=dict)
    optimal: bool = True


class Resolver:
    """Finds the records to install for a set of specs, as conda would."""

    def __init__(
        self,
        provider: Provider,
        *,
        policy: str = "classic",
        conflict_budget: int = 2000,
        optimize_budget: int = 5000,
    ) -> None:
        """``conflict_budget`` bounds one optimization probe, ``optimize_budget`` all of them
        together (conflicts, not seconds, so the answer does not depend on the machine). The
        real suite's problems need at most about 1,000 in all; environments of several hundred
        packages can need tens of thousands, and then keep the best solution found
        (``stats.optimal`` is False)."""
        if policy not in POLICIES:
            raise InvalidInput(f"unknown solver policy {policy!r}: expected one of {', '.join(POLICIES)}")
        self.provider = provider
        self.policy = policy
        self.conflict_budget = conflict_budget
        self.optimize_budget = optimize_budget
        self.stats = ResolveStats()
        self.encoding: Encoding | None = None
        self.model: set[int] = set()
        self._optimize_start = 0
        self._model_vars = 0

    def resolve(
        self,
        specs: Sequence[MatchSpec],
        *,
        required: Sequence[MatchSpec] = (),
        targets: Sequence[PackageRecord] = (),
        freeze: bool = False,
    ) -> list[PackageRecord]:
        """Solve for ``specs`` (requested) plus ``required`` (history, installed names).

        ``targets`` are installed records the solution should keep where it can: conda's "update
        count" objective, moved to the front with ``freeze``.
        """
        self.provider.set_roots([*specs, *required])
        enc = self.encoding = Encoding(self.provider)
        sat = enc.sat
        for spec in (*specs, *required):
            enc.require(0, spec, (REQUEST, spec))
        decider = GreedyDecider(enc)
        t0 = time.perf_counter()
        ok = sat.solve(decide=decider, on_true=enc.expand)
        self.stats.solves += 1
        if ok:
            self._take_model()
        self.stats.greedy_s = time.perf_counter() - t0
        if not ok:
            from solvent.solver.explain import explain_conflict

            core, _ = sat.unsat_core()
            conflict = explain_conflict(core, enc, specs, required)
            raise Unsatisfiable(conflict.render(), conflict)
        if self.policy == "classic":
            t1 = time.perf_counter()
            requested = {s.name for s in specs}
            spec_names = requested | {s.name for s in required}
            objectives = ClassicObjectives(enc, requested, spec_names, targets, freeze)
            self._optimize(objectives.sequence(), decider)
            self.stats.optimize_s = time.perf_counter() - t1
        self._record_stats()
        return [r for r in enc.chosen(self.model) if not r.is_virtual]

    def _optimize(self, sequence: Sequence[Objective], decider: GreedyDecider) -> None:
        """Minimize each objective in turn, each at its optimum for the ones after it.

        An objective's bound covers the names touched when it was fixed. A later objective may
        lead the search to new names (a featured build's tracker, say) whose terms the earlier
        bound never saw. After a pass, if every such new term is zero in the solution, the
        solution is optimal for the full terms too (it meets every bound, and no model meeting
        them does better on the old terms); otherwise the pass is repeated from the first
        objective with a non-zero new term, the ones before it keeping their optimum over their
        full terms. Each repeat needs new names, so this ends.
        """
        enc = self.encoding
        assert enc is not None
        sat = enc.sat
        self._optimize_start = sat.stats.conflicts
        bests = [0] * len(sequence)
        seen: list[set[int]] = [set() for _ in sequence]
        start = 0
        while True:
            fixed: list[int] = []
            for j, objective in enumerate(sequence):
                if j < start:
                    terms = objective.terms()
                    fixed.append(self._fix(terms, bests[j]))
                else:
                    bests[j], terms = self._minimize(objective.terms, decider, fixed)
                seen[j] = set(terms)
                self.stats.objectives[objective.name] = bests[j]
            self.stats.optimize_passes += 1
            while True:
                current = [objective.terms() for objective in sequence]
                if not any(self._unassigned(terms) for terms in current):
                    break
                # New auxiliary variables ("name installed", misfeature): a model that assigns them.
                if not sat.solve(fixed, decide=decider, on_true=enc.expand):
                    raise RuntimeError("internal error: fixed objectives became infeasible")
                self.stats.solves += 1
                self._take_model()
            dirty = [
                j
                for j, terms in enumerate(current)
                if value_of({lit: w for lit, w in terms.items() if lit not in seen[j]}, self.model)
            ]
            if not dirty:
                return
            start = dirty[0]

    def _unassigned(self, terms: Terms) -> bool:
        """Whether a term is a variable newer than the model (guards do not count: they are
        not terms, and re-solving for them would only cost time)."""
        newest = self._model_vars
        return any(abs(lit) > newest for lit in terms)

    def _fix(self, terms: Terms, best: int) -> int:
        """Hold ``terms`` at most ``best`` under a new guard (an assumption, not a permanent
        clause: a later pass over a grown encoding may need to trade it)."""
        sat = self.encoding.sat  # type: ignore[union-attr]
        guard = sat.new_var()
        if best:
            sat.add_linear_le([(w, lit) for lit, w in terms.items()], best, guard=guard)
        else:
            for lit in terms:
                sat.add_clause((-guard, -lit))
        return guard

    def _minimize(self, terms_fn: Callable[[], Terms], decider: GreedyDecider, fixed: list[int]) -> tuple[int, Terms]:
        """Minimize one objective, then fix it at its optimum for the objectives after it; the
        optimum and the terms it was fixed over.

        Probes tighten ``sum <= best - 1`` (a greedy solution is usually optimal or close, so the
        first probe is usually the proof); after a few improving steps it switches to bisection.
        The terms cover the names touched so far; a better solution may touch new names, so the
        pass repeats until the set of variables stops growing.
        """
        enc = self.encoding
        assert enc is not None
        sat = enc.sat
        while True:
            n_vars = len(enc.record_of)
            terms = terms_fn()
            if self._unassigned(terms):
                # The objective brought auxiliary variables (features, "name installed"): take a
                # model that assigns them under their new clauses before measuring.
                if not sat.solve(fixed, decide=decider, on_true=enc.expand):
                    raise RuntimeError("internal error: fixed objectives became infeasible")
                self.stats.solves += 1
                self._take_model()
            best = value_of(terms, self.model)
            lower = 0
            steps = 0
            while lower < best:
                spent = sat.stats.conflicts - self._optimize_start
                if spent >= self.optimize_budget:
                    self.stats.optimal = False
                    break
                steps += 1
                bound = best - 1 if steps <= 4 else (lower + best - 1) // 2
                guard = sat.new_var()
                sat.add_linear_le([(w, lit) for lit, w in terms.items()], bound, guard=guard)
                result = sat.solve(
                    [*fixed, guard],
                    decide=decider,
                    on_true=enc.expand,
                    max_conflicts=min(self.conflict_budget, self.optimize_budget - spent),
                )
                self.stats.solves += 1
                sat.add_clause((-guard,))
                if result:
                    self._take_model()
                    best = value_of(terms, self.model)
                elif result is None:
                    self.stats.optimal = False
                    break
                else:
                    lower = bound + 1
            fixed.append(self._fix(terms, best))
            if len(enc.record_of) == n_vars:
                return best, terms

    def _take_model(self) -> None:
        enc = self.encoding
        assert enc is not None
        self.model = set(enc.sat.model())
        self._model_vars = enc.sat.num_vars

    def _record_stats(self) -> None:
        enc = self.encoding
        assert enc is not None
        sat_stats = enc.sat.stats
        self.stats.variables = enc.sat.num_vars
        self.stats.records_touched = len(enc.record_of)
        self.stats.names_touched = len(enc.name_vars)
        self.stats.decisions = getattr(sat_stats, "decisions", 0)
        self.stats.conflicts = getattr(sat_stats, "conflicts", 0)
