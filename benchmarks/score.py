"""conda classic's objective vector of every solver's answer to one problem of a run.

    python -m benchmarks score benchmarks/results/large pytorch-jupyterlab-osxarm64

When two answers differ, this says whether one is better under the objective sequence solvent
minimizes (docs/solver.md): each answer's records are put in a fresh encoding of the problem and
every objective's terms are evaluated on them. An answer the encoding rejects (it breaks a
dependency or a constraint) is reported as invalid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.runner import load_suite


def objective_vectors(results_dir: Path, problem_name: str) -> dict[str, list[tuple[str, int]] | str]:
    from solvent.api import _virtual_packages
    from solvent.channels.index import ChannelIndex
    from solvent.match_spec import parse_match_spec
    from solvent.solver.objectives import objective_vector
    from solvent.solver.provider import Provider

    results = json.loads((results_dir / "results.json").read_text())
    suite = results["suite"]
    problem = next(p for p in load_suite(suite, include_slow=True) if p.name == problem_name)
    runs = {r["solver"]: r for r in results["runs"] if r["problem"] == problem_name and r["status"] == "ok"}
    index = ChannelIndex(problem.channels, problem.platform, offline=True, quiet=True)
    provider = Provider(
        index,
        platform=problem.platform,
        virtual_packages=_virtual_packages(problem.platform, problem.virtual_packages),
        channel_priority=problem.channel_priority,
    )
    specs = [parse_match_spec(s) for s in problem.specs]
    out: dict[str, Any] = {}
    for solver, run in runs.items():
        chosen = {(name, version, build) for name, version, build in (k.split("=", 2) for k in run["packages"])}
        vector = objective_vector(provider, specs, chosen)
        out[solver] = "invalid: breaks a dependency or constraint" if vector is None else vector
    return out


def main(results_dir: str, problem_name: str) -> None:
    vectors = objective_vectors(Path(results_dir), problem_name)
    solvers = list(vectors)
    valid = {s: v for s, v in vectors.items() if not isinstance(v, str)}
    for s, v in vectors.items():
        if isinstance(v, str):
            print(f"{s}: {v}")
    if not valid:
        return
    names = [n for n, _ in next(iter(valid.values()))]
    print(f"{'objective':30} " + " ".join(f"{s:>16}" for s in solvers if s in valid))
    for i, name in enumerate(names):
        print(f"{name:30} " + " ".join(f"{valid[s][i][1]:>16}" for s in solvers if s in valid))
