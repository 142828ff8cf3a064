"""solvent as a conda solver plugin: ``conda install --solver solvent``.

conda's plugin manager imports this module through the ``conda`` entry-point group declared in
pyproject.toml; nothing in solvent imports it, so ``pip install solvent`` works without conda.
The hook below is all conda needs; the solver class lives in :mod:`solvent.conda_plugin.solver`
and is imported only when conda asks for the backend.
"""

from __future__ import annotations

from typing import Any, Iterator

from conda import plugins

SOLVER_NAME = "solvent"


@plugins.hookimpl
def conda_solvers() -> Iterator[Any]:
    """Registers the ``solvent`` solver (conda then accepts ``--solver solvent``)."""
    from conda.plugins.types import CondaSolver

    from solvent.conda_plugin.solver import SolventSolver

    yield CondaSolver(name=SOLVER_NAME, backend=SolventSolver)
