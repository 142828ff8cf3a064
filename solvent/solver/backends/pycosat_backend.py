"""The C-accelerated back-end: the reduced problem as CNF, solved by picosat through pycosat.

picosat through pycosat is not incremental: each call copies the whole CNF into a fresh solver
and searches from scratch. So the time goes where the CNF is big and where there are many calls,
and this back-end keeps both small:

* **what is encoded** (:mod:`.pycosat_reduce`): only records that can be part of a solution, found
  by propagating the roots' constraints before encoding, as conda does with its reduced index;
* **how** (:mod:`.pycosat_cnf`): shared literals for long dependency and constrains lists, and
  conda's objectives as one unary counter per objective whose bounds are unit clauses, so the
  bisection adds no variables and rebuilds nothing between tries;
* **how many calls**: an objective is first tried at no excess over its floor (unit clauses
  only), which is where most of conda's objectives end; then one below its current value when that
  is small, or growing from below when it is large; then bisection;
* **what a fixed objective teaches**: the records its optimum rules out go back to the reduction,
  whose consequences become unit clauses and raise the floors of the objectives after it.

The answer follows the same policy as the default back-end. ``classic`` minimizes conda's objective
sequence, each objective fixed at its optimum before the next. ``greedy`` fixes names in the
default back-end's decision order (requested names first, then dependencies breadth-first), each
to its best candidate that keeps the problem satisfiable.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from typing import Any, Callable, Iterable, Sequence

from solvent.errors import BackendUnavailable, Unsatisfiable
from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.backends.pycosat_cnf import CNF, ClassicObjectives, Clause, Counter, Objective
from solvent.solver.backends.pycosat_reduce import Reduction
from solvent.solver.provider import Provider

log = logging.getLogger(__name__)

#: an objective whose value is at most this is first tried one below it (see ``minimize``)
TOP_DOWN_FROM = 256

Sat = Callable[[list[Clause]], "set[int] | None"]


def _import_pycosat() -> Any:
    try:
        import pycosat
    except ImportError:
        raise BackendUnavailable("the pycosat back-end needs pycosat: pip install 'solvent[pycosat]'") from None
    return pycosat


class _Search:
    """picosat calls over the CNF (which holds the bounds fixed so far) plus a try's own clauses."""

    def __init__(self, cnf: CNF, pycosat: Any) -> None:
        self.cnf = cnf
        self.pycosat = pycosat
        self.calls = 0

    def sat(self, extra: list[Clause]) -> set[int] | None:
        self.calls += 1
        result = self.pycosat.solve(itertools.chain(self.cnf.clauses, extra), vars=self.cnf.n_vars)
        if result == "UNSAT":
            return None
        return {lit for lit in result if lit > 0}

    def minimize(self, objective: Objective, model: set[int], last: bool = False) -> set[int]:
        """Fix ``objective`` at its minimum over the current CNF; returns a model at that minimum.

        The first try is no excess at all (unit clauses, no counter): most of conda's objectives
        end there. Then, when the current value is small, one less than it, as conda tries first
        for its package count: the model handed down by the previous objectives is often already
        optimal, and then this one failure proves it. A counter must be capped above every bound
        it checks and grows with the square of its cap, so from a large value (a first model's
        dependency versions, say) the bound grows from below instead (doubling) until a try
        succeeds. Then bisect, each success lowering the best value to its model's own value.
        What the optimum rules out goes to the reduction, whose consequences become unit clauses.
        """
        cnf = self.cnf
        best = objective.value(model)
        start, calls, t0 = best, self.calls, time.perf_counter()
        lo = 0
        bound = 0
        found = False
        counter: Counter | None = None
        while lo < best:
            if bound == 0:
                trial = [[-lit] for lit in objective.cut(0)]
            else:
                if counter is None or counter.cap <= bound:
                    if counter is not None:
                        cnf.n_vars = counter.first_var - 1
                    counter = Counter(cnf, objective, min(best + 1, 2 * bound + 2))
                trial = [*counter.clauses, *counter.bound(bound), *([-lit] for lit in objective.cut(bound))]
            result = self.sat(trial)
            if result is None:
                lo = bound + 1
            else:
                found = True
                model, best = result, objective.value(result)
            log.debug("  bound %d: %s", bound, "unsat" if result is None else best)
            if found:
                bound = (lo + best - 1) // 2
            elif bound == 0 and best <= TOP_DOWN_FROM:
                bound = best - 1
            else:
                bound = min(best - 1, 2 * bound + 1)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s: %d -> %d over %d leaves, %d calls, %.3fs",
                objective.name,
                start,
                best,
                len(objective.leaves),
                self.calls - calls,
                time.perf_counter() - t0,
            )
        if last:
            return model
        if counter is not None and (best == 0 or not best < counter.cap <= 2 * (best + 1)):
            cnf.n_vars = counter.first_var - 1
            counter = None
        if best > 0:
            if counter is None:
                counter = Counter(cnf, objective, best + 1)
            cnf.clauses += [*counter.clauses, *counter.bound(best)]
        cnf.clauses += [[-lit] for lit in objective.cut(best)]
        cnf.reduction.exclude(objective.ruled_out(best))
        cnf.sync()
        return model


def _explain(provider: Provider, specs: Sequence[MatchSpec], required: Sequence[MatchSpec]) -> Unsatisfiable:
    from solvent.solver.resolver import Resolver

    # Let the default back-end explain: it builds the conflict tree from its own proof.
    try:
        Resolver(provider, policy="greedy").resolve(specs, required=required)
    except Unsatisfiable as exc:
        return exc
    return Unsatisfiable("Cannot solve for: " + ", ".join(str(s) for s in specs))  # pragma: no cover


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
    roots = [*specs, *required]
    provider.set_roots(roots)
    reduction = Reduction(provider, roots)
    if reduction.unsat:
        raise _explain(provider, specs, required)
    cnf = CNF(provider, reduction)
    cnf.build(roots)
    search = _Search(cnf, pycosat)
    if policy == "greedy":
        model = search.sat([])
        if model is None:
            raise _explain(provider, specs, required)
        model = _greedy(cnf, specs, required, search.sat, model)
    else:
        objectives = ClassicObjectives(
            cnf,
            frozenset(s.name for s in specs),
            frozenset(s.name for s in roots),
            targets,
            freeze,
        ).sequence()
        model = search.sat([])
        if model is None:
            raise _explain(provider, specs, required)
        for i, (_, build) in enumerate(objectives):
            model = search.minimize(build(), model, last=i == len(objectives) - 1)
    chosen = [cnf.record_of[v] for v in model if v in cnf.record_of]
    return sorted((r for r in chosen if not r.is_virtual), key=lambda r: r.name)


def _greedy(cnf: CNF, specs: Sequence[MatchSpec], required: Sequence[MatchSpec], sat: Sat, model: set[int]) -> set[int]:
    """Fix names in decision order, each to its best candidate that keeps the problem satisfiable.

    ``model`` always satisfies what is fixed so far, so a candidate it already installs needs no
    picosat call: every better candidate was tried (and failed) before it.
    """
    fixed: list[Clause] = []
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
            trial = model if var in model else sat([*fixed, [var]])
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
