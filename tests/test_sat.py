"""The CDCL engine against oracles: pycosat for CNF, brute force for native constraints."""

from __future__ import annotations

import itertools
import random
import time
from typing import Callable, Sequence

import pycosat
import pytest

from solvent.solver.sat import SatSolver

Clause = list[int]


def rand_cnf(n: int, m: int, rng: random.Random, k: int = 3) -> list[Clause]:
    return [[v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), k)] for _ in range(m)]


def solver_with(n: int, clauses: Sequence[Clause], **kw: bool) -> SatSolver:
    s = SatSolver(**kw)
    for _ in range(n):
        s.new_var()
    for i, c in enumerate(clauses):
        s.add_clause(c, tag=i)
    return s


def pycosat_sat(clauses: Sequence[Sequence[int]]) -> bool:
    return pycosat.solve([list(c) for c in clauses]) != "UNSAT"


def satisfies(true_vars: set[int], clause: Sequence[int]) -> bool:
    return any((lit > 0) == (abs(lit) in true_vars) for lit in clause)


def int_tags(tags: set[object]) -> list[int]:
    assert all(isinstance(t, int) for t in tags)
    return [t for t in tags if isinstance(t, int)]


def amo_cnf(lits: Sequence[int]) -> list[Clause]:
    return [[-a, -b] for a, b in itertools.combinations(lits, 2)]


# ---------------------------------------------------------------------------- random 3-SAT


@pytest.mark.parametrize(("n", "count", "seed"), [(20, 60, 1), (50, 40, 2), (100, 16, 3), (150, 4, 4)])
def test_random_3sat_matches_pycosat(n: int, count: int, seed: int) -> None:
    rng = random.Random(seed)
    verdicts = set()
    for _ in range(count):
        clauses = rand_cnf(n, round(n * 4.26), rng)
        s = solver_with(n, clauses)
        result = s.solve()
        assert result == pycosat_sat(clauses)
        verdicts.add(result)
        if result:
            model = set(s.model())
            assert all(satisfies(model, c) for c in clauses)
            assert all(s.value(v) == (v in model) for v in range(1, n + 1))
        else:
            tags, failed = s.unsat_core()
            assert failed == []
            assert tags <= set(range(len(clauses)))
            assert not pycosat_sat([clauses[i] for i in int_tags(tags)])
    if count >= 16:
        assert verdicts == {True, False}  # the phase transition yields both answers


def test_core_tracking_off_gives_same_verdicts() -> None:
    rng = random.Random(7)
    for _ in range(20):
        clauses = rand_cnf(60, 256, rng)
        s = solver_with(60, clauses, track_core=False)
        assert s.solve() == pycosat_sat(clauses)


# ---------------------------------------------------------------------------- native constraints


def test_at_most_one_random_vs_pycosat() -> None:
    rng = random.Random(11)
    seen = set()
    for _ in range(300):
        n = 12
        clauses = rand_cnf(n, rng.randint(10, 40), rng, k=rng.choice((2, 3)))
        amos = [
            [v if rng.random() < 0.8 else -v for v in rng.sample(range(1, n + 1), rng.randint(3, 7))]
            for _ in range(rng.randint(1, 4))
        ]
        s = solver_with(n, clauses)
        for j, amo in enumerate(amos):
            s.add_at_most_one(amo, tag=("amo", j))
        full = clauses + [c for amo in amos for c in amo_cnf(amo)]
        result = s.solve()
        seen.add(result)
        assert result == pycosat_sat(full)
        if result:
            model = set(s.model())
            assert all(satisfies(model, c) for c in full)
        else:
            tags, _ = s.unsat_core()
            core = [clauses[t] for t in tags if isinstance(t, int)]
            core += [c for t in tags if isinstance(t, tuple) for c in amo_cnf(amos[t[1]])]
            assert not pycosat_sat(core)
    assert seen == {True, False}


def test_at_most_one_is_not_expanded_pairwise() -> None:
    s = SatSolver()
    lits = [s.new_var() for _ in range(3000)]
    s.add_at_most_one(lits, tag="one")
    s.add_clause(lits[:10], tag="some")
    assert s.solve() is True
    assert sum(1 for v in s.model() if v in set(lits)) == 1
    assert sum(len(w) for w in s._bimp) == 0  # no pairwise clauses behind the scenes


def test_at_most_one_core() -> None:
    s = SatSolver()
    a, b, c, d = (s.new_var() for _ in range(4))
    s.add_at_most_one([a, b, c], tag="amo")
    s.add_clause([a, d], tag="a-or-d")
    s.add_clause([-d], tag="not-d")
    s.add_clause([b, c], tag="b-or-c")
    s.add_clause([d, -c, b], tag="unused")
    assert s.solve() is False
    tags, _ = s.unsat_core()
    assert tags == {"amo", "a-or-d", "not-d", "b-or-c"}


def brute_force(
    n: int,
    clauses: Sequence[Clause],
    linears: Sequence[tuple[list[tuple[int, int]], int, int | None]],
    assumptions: Sequence[int] = (),
    objective: Callable[[set[int]], int] | None = None,
) -> int | None:
    """Whether (or, with an objective, at what minimum) the constraints are satisfiable."""
    best: int | None = None
    for bits in range(1 << n):
        true = {v for v in range(1, n + 1) if bits >> (v - 1) & 1}
        if not all(satisfies(true, [a]) for a in assumptions):
            continue
        if not all(satisfies(true, c) for c in clauses):
            continue
        if not all(linear_holds(true, lin) for lin in linears):
            continue
        value = objective(true) if objective else 0
        if best is None or value < best:
            best = value
    return best


def linear_holds(true: set[int], lin: tuple[list[tuple[int, int]], int, int | None]) -> bool:
    terms, bound, guard = lin
    if guard is not None and not satisfies(true, [guard]):
        return True
    return sum(w for w, lit in terms if satisfies(true, [lit])) <= bound


def test_linear_random_vs_brute_force() -> None:
    rng = random.Random(5)
    seen = set()
    for _ in range(250):
        n = 9
        clauses = rand_cnf(n, rng.randint(3, 14), rng, k=rng.choice((2, 3)))
        linears = []
        for _ in range(rng.randint(1, 3)):
            vs = rng.sample(range(1, n + 1), rng.randint(2, 6))
            terms = [(rng.randint(1, 5), v if rng.random() < 0.7 else -v) for v in vs]
            bound = rng.randint(0, sum(w for w, _ in terms))
            guard = rng.choice((None, None, rng.choice((1, -1)) * rng.randint(1, n)))
            linears.append((terms, bound, guard))
        s = solver_with(n, clauses)
        for j, (terms, bound, guard) in enumerate(linears):
            s.add_linear_le(terms, bound, guard=guard, tag=("lin", j))
        result = s.solve()
        seen.add(result)
        assert result == (brute_force(n, clauses, linears) is not None)
        if result:
            model = set(s.model())
            assert all(satisfies(model, c) for c in clauses)
            assert all(linear_holds(model, lin) for lin in linears)
        else:
            tags, _ = s.unsat_core()
            core_clauses = [clauses[t] for t in tags if isinstance(t, int)]
            core_lins = [linears[t[1]] for t in tags if isinstance(t, tuple)]
            assert brute_force(n, core_clauses, core_lins) is None
    assert seen == {True, False}


def test_linear_normalizes_complementary_and_duplicate_terms() -> None:
    s = SatSolver()
    x, y = s.new_var(), s.new_var()
    # 2x + 3(-x) + y + y <= 3  <=>  -x + 2y <= 1 (after taking 2 out)  <=>  y false
    s.add_linear_le([(2, x), (3, -x), (1, y), (1, y)], 3, tag="lin")
    assert s.solve() is True
    assert s.value(y) is False
    assert s.solve([y]) is False
    assert s.unsat_core() == ({"lin"}, [y])
    with pytest.raises(ValueError):
        s.add_linear_le([(-1, x)], 0)


def test_guarded_linear_under_assumptions_and_failed_guard() -> None:
    s = SatSolver()
    xs = [s.new_var() for _ in range(6)]
    g = s.new_var()
    s.add_clause(xs[:3], tag="one-of-first")
    s.add_clause(xs[3:], tag="one-of-last")
    s.add_linear_le([(1, x) for x in xs], 1, guard=g, tag="at-most-one-total")
    assert s.solve() is True
    assert s.solve([g]) is False
    tags, failed = s.unsat_core()
    assert failed == [g]
    assert tags == {"one-of-first", "one-of-last", "at-most-one-total"}
    assert s.solve() is True  # the guard off, the constraint is inert again


# ---------------------------------------------------------------------------- lazy clauses


def lazy_instance(n: int, rng: random.Random) -> tuple[list[Clause], dict[int, list[Clause]]]:
    """Package-like clauses: top-level requirements plus 'v implies ...' clauses owned by v."""
    top = [rng.sample(range(1, n + 1), 2) for _ in range(6)]
    owned: dict[int, list[Clause]] = {}
    for v in range(1, n + 1):
        cs = []
        for _ in range(rng.randint(1, 3)):
            others = [u if rng.random() < 0.5 else -u for u in rng.sample(range(1, n + 1), rng.randint(1, 2))]
            if v not in (abs(u) for u in others):
                cs.append([-v, *others])
        owned[v] = cs
    return top, owned


def test_lazy_clauses_same_verdict_as_upfront() -> None:
    rng = random.Random(3)
    seen = set()
    for _ in range(150):
        n = 30
        top, owned = lazy_instance(n, rng)
        everything = top + [c for cs in owned.values() for c in cs]
        expected = pycosat_sat(everything)

        s = SatSolver()
        for _ in range(n):
            s.new_var()
        for c in top:
            s.add_clause(c, tag=("top", tuple(c)))
        called: list[int] = []

        def on_true(
            v: int, s: SatSolver = s, called: list[int] = called, owned: dict[int, list[Clause]] = owned
        ) -> None:
            called.append(v)
            for c in owned[v]:
                s.add_clause(c, tag=("own", tuple(c)))

        result = s.solve(on_true=on_true)
        seen.add(result)
        assert result == expected
        assert len(called) == len(set(called))
        if result:
            model = set(s.model())
            assert all(satisfies(model, c) for c in everything)
            assert model <= set(called)
        else:
            tags, _ = s.unsat_core()
            assert not pycosat_sat([list(t[1]) for t in tags if isinstance(t, tuple)])
    assert seen == {True, False}


def test_lazy_clause_falsified_on_two_levels_backjumps_and_propagates() -> None:
    s = SatSolver()
    x1, x2, x3, y = (s.new_var() for _ in range(4))
    order = iter([x1, x2, x3])
    seen_y: list[bool | None] = []

    def decide() -> int | None:
        for lit in order:
            if s.value(lit) is None:
                return lit
        seen_y.append(s.value(y))
        return None

    def on_true(v: int) -> None:
        if v == x3:
            s.add_clause([-x1, -x2], tag="x1 excludes x2")  # false on levels 1 and 2
            s.add_clause([-x1, y], tag="x1 needs y")  # unit at level 1

    assert s.solve(decide=decide, on_true=on_true) is True
    model = set(s.model())
    assert x1 in model and x2 not in model and x3 in model and y in model
    assert seen_y and seen_y[0] is True


def test_lazy_unit_clause_is_propagated_at_its_own_level() -> None:
    s = SatSolver()
    x1, x2, x3, y = (s.new_var() for _ in range(4))
    order = iter([x1, x2, x3])
    seen_y: list[bool | None] = []

    def decide() -> int | None:
        for lit in order:
            if s.value(lit) is None:
                return lit
        seen_y.append(s.value(y))
        return None

    def on_true(v: int) -> None:
        if v == x3:
            s.add_clause([-x1, y], tag="unit at level 1")  # y belongs to level 1, not 3
            s.add_clause([-x2, -x3], tag="backjump to level 2")

    assert s.solve(decide=decide, on_true=on_true) is True
    assert seen_y[0] is True  # survived the backjump from level 3 to level 2
    assert set(s.model()) == {x1, x2, y}


def test_lazy_clause_falsified_on_one_level_is_analysed() -> None:
    s = SatSolver()
    x1, x2, x3, z = (s.new_var() for _ in range(4))
    s.add_clause([-x1, x2], tag="a")
    s.add_clause([-x1, x3], tag="b")
    s.add_clause([x1, z], tag="c")

    def on_true(v: int) -> None:
        if v == x3:
            s.add_clause([-x2, -x3], tag="d")  # both false on the same level: a real conflict

    assert s.solve(decide=lambda: x1 if s.value(x1) is None else None, on_true=on_true) is True
    model = set(s.model())
    assert x1 not in model and z in model
    assert s.stats.conflicts >= 1
    assert s.solve([x1]) is False
    assert s.unsat_core() == ({"a", "b", "d"}, [x1])


def test_lazy_clause_false_at_level_zero_makes_unsat_with_core() -> None:
    s = SatSolver()
    a, b, c = s.new_var(), s.new_var(), s.new_var()
    s.add_clause([a], tag="want a")
    s.add_clause([-b, c], tag="unused")

    def on_true(v: int) -> None:
        if v == a:
            s.add_clause([-a], tag="a is broken")

    assert s.solve(on_true=on_true) is False
    assert s.unsat_core() == ({"want a", "a is broken"}, [])
    assert s.solve() is False


def test_lazy_at_most_one_and_new_variables_in_callbacks() -> None:
    s = SatSolver()
    root = s.new_var()
    s.add_clause([root], tag="root")
    created: dict[int, list[int]] = {}

    def on_true(v: int) -> None:
        if v == root:
            cands = [s.new_var() for _ in range(5)]
            created[root] = cands
            s.add_at_most_one(cands, tag="one candidate")
            s.add_clause([-root, *cands], tag="root needs one")
            for c in cands[:4]:
                s.add_clause([-c, -root], tag=("broken", c))

    assert s.solve(on_true=on_true) is True
    model = set(s.model())
    assert [c for c in created[root] if c in model] == [created[root][4]]


def test_at_most_one_added_during_search_with_true_members() -> None:
    s = SatSolver()
    a, b, c = s.new_var(), s.new_var(), s.new_var()
    order = iter([a, b])

    def decide() -> int | None:
        for lit in order:
            if s.value(lit) is None:
                return lit
        return None

    def on_true(v: int) -> None:
        if v == b:
            s.add_at_most_one([a, b, c], tag="amo")  # a (level 1) and b (level 2) both true

    assert s.solve(decide=decide, on_true=on_true) is True
    model = set(s.model())
    assert a in model and b not in model and c not in model


# ---------------------------------------------------------------------------- decisions


def test_decide_callback_is_followed_when_feasible() -> None:
    rng = random.Random(9)
    for _ in range(30):
        n = 40
        preferred = {v: rng.random() < 0.5 for v in range(1, n + 1)}
        # clauses the preferred assignment satisfies
        clauses = [c for c in rand_cnf(n, 200, rng) if satisfies({v for v, t in preferred.items() if t}, c)]
        s = solver_with(n, clauses)

        def decide(s: SatSolver = s, preferred: dict[int, bool] = preferred) -> int | None:
            for v, t in preferred.items():
                if s.value(v) is None:
                    return v if t else -v
            return None

        assert s.solve(decide=decide) is True
        assert set(s.model()) == {v for v, t in preferred.items() if t}
        assert s.stats.conflicts == 0


def test_decide_callback_with_infeasible_preferences_still_finds_a_model() -> None:
    rng = random.Random(10)
    for _ in range(30):
        clauses = rand_cnf(40, 150, rng)
        s = solver_with(40, clauses)

        def first_free(s: SatSolver = s) -> int | None:
            return next((v for v in range(1, 41) if s.value(v) is None), None)

        result = s.solve(decide=first_free)
        assert result == pycosat_sat(clauses)
        if result:
            assert all(satisfies(set(s.model()), c) for c in clauses)


def test_default_phase_is_false() -> None:
    s = SatSolver()
    xs = [s.new_var() for _ in range(10)]
    s.add_clause(xs[:3])
    assert s.solve() is True
    assert len(s.model()) == 1


def test_decide_returning_assigned_literal_is_an_error() -> None:
    s = SatSolver()
    a = s.new_var()
    s.add_clause([a])
    with pytest.raises(ValueError):
        s.solve(decide=lambda: a)


# ---------------------------------------------------------------------------- incremental use


def test_incremental_minimization_with_guarded_bounds() -> None:
    rng = random.Random(21)
    for _ in range(40):
        n = 10
        clauses = rand_cnf(n, rng.randint(10, 30), rng, k=3)
        weights = {v: rng.randint(1, 9) for v in range(1, n + 1)}
        terms = [(w, v) for v, w in weights.items()]

        def cost_of(true: set[int], weights: dict[int, int] = weights) -> int:
            return sum(weights[v] for v in true)

        optimum = brute_force(n, clauses, [], objective=cost_of)
        s = solver_with(n, clauses)
        if not s.solve():
            assert optimum is None
            continue
        best = sum(weights.get(v, 0) for v in s.model())
        learned = s.stats.learned
        while True:
            guard = s.new_var()
            s.add_linear_le(terms, best - 1, guard=guard, tag=("bound", best - 1))
            result = s.solve([guard])
            assert s.stats.learned >= learned
            learned = s.stats.learned
            s.add_clause([-guard])
            if not result:
                break
            model = set(s.model())
            assert all(satisfies(model, c) for c in clauses)
            cost = sum(weights.get(v, 0) for v in model)
            assert cost < best
            best = cost
        assert best == optimum
        assert s.solve() is True  # the spent guards leave the original problem intact


def test_clauses_added_between_solves() -> None:
    rng = random.Random(13)
    for _ in range(20):
        clauses = rand_cnf(30, 110, rng)
        s = solver_with(30, clauses)
        added = list(clauses)
        for _ in range(60):
            result = s.solve()
            assert result == pycosat_sat(added)
            if not result:
                tags, _ = s.unsat_core()
                assert not pycosat_sat([added[t] for t in int_tags(tags)])
                break
            # cut off the current model and its neighbourhood
            model = set(s.model())
            block = [-v if v in model else v for v in rng.sample(range(1, 31), 5)]
            s.add_clause(block, tag=len(added))
            added.append(block)


def test_assumptions_and_failed_assumptions() -> None:
    rng = random.Random(17)
    seen = set()
    for _ in range(60):
        n = 40
        clauses = rand_cnf(n, 140, rng)
        assumptions = [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 10)]
        s = solver_with(n, clauses)
        result = s.solve(assumptions)
        expected = pycosat_sat(clauses + [[a] for a in assumptions])
        assert result == expected
        seen.add(result)
        if result:
            model = set(s.model())
            assert all(satisfies(model, [a]) for a in assumptions)
        else:
            tags, failed = s.unsat_core()
            assert set(failed) <= set(assumptions)
            assert not pycosat_sat([clauses[t] for t in int_tags(tags)] + [[a] for a in failed])
        # the same solver without assumptions agrees with pycosat too
        assert s.solve() == pycosat_sat(clauses)
    assert seen == {True, False}


def test_contradictory_assumptions() -> None:
    s = SatSolver()
    a, b = s.new_var(), s.new_var()
    s.add_clause([a, b], tag="ab")
    assert s.solve([a, -a]) is False
    tags, failed = s.unsat_core()
    assert tags == set() and sorted(failed) == [-a, a]
    assert s.solve([-a]) is True and s.value(b) is True


def test_in_conflicts_names_the_variables_a_conflict_analysis_met() -> None:
    s = pigeonhole(5, 4, native=False)
    spare = s.new_var()  # in no clause: no conflict can meet it
    assert not any(s.in_conflicts(v) for v in range(1, s.num_vars + 1))
    assert s.solve() is False
    assert s.stats.conflicts > 0
    assert any(s.in_conflicts(v) for v in range(1, spare))
    assert not s.in_conflicts(spare)


def test_max_conflicts_gives_up_then_finishes() -> None:
    s = pigeonhole(8, 7, native=False)
    assert s.solve(max_conflicts=5) is None
    assert s.stats.conflicts >= 5
    assert s.solve() is False


# ---------------------------------------------------------------------------- basics


def test_empty_and_trivial_clauses() -> None:
    s = SatSolver()
    a = s.new_var()
    s.add_clause([a, -a])  # tautology: dropped
    s.add_clause([a, a])
    assert s.solve() is True and s.model() == [a]
    s.add_clause([], tag="empty")
    assert s.solve() is False
    assert s.unsat_core() == ({"empty"}, [])
    assert not s.ok


def test_invalid_literals_and_premature_queries() -> None:
    s = SatSolver()
    s.new_var()
    with pytest.raises(ValueError):
        s.add_clause([0])
    with pytest.raises(ValueError):
        s.add_clause([2])
    with pytest.raises(RuntimeError):
        s.model()
    with pytest.raises(RuntimeError):
        s.unsat_core()
    assert s.solve() is True
    assert s.value(1) is False
    v = s.new_var()
    assert s.value(v) is None


def test_unit_clauses_conflicting() -> None:
    s = SatSolver()
    a, b = s.new_var(), s.new_var()
    s.add_clause([a], tag=1)
    s.add_clause([-a, b], tag=2)
    s.add_clause([-b], tag=3)
    assert s.solve() is False
    assert s.unsat_core() == ({1, 2, 3}, [])


def pigeonhole(p: int, h: int, native: bool) -> SatSolver:
    s = SatSolver()
    x = {(i, j): s.new_var() for i in range(p) for j in range(h)}
    for i in range(p):
        s.add_clause([x[i, j] for j in range(h)], tag=("pigeon", i))
    for j in range(h):
        if native:
            s.add_at_most_one([x[i, j] for i in range(p)], tag=("hole", j))
        else:
            for a, b in itertools.combinations(range(p), 2):
                s.add_clause([-x[a, j], -x[b, j]], tag=("hole", j))
    return s


@pytest.mark.parametrize("native", [False, True])
def test_pigeonhole_unsat(native: bool) -> None:
    s = pigeonhole(7, 6, native)
    t = time.perf_counter()
    assert s.solve() is False
    print(f"pigeonhole 7/6 native={native}: {time.perf_counter() - t:.3f}s, {s.stats.conflicts} conflicts")
    tags, _ = s.unsat_core()
    assert {t for t in tags if isinstance(t, tuple) and t[0] == "pigeon"} == {("pigeon", i) for i in range(7)}


def test_learned_database_stays_bounded() -> None:
    s = pigeonhole(9, 8, native=True)
    assert s.solve(max_conflicts=9000) in (None, False)
    assert s.stats.reductions >= 1
    assert len(s._learned) < s.stats.learned / 2


def test_performance_smoke() -> None:
    rng = random.Random(2024)
    n, count = 150, 4
    total = 0.0
    props = 0
    for _ in range(count):
        clauses = rand_cnf(n, round(n * 4.26), rng)
        s = solver_with(n, clauses)
        t = time.perf_counter()
        result = s.solve()
        total += time.perf_counter() - t
        props += s.stats.propagations
        assert result == pycosat_sat(clauses)
    print(f"random 3-SAT n={n} ratio 4.26: {total / count:.3f}s average, {props / total:,.0f} propagations/s")
