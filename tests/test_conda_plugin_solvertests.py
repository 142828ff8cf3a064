"""conda's solver-agnostic test suite (``conda.testing.solver_helpers.SolverTests``) on solvent.

The same 39 tests conda runs against classic, libmamba and rattler. Classic passes 36; the other
three carry conda's own ``xfail`` markers (channel-priority settings the suite's environment does
not apply), and solvent is held to the same markers. docs/conda-plugin.md has the table.
"""

from __future__ import annotations

import pytest

from tests import conda_source

conda_source.require()

from conda.base.context import reset_context  # noqa: E402
from conda.testing.solver_helpers import SolverTests  # noqa: E402

from solvent.conda_plugin.solver import SolventSolver  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _isolated_conda(tmp_path_factory: pytest.TempPathFactory):
    """No user condarc, package caches under tmp: classic's suite assumes a clean context."""
    tmp = tmp_path_factory.mktemp("conda-context")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in conda_source.isolated_env(tmp).items():
            mp.setenv(key, value)
        reset_context()
        yield
    reset_context()


class TestSolventSolver(SolverTests):
    @property
    def solver_class(self) -> type:
        return SolventSolver
