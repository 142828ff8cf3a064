"""The pycosat back-end's own machinery against brute force: the reduction never takes out a record
that some solution installs, and the unary counters bound exactly the sums they claim to."""

from __future__ import annotations

import itertools
import random

import pytest

from solvent.match_spec import parse_match_spec
from solvent.record import PackageRecord
from solvent.solver.backends.pycosat_cnf import CNF, Counter, Objective
from solvent.solver.backends.pycosat_reduce import Reduction
from solvent.solver.provider import Provider, RecordSet
from solvent.solver.verify import verify_solution
from tests.helpers import rec

pycosat = pytest.importorskip("pycosat")

NAMES = ["a", "b", "c", "d", "e"]


def random_channel(rng: random.Random) -> list[PackageRecord]:
    records = []
    for name in NAMES:
        for version in range(1, rng.randint(1, 3) + 1):
            others = [n for n in NAMES if n != name]
            depends = [
                f"{n} {rng.choice(['', '>=2', '<3', '1.*', '>=3'])}".strip()
                for n in rng.sample(others, rng.randint(0, 2))
            ]
            constrains = [f"{n} {rng.choice(['<2', '>=2'])}" for n in rng.sample(others, rng.randint(0, 1))]
            records.append(rec(name, str(version), depends=depends, constrains=constrains))
    return records


def all_solutions(records: list[PackageRecord], specs: list[str]) -> list[tuple[PackageRecord, ...]]:
    """Every valid environment: at most one record per name, each spec and edge satisfied."""
    by_name = {n: [r for r in records if r.name == n] for n in NAMES}
    out = []
    for choice in itertools.product(*([None, *by_name[n]] for n in NAMES)):
        packages = [r for r in choice if r is not None]
        if not verify_solution(packages, specs):
            out.append(tuple(packages))
    return out


@pytest.mark.parametrize("seed", range(60))
def test_reduction_keeps_every_solution(seed: int) -> None:
    rng = random.Random(seed)
    records = random_channel(rng)
    specs = [f"{n} {rng.choice(['', '>=2', '<3'])}".strip() for n in rng.sample(NAMES, rng.randint(1, 2))]
    provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
    reduction = Reduction(provider, [parse_match_spec(s) for s in specs])
    solutions = all_solutions(records, specs)
    assert reduction.unsat == (not solutions)
    for solution in solutions:
        assert not reduction.dead.intersection(solution)
        names = {r.name for r in solution}
        assert reduction.certain <= names
    if solutions:
        # what a fixed objective rules out is taken out the same way: keep only one solution's records
        kept = set(solutions[0])
        reduction.exclude([r for r in records if r.name in {s.name for s in kept} and r not in kept])
        assert not reduction.dead.intersection(kept)


@pytest.mark.parametrize("seed", range(40))
def test_counter_bounds_exactly(seed: int) -> None:
    rng = random.Random(seed)
    provider = Provider(RecordSet([rec("a", "1")], ["test"]), platform="linux-64")
    reduction = Reduction(provider, [parse_match_spec("a")])
    cnf = CNF(provider, reduction)
    objective = Objective("test")
    groups: list[list[tuple[int, int]]] = []
    for _ in range(rng.randint(1, 5)):
        # one leaf: mutually exclusive inputs with excess values, as one name's records
        levels = sorted(rng.sample(range(1, 7), rng.randint(1, 3)))
        inputs = [(cnf.new_var(), level) for level in levels]
        for (x, _), (y, _) in itertools.combinations(inputs, 2):
            cnf.clauses.append([-x, -y])
        steps = []
        for level in levels:
            step = cnf.new_var()
            cnf.clauses += [[-x, step] for x, e in inputs if e >= level]
            steps.append((level, step))
        for (_, lower), (_, upper) in zip(steps, steps[1:]):
            cnf.clauses.append([-upper, lower])
        objective.leaves.append(steps)
        groups.append(inputs)
    total = sum(max(e for _, e in g) for g in groups)
    bound = rng.randint(0, total)
    counter = Counter(cnf, objective, rng.randint(bound + 1, total + 2))
    clauses = [*cnf.clauses, *counter.clauses, *counter.bound(bound)]
    inputs = [x for g in groups for x, _ in g]
    for assignment in itertools.product(*([None, *g] for g in groups)):
        chosen = [x for x in assignment if x is not None]
        value = sum(e for x, e in chosen)
        fixed = [[x] if x in {c[0] for c in chosen} else [-x] for x in inputs]
        assert (pycosat.solve(clauses + fixed) != "UNSAT") == (value <= bound), (assignment, bound)
