"""Real environments of 150-320 packages: conda's optimum, proven, and conda's exact package set.

The problems come from the benchmark suite ``benchmarks/suites/large.yaml`` (the fast ones; the
suite itself is run by ``python -m benchmarks``). Each fingerprint is the sha256 of conda
classic's own answer (``name=version=build`` lines, sorted), recorded with
``../shared/peers/peer_solve.py --solver conda``: the default policy must reproduce it exactly,
prove it optimal, and pass the independent verifier.
"""

from __future__ import annotations

import hashlib

import pytest

from benchmarks.runner import load_suite
from solvent.api import solve
from solvent.solver.verify import verify_solution
from solvent.virtual_packages import parse_virtual_package
from tests.conftest import CHANNELS

CONDA_ANSWERS = {
    "test2018-datasci-conda-build": (156, "8ef48cd2ad618b2d"),
    "test2018-anaconda-r-compilers": (319, "f553430432584b60"),
    "r2018-tidyverse-sparklyr": (153, "503478e901e5aa03"),
    "cuda-pytorch-gpu-jupyterlab-win64": (200, "9fde612384bf07ad"),
    "cf-conda-compilers-aarch64": (165, "26b3325675680b89"),
}


def _problems() -> list[object]:
    if not CHANNELS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared data not available"))]
    by_name = {p.name: p for p in load_suite("large")}
    return [pytest.param(by_name[name], id=name) for name in CONDA_ANSWERS]


@pytest.mark.parametrize("problem", _problems())
def test_classic_policy_proves_condas_answer(problem: object) -> None:
    from benchmarks.runner import Problem

    assert isinstance(problem, Problem)
    solution = solve(
        problem.specs,
        problem.channels,
        problem.platform,
        virtual_packages=problem.virtual_packages,
        channel_priority=problem.channel_priority,
        offline=True,
    )
    assert solution.stats is not None and solution.stats.optimal
    virtual = [parse_virtual_package(v, problem.platform) for v in problem.virtual_packages]
    assert not verify_solution(solution.packages, problem.specs, virtual_packages=virtual, platform=problem.platform)
    lines = sorted(f"{r.name}={r.version}={r.build}" for r in solution.packages)
    count, fingerprint = CONDA_ANSWERS[problem.name]
    assert len(lines) == count
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16] == fingerprint
