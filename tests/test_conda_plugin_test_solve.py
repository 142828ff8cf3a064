"""conda's own tests/core/test_solve.py, run with ``CONDA_TEST_SOLVERS=solvent``.

conda classic passes 68 of its 73 tests here (5 skipped), or 66 when ``tests/data/conda_format_repo``
is missing (the tarball does not carry it; pytest-conda-solvers ships a copy). One test classic
skips is not run (see ``NOT_RUN``), so solvent runs 72.
solvent must pass every test classic passes, except the documented differences below: each one
is the wording of an error message, which conda's tests compare per solver by name.
"""

from __future__ import annotations

import time

import pytest

from tests import conda_source

conda_source.require()

from tests.conda_plugin_harness import run_test_solve, summary  # noqa: E402
from tests.conda_solvers_cases import package_dir  # noqa: E402

# Tests that need tests/data/conda_format_repo, which the tarball lacks; the harness adds the copy
# pytest-conda-solvers ships when that is available, and then classic and solvent both pass them.
NOT_RUNNABLE = (
    {}
    if package_dir() is not None
    else {
        "test_current_repodata_usage[solvent]": "needs tests/data/conda_format_repo (not in the tarball)",
        "test_current_repodata_fallback[solvent]": "needs tests/data/conda_format_repo (not in the tarball)",
    }
)
# Not run: classic skips it (custom multichannels are not flexible within classic's pipeline,
# which solvent keeps), and it needs https://repo.anaconda.com (12 s of timeouts offline).
NOT_RUN = ("test_strict_custom_multichannel_allows_fallback_to_later_subchannel[solvent]",)
# Same verdict as classic, different words: the tests compare the exact text of classic's error.
EXPECTED_DIFFERENCES = {
    "test_cuda_fail_1[solvent]": "UnsatisfiableError raised; text is solvent's explanation, not classic's",
    "test_cuda_fail_2[solvent]": "UnsatisfiableError raised; text is solvent's explanation, not classic's",
    "test_downgrade_python_prevented_with_sane_message[solvent]": (
        "UnsatisfiableError raised; the test has message snippets only for classic, libmamba, rattler"
    ),
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, str]:
    t0 = time.perf_counter()
    result = run_test_solve("solvent", deselect=NOT_RUN)
    print(f"conda's test_solve.py with solvent: {summary(result)} in {time.perf_counter() - t0:.1f} s")
    return result


def test_suite_ran(outcomes: dict[str, str]) -> None:
    # 73 tests less the one not run; classic passes 68 (66 without conda_format_repo) and skips 4.
    assert len(outcomes) == 72, summary(outcomes)
    runnable = 68 - len(NOT_RUNNABLE)
    assert summary(outcomes) == {
        "passed": runnable - len(EXPECTED_DIFFERENCES),
        "failed": 3 + len(NOT_RUNNABLE),
        "skipped": 4,
    }


def test_no_unexpected_failures(outcomes: dict[str, str]) -> None:
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    unexpected = failed - set(NOT_RUNNABLE) - set(EXPECTED_DIFFERENCES)
    assert not unexpected, f"conda's test_solve.py failures with solvent: {sorted(unexpected)}"


def test_expected_differences_still_differ(outcomes: dict[str, str]) -> None:
    """A documented difference that starts passing should leave the list (and the docs)."""
    now_passing = sorted(name for name in EXPECTED_DIFFERENCES if outcomes.get(name) == "passed")
    assert not now_passing, f"now passing, update EXPECTED_DIFFERENCES and docs/conda-plugin.md: {now_passing}"
