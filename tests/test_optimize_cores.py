"""The optimizer's cores and incumbent: cores minimized (checked against pycosat), and an
incumbent found by the engine's own search cut down to what the requests need."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings

import solvent.solver.optimize as optimize
from solvent.errors import Unsatisfiable
from solvent.match_spec import parse_match_spec
from solvent.solver.decide import GreedyDecider
from solvent.solver.objectives import Objective, objective_vector
from solvent.solver.provider import Provider, RecordSet
from solvent.solver.resolver import Resolver
from solvent.solver.sat import SatSolver
from solvent.solver.verify import verify_solution
from tests.helpers import rec
from tests.test_sat import pycosat_sat, rand_cnf, solver_with
from tests.test_solver_random import channels


class _Clauses:
    """What the optimizer's core handling needs of an encoding, over plain clauses."""

    def __init__(self, sat: SatSolver) -> None:
        self.sat = sat

    def expand(self, var: int) -> None:
        pass  # every clause is there from the start


def _unsat(clauses: list[list[int]], assumed: list[int]) -> bool:
    return not pycosat_sat([*clauses, *([a] for a in assumed)])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("galloping", [False, True])
@pytest.mark.parametrize("by", ["policy", "engine"])
def test_a_core_is_cut_to_a_minimal_one(seed: int, galloping: bool, by: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the search's core, the minimized one is a subset, still refuted, and without any
    member it could do without (every proper subset is satisfiable, by pycosat). Galloping (a
    large core: runs of members dropped at once, the members named likely tried last) keeps
    all three, and so does a try the policy's decisions give up on at once (``engine``: every
    answer comes from the engine's retry)."""
    # no try may give up here
    if by == "policy":
        monkeypatch.setattr(optimize, "_MINIMIZE_CONFLICTS", 10_000)
    else:
        monkeypatch.setattr(optimize, "_MINIMIZE_CONFLICTS", 0)
        monkeypatch.setattr(optimize, "_REFUTE_CONFLICTS", 10_000)
    if galloping:
        monkeypatch.setattr(optimize, "_LARGE_CORE", 2)
    rng = random.Random(seed)
    checked = 0
    while checked < 15:
        n = 28 if galloping else 16  # more assumptions: longer runs to gallop over
        clauses = rand_cnf(n, n * 5 // 2, rng)
        if not pycosat_sat(clauses):
            continue
        sat = solver_with(n, clauses)
        assumptions = [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), n * 3 // 4)]
        if sat.solve(assumptions, level_each=True):
            continue
        core = sat.failed_assumptions()
        optimizer = optimize.LexicographicOptimizer(
            _Clauses(sat),  # type: ignore[arg-type]
            lambda: None,
            set(),
            conflict_budget=1_000_000,
        )
        likely = [a for a in core if rng.random() < 0.3] if galloping else []
        smaller = optimizer._minimal_core(core, likely)
        assert set(smaller) <= set(core)
        assert _unsat(clauses, smaller)
        if len(smaller) > 2:  # it stops at two: a pair is as strong a core as the search needs
            for a in smaller:
                assert not _unsat(clauses, [b for b in smaller if b != a]), (core, smaller, a)
        checked += 1


def test_an_incumbent_that_installs_what_nothing_needs_is_cut_down() -> None:
    """A model of the engine's own search may install a package nothing asked for: before the
    next objective it is replaced by the policy's completion of what the requests reach, which
    pays less for that objective and keeps every requirement met."""
    records = [rec("app", "1.0", depends=["dep"]), rec("dep", "1.0"), rec("junk", "1.0")]
    provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
    resolver = Resolver(provider, policy="greedy")
    resolver.resolve([parse_match_spec("app")])
    enc = resolver.encoding
    assert enc is not None
    (junk,) = enc.touch("junk")
    (app,) = enc.name_vars["app"]
    counted = [enc.installed(name) for name in ("dep", "junk")]
    sat = enc.sat
    assert sat.solve([app, junk], on_true=enc.expand)
    loose = set(sat.model())
    assert junk in loose
    optimizer = optimize.LexicographicOptimizer(enc, GreedyDecider(enc), loose, conflict_budget=1_000)
    optimizer._loose = True
    terms = dict.fromkeys(counted, 1)
    assert optimizer._incumbent_cost(terms) == 2
    assert optimizer._tighten_incumbent(terms, 2) == 1
    assert junk not in optimizer.model
    assert app in optimizer.model
    # and the whole optimization proves the same value from there
    best = optimizer.run([Objective("package count", lambda: dict(terms))])
    assert junk not in best
    assert optimizer.stats.objectives == {"package count": 1}
    assert optimizer.stats.optimal


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(channels())
def test_the_incumbent_is_kept_when_the_policys_pick_among_ties_runs_out(
    problem: tuple[list, list[str]],
) -> None:
    """With no conflicts at all for the policy's pick among the optimal solutions, the answer is
    the incumbent: still a valid environment, still proven optimal, and exactly as good as the
    policy's pick on every objective."""
    records, specs = problem
    answers = []
    for cap in (optimize._TIE_BREAK_CONFLICTS, 0):
        provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
        resolver = Resolver(provider)
        original = optimize._TIE_BREAK_CONFLICTS
        optimize._TIE_BREAK_CONFLICTS = cap
        try:
            result = resolver.resolve([parse_match_spec(s) for s in specs])
        except Unsatisfiable:
            return
        finally:
            optimize._TIE_BREAK_CONFLICTS = original
        assert verify_solution(result, specs, platform="linux-64") == []
        assert resolver.stats.optimal
        assert resolver.stats.tie_broken == (cap > 0)
        chosen = {(r.name, r.version, r.build) for r in result}
        fresh = Provider(RecordSet(records, ["test"]), platform="linux-64")
        answers.append(objective_vector(fresh, [parse_match_spec(s) for s in specs], chosen))
    assert answers[0] is not None
    assert answers[0] == answers[1]
