"""The engine's incremental features against pycosat: assumption groups on one level each, context
levels reused across calls, lazily generated clauses placed out of order (chronological
backtracking), batch "rest false" decisions, propagation probes and the totalizer."""

from __future__ import annotations

import itertools
import random
from typing import Callable, Sequence

import pycosat
import pytest

from solvent.solver.sat import COMPLETE, SatSolver
from solvent.solver.totalizer import Totalizer

Clause = list[int]


def pycosat_sat(clauses: Sequence[Sequence[int]]) -> bool:
    return pycosat.solve([list(c) for c in clauses]) != "UNSAT"


def satisfies(true_vars: set[int], clause: Sequence[int]) -> bool:
    return any((lit > 0) == (abs(lit) in true_vars) for lit in clause)


def lazy_problem(n: int, rng: random.Random, base: int, lazy: int) -> tuple[list[Clause], dict[int, list[Clause]]]:
    """Random clauses, part of them attached to a trigger variable ``v`` and containing ``-v``:
    adding such a clause only once ``v`` is true changes nothing, as with a package's depends."""
    clauses = [[v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)] for _ in range(base)]
    by_trigger: dict[int, list[Clause]] = {}
    for _ in range(lazy):
        v = rng.randint(1, n)
        others = [u for u in rng.sample(range(1, n + 1), 4) if u != v][: rng.randint(1, 3)]
        clause = [-v] + [u if rng.random() < 0.6 else -u for u in others]
        by_trigger.setdefault(v, []).append(clause)
    return clauses, by_trigger


def lazy_solver(n: int, clauses: list[Clause], by_trigger: dict[int, list[Clause]], chrono: int = 8) -> SatSolver:
    s = SatSolver()
    s.chrono_levels = chrono  # 0: every backjump is chronological; a large value: none is
    for _ in range(n):
        s.new_var()
    for i, c in enumerate(clauses):
        s.add_clause(c, tag=("base", i))
    s.lazy = by_trigger  # type: ignore[attr-defined]
    return s


def on_true_for(s: SatSolver, by_trigger: dict[int, list[Clause]]) -> Callable[[int], None]:
    def on_true(v: int) -> None:
        for i, c in enumerate(by_trigger.get(v, ())):
            s.add_clause(c, tag=("lazy", v, i))

    return on_true


def full_cnf(clauses: list[Clause], by_trigger: dict[int, list[Clause]]) -> list[Clause]:
    return clauses + [c for cs in by_trigger.values() for c in cs]


def lazy_session(
    n: int, rng: random.Random, base: int, chrono: int
) -> tuple[list[Clause], SatSolver, Callable[[int], None]]:
    """A random lazy problem, its solver and callback, for tests of many calls on one solver."""
    clauses, by_trigger = lazy_problem(n, rng, base=base, lazy=100)
    s = lazy_solver(n, clauses, by_trigger, chrono)
    return full_cnf(clauses, by_trigger), s, on_true_for(s, by_trigger)


@pytest.mark.parametrize("chrono", [0, 8, 10**6])
@pytest.mark.parametrize("seed", range(4))
def test_lazy_clauses_with_policy_decisions_match_pycosat(seed: int, chrono: int) -> None:
    """A decide callback with fixed preferences makes long backjumps likely; the answer must not
    depend on where lazily added clauses were placed."""
    rng = random.Random(seed)
    for _ in range(25):
        n = 40
        clauses, by_trigger = lazy_problem(n, rng, base=70, lazy=120)
        s = lazy_solver(n, clauses, by_trigger, chrono)
        prefs = [v if rng.random() < 0.7 else -v for v in rng.sample(range(1, n + 1), n)]

        def decide(s: SatSolver = s, prefs: list[int] = prefs) -> int | None:
            return next((p for p in prefs if s.value(p) is None), None)

        expected = pycosat_sat(full_cnf(clauses, by_trigger))
        result = s.solve(decide=decide, on_true=on_true_for(s, by_trigger))
        assert result == expected
        if result:
            model = set(s.model())
            assert all(satisfies(model, c) for c in full_cnf(clauses, by_trigger))


@pytest.mark.parametrize("chrono", [0, 8])
@pytest.mark.parametrize("seed", range(3))
def test_context_and_assumptions_across_many_calls(seed: int, chrono: int) -> None:
    """One solver, many calls under a growing context and changing assumptions (the optimizer's
    pattern): every verdict, model and failed-assumption set checked against pycosat."""
    rng = random.Random(100 + seed)
    n = 45
    cnf, s, on_true = lazy_session(n, rng, 90, chrono)
    context: list[int] = []
    for _ in range(40):
        if rng.random() < 0.3:
            lit = rng.randint(1, n) * rng.choice((1, -1))
            if pycosat_sat([*cnf, *([c] for c in context), [lit]]):
                context.append(lit)  # the context stays satisfiable, as the optimizer keeps it
        assumptions = [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 8)]
        expected = pycosat_sat([*cnf, *([c] for c in context), *([a] for a in assumptions)])
        result = s.solve(assumptions, context=context, on_true=on_true)
        assert result == expected
        if result:
            model = set(s.model())
            assert all(satisfies(model, c) for c in cnf)
            assert all(satisfies(model, [a]) for a in [*context, *assumptions])
        else:
            _, failed = s.unsat_core()
            assert set(failed) <= set(context) | set(assumptions)
            assert not pycosat_sat([*cnf, *([a] for a in failed)])


@pytest.mark.parametrize("chrono", [0, 8])
@pytest.mark.parametrize("seed", range(3))
def test_one_level_per_assumption_with_retract_matches_pycosat(seed: int, chrono: int) -> None:
    """The optimizer's pattern with ``level_each``: after a failure, ``retract`` keeps the levels
    below the failed assumptions, which are dropped and others appended; the kept levels must never
    leave a verdict, model or core wrong, and a call whose assumptions start the same must reuse
    them rather than propagate them again."""
    rng = random.Random(300 + seed)
    n = 45
    cnf, s, on_true = lazy_session(n, rng, 80, chrono)
    assumptions = [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 14)]
    reused = 0
    for _ in range(60):
        expected = pycosat_sat([*cnf, *([a] for a in assumptions)])
        before = s.stats.propagations
        result = s.solve(assumptions, on_true=on_true, level_each=True)
        assert result == expected
        if result:
            model = set(s.model())
            assert all(satisfies(model, c) for c in cnf)
            assert all(satisfies(model, [a]) for a in assumptions)
            assumptions = assumptions[1:]
        else:
            _, failed = s.unsat_core()
            assert failed and set(failed) <= set(assumptions)
            assert not pycosat_sat([*cnf, *([a] for a in failed)])
            kept = len(s._trail_lim)
            s.retract(failed)
            # the levels below the first failed assumption stand (those above it are undone)
            first = min(assumptions.index(a) for a in failed)
            assert len(s._trail_lim) == min(kept, first)
            reused += first > 0
            assumptions = [a for a in assumptions if a not in failed]
        fresh = [v for v in range(1, n + 1) if v not in {abs(a) for a in assumptions}]
        assumptions += [v if rng.random() < 0.5 else -v for v in rng.sample(fresh, min(len(fresh), 3))]
        assert s.stats.propagations >= before
    assert reused  # some calls did start from kept levels


@pytest.mark.parametrize("seed", range(3))
def test_add_binary_mid_search_matches_pycosat(seed: int) -> None:
    """``add_binary`` (the encoding's fast path) added lazily, under every kind of partial
    assignment: same verdicts and valid models as pycosat, and its odd inputs behave like
    ``add_clause``'s (a repeated literal is a unit, a tautology is dropped)."""
    rng = random.Random(500 + seed)
    for _ in range(25):
        n = 40
        clauses = [[v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)] for _ in range(60)]
        pairs: dict[int, list[tuple[int, int]]] = {}
        for _ in range(90):
            v = rng.randint(1, n)
            u = rng.randint(1, n)
            pairs.setdefault(v, []).append((-v, u if rng.random() < 0.5 else -u))
        s = SatSolver()
        for _ in range(n):
            s.new_var()
        for c in clauses:
            s.add_clause(c)

        def on_true(v: int, s: SatSolver = s, pairs: dict[int, list[tuple[int, int]]] = pairs) -> None:
            for a, b in pairs.get(v, ()):
                s.add_binary(a, b)

        cnf = clauses + [list(p) for ps in pairs.values() for p in ps]
        expected = pycosat_sat(cnf)
        assert s.solve(on_true=on_true) == expected
        if expected:
            model = set(s.model())
            assert all(satisfies(model, c) for c in cnf)
    s = SatSolver()
    a, b = s.new_var(), s.new_var()
    s.add_binary(a, -a)  # a tautology: no constraint
    assert s.solve([-a]) is True
    s.add_binary(b, b)  # a repeated literal: the unit b
    assert s.solve([-b]) is False
    with pytest.raises(ValueError):
        s.add_binary(a, 7)


def test_a_context_that_fails_on_its_own_level() -> None:
    s = SatSolver()
    a, b, c = (s.new_var() for _ in range(3))
    s.add_clause([-a, b], tag="a->b")
    s.add_clause([-b, -c], tag="b->-c")
    assert s.solve([b], context=[a, c]) is False
    tags, failed = s.unsat_core()
    assert sorted(failed) == [a, c]
    assert tags == {"a->b", "b->-c"}
    assert s.solve([b], context=[a]) is True
    assert s.solve([c], context=[a]) is False
    tags, failed = s.unsat_core()
    assert sorted(failed) == [a, c]


def test_complete_falls_back_when_rest_false_violates_a_clause() -> None:
    """``COMPLETE`` sets every unassigned variable false in one step; a clause that needs one of
    them true makes the engine undo that step and decide one variable at a time."""
    rng = random.Random(7)
    for _ in range(40):
        n = 30
        clauses = [[v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)] for _ in range(110)]
        s = SatSolver()
        for _ in range(n):
            s.new_var()
        for c in clauses:
            s.add_clause(c)
        result = s.solve(decide=lambda: COMPLETE)
        assert result == pycosat_sat(clauses)
        if result:
            assert all(satisfies(set(s.model()), c) for c in clauses)


def test_complete_when_nothing_is_left_to_assign() -> None:
    s = SatSolver()
    a = s.new_var()
    s.add_clause([a])
    assert s.solve(decide=lambda: COMPLETE) is True
    assert s.model() == [a]


def test_implied_and_probe() -> None:
    rng = random.Random(3)
    for _ in range(30):
        n = 25
        clauses = [[v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 2)] for _ in range(30)]
        clauses += [[v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)] for _ in range(20)]
        s = SatSolver()
        for _ in range(n):
            s.new_var()
        for c in clauses:
            s.add_clause(c)
        context = [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)]
        if not s.implied(context=context):
            assert not pycosat_sat([*clauses, *([c] for c in context)])
            continue
        for v in range(1, n + 1):
            value = s.value(v)
            if value is not None:  # implied: the opposite is impossible
                assert not pycosat_sat([*clauses, *([c] for c in context), [-v if value else v]])
        for lit in [v * sign for v in range(1, n + 1) for sign in (1, -1)]:
            if s.probe(lit):
                assert not pycosat_sat([*clauses, *([c] for c in context), [lit]])
        # probing leaves nothing behind: the next solve under the same context is exact
        assert s.solve(context=context) is pycosat_sat([*clauses, *([c] for c in context)])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6])
def test_totalizer_outputs_count_inputs(size: int) -> None:
    s = SatSolver()
    inputs = [s.new_var() for _ in range(size)]
    total = Totalizer(s, inputs)
    outs = {k: total.output(k) for k in range(size, 0, -1)}  # built out of order on purpose
    for bits in itertools.product((False, True), repeat=size):
        assumed = [v if b else -v for v, b in zip(inputs, bits)]
        for k, out in outs.items():
            forced = sum(bits) >= k
            assert s.solve([*assumed, -out]) is (not forced)
    with pytest.raises(ValueError):
        total.output(size + 1)
