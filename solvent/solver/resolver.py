"""The default back-end: lazy CDCL search, then conda classic's objectives.

``Resolver(provider).resolve(specs)`` returns the records to install. With ``policy="greedy"`` it
returns the first solution of the policy-driven search (what libsolv or resolvo would answer);
with ``policy="classic"`` (the default) it then minimizes conda classic's objective sequence, so
the answer is the one ``conda create --solver classic`` gives.
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence

from solvent.errors import InvalidInput, Unsatisfiable
from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.slots import SlotValue
from solvent.solver.decide import GreedyDecider
from solvent.solver.encoding import REQUEST, Encoding
from solvent.solver.objectives import ClassicObjectives
from solvent.solver.optimize import LexicographicOptimizer
from solvent.solver.provider import Provider

POLICIES = ("classic", "greedy")
# Conflicts before a struggling search first looks for counting arguments (then after twice as
# many, and so on): far more than real environments need, a fraction of what a pigeonhole costs.
_PIGEONHOLE_CHECK = 500
UPDATE_MODIFIERS = ("freeze-installed", "update-specs", "update-deps", "update-all", "specs-satisfied-skip-solve")


class ResolveStats(SlotValue):
    """What the search did: for benchmarks and ``--json`` output."""

    __slots__ = (
        "clauses_generated",
        "conflicts",
        "cores",
        "decisions",
        "greedy_s",
        "names_touched",
        "objectives",
        "optimal",
        "optimize_s",
        "pigeonholes",
        "records_touched",
        "solves",
        "tie_broken",
        "variables",
    )

    def __init__(
        self,
        variables: int = 0,
        clauses_generated: int = 0,
        records_touched: int = 0,
        names_touched: int = 0,
        decisions: int = 0,
        conflicts: int = 0,
        solves: int = 0,
        greedy_s: float = 0.0,
        optimize_s: float = 0.0,
        cores: int = 0,
        pigeonholes: int = 0,
        objectives: dict[str, int] | None = None,
        optimal: bool = True,
        tie_broken: bool = True,
    ) -> None:
        self.variables = variables
        self.clauses_generated = clauses_generated
        self.records_touched = records_touched
        self.names_touched = names_touched
        self.decisions = decisions
        self.conflicts = conflicts
        self.solves = solves
        self.greedy_s = greedy_s
        self.optimize_s = optimize_s
        self.cores = cores
        self.pigeonholes = pigeonholes
        self.objectives: dict[str, int] = {} if objectives is None else objectives
        self.optimal = optimal
        # False when the optimum is proven but the policy's pick among equally good solutions ran
        # out of conflicts (another optimal solution is returned; conda's own pick among ties is
        # picosat's, and varies too)
        self.tie_broken = tie_broken


class Resolver:
    """Finds the records to install for a set of specs, as conda would."""

    def __init__(
        self,
        provider: Provider,
        *,
        policy: str = "classic",
        optimize_budget: int = 30_000,
    ) -> None:
        """``optimize_budget`` bounds the optimization in conflicts (not seconds, so the answer
        does not depend on the machine). Proving conda's optimum takes at most a few thousand on
        the real environments of the benchmark suites (up to 960 packages); synthetic channels
        built to be hard can need far more, and past the budget the best solution found is kept
        and ``stats.optimal`` is False."""
        if policy not in POLICIES:
            raise InvalidInput(f"unknown solver policy {policy!r}: expected one of {', '.join(POLICIES)}")
        self.provider = provider
        self.policy = policy
        self.optimize_budget = optimize_budget
        self.stats = ResolveStats()
        self.encoding: Encoding | None = None
        self.model: set[int] = set()

    def resolve(
        self,
        specs: Sequence[MatchSpec],
        *,
        required: Sequence[MatchSpec] = (),
        targets: Sequence[PackageRecord] = (),
        freeze: bool = False,
        also_named: Iterable[str] = (),
    ) -> list[PackageRecord]:
        """Solve for ``specs`` (requested) plus ``required`` (history, installed names).

        ``targets`` are installed records the solution should keep where it can: conda's "update
        count" objective, moved to the front with ``freeze``. ``also_named`` are names a spec
        mentions without requiring them (conda's optional specs, applied as provider pins): like
        every spec name they are exempt from the objective that prunes unneeded packages.
        """
        self.provider.set_roots([*specs, *required])
        enc = self.encoding = Encoding(self.provider)
        sat = enc.sat
        for spec in (*specs, *required):
            enc.require(0, spec, (REQUEST, spec))
        decider = GreedyDecider(enc)
        t0 = time.perf_counter()
        ok = self._first_solution(enc, decider)
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
            spec_names = requested | {s.name for s in required} | set(also_named)
            objectives = ClassicObjectives(enc, requested, spec_names, targets, freeze)
            sat.stop_tracking_cores()  # a solution exists: nothing left to explain
            optimizer = LexicographicOptimizer(enc, decider, self.model, conflict_budget=self.optimize_budget)
            self.model = optimizer.run(objectives.sequence())
            self.stats.optimize_s = time.perf_counter() - t1
            self.stats.solves += optimizer.stats.solves
            self.stats.cores = optimizer.stats.cores
            self.stats.objectives = optimizer.stats.objectives
            self.stats.optimal = optimizer.stats.optimal
            self.stats.tie_broken = optimizer.stats.tie_broken
        self._record_stats()
        return [r for r in enc.chosen(self.model) if not r.is_virtual]

    def _first_solution(self, enc: Encoding, decider: GreedyDecider) -> bool:
        """The policy's first solution, or False. A search that keeps failing is paused now and
        then to look for a counting argument it cannot find by itself (too many packages that
        pairwise need different versions): see :mod:`solvent.solver.pigeonhole`."""
        from solvent.solver.pigeonhole import add_pigeonhole_clauses

        sat = enc.sat
        checkpoint = _PIGEONHOLE_CHECK
        while True:
            result = sat.solve(decide=decider, on_true=enc.expand, max_conflicts=checkpoint)
            self.stats.solves += 1
            if result is not None:
                return result
            self.stats.pigeonholes += add_pigeonhole_clauses(enc, in_conflicts=True)
            checkpoint *= 2

    def _take_model(self) -> None:
        enc = self.encoding
        assert enc is not None
        self.model = set(enc.sat.model())

    def _record_stats(self) -> None:
        enc = self.encoding
        assert enc is not None
        sat_stats = enc.sat.stats
        self.stats.variables = enc.sat.num_vars
        self.stats.records_touched = len(enc.record_of)
        self.stats.names_touched = len(enc.name_vars)
        self.stats.decisions = getattr(sat_stats, "decisions", 0)
        self.stats.conflicts = getattr(sat_stats, "conflicts", 0)
