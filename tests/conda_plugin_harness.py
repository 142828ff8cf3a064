"""Running conda's own pytest suite (tests/core/test_solve.py) with a chosen solver, in a subprocess.

conda's suite picks its solver from ``CONDA_TEST_SOLVERS`` (its ``parametrized_solver_fixture``)
and expects conda's tests/conftest.py, which the tarball does not ship: the few fixtures it needs
are written here. The run is a subprocess so conda's global state (context, SubdirData caches,
the plugin manager) never leaks into solvent's own tests, and the worktree comes first on
PYTHONPATH so the solvent under test is this checkout's, whatever the editable install points at.
Also used by hand for the classic baseline:

    python -m tests.conda_plugin_harness classic
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable

from tests import conda_source

CONFTEST = '''
import pytest

pytest_plugins = ["conda.testing.fixtures"]


def pytest_configure(config):
    for marker in ("benchmark", "flaky", "integration"):
        config.addinivalue_line("markers", f"{marker}: conda's marker")
    # The plugin without its entry point (the editable install may belong to another checkout).
    from conda.base.context import context
    import solvent.conda_plugin

    context.plugin_manager.register(solvent.conda_plugin)


@pytest.fixture
def clear_cuda_version():
    """conda's tests/conftest.py fixture: CUDA detection is cached per process."""
    from conda.plugins.virtual_packages import cuda

    cuda.cached_cuda_version.cache_clear()
'''


def run_test_solve(solver: str, workers: int = 2, timeout: float = 600, deselect: Iterable[str] = ()) -> dict[str, str]:
    """Outcome per test id ("passed", "failed", "skipped") of conda's test_solve.py for ``solver``.

    ``workers`` processes each run a share of the collected tests, so the suite's wall time is
    about halved on two cores. ``deselect`` names tests (``test_x[solvent]``) not to run at all.
    """
    src = conda_source.source_dir()
    tmp = Path(tempfile.mkdtemp(prefix="solvent-test-solve-"))
    try:
        (tmp / "conftest.py").write_text(CONFTEST)
        shutil.copy(src / "tests" / "core" / "test_solve.py", tmp / "test_solve.py")
        env = conda_source.isolated_env(
            tmp,
            CONDA_TEST_SOLVERS=solver,
            CONDA_TEST_DATA_DIR=str(_test_data(src, tmp)),
            PYTHONPATH=os.pathsep.join([str(conda_source.ROOT), str(src)]),
        )
        skip = set(deselect)
        ids = [i for i in _collect(tmp, env, timeout) if i.partition("::")[2] not in skip]
        shares = [ids[i::workers] for i in range(workers)]
        procs = []
        for i, share in enumerate(shares):
            if not share:
                continue
            listing = tmp / f"share{i}.txt"
            listing.write_text("\n".join(share) + "\n")
            cmd = [
                sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--benchmark-disable",
                f"--junitxml={tmp}/junit{i}.xml", "-o", "junit_family=xunit1", "-o", "addopts=",
                "--rootdir", str(tmp), *share,
            ]  # fmt: skip
            log = open(tmp / f"share{i}.log", "wb")  # noqa: SIM115 (closed below, after the wait)
            procs.append((subprocess.Popen(cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        for proc, log in procs:
            proc.wait(timeout=timeout)
            log.close()
        outcomes: dict[str, str] = {}
        for junit in sorted(tmp.glob("junit*.xml")):
            outcomes.update(_outcomes(junit))
        if not outcomes:
            # pytest itself failed (a missing plugin, a bad option): say why, not "0 tests".
            tail = b"".join((tmp / f"share{i}.log").read_bytes()[-1500:] for i in range(len(procs)))
            raise RuntimeError(f"conda's test_solve.py did not run:\n{tail.decode(errors='replace')}")
        return outcomes
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _test_data(src: Path, tmp: Path) -> Path:
    """conda's tests/data from the tarball, plus ``conda_format_repo`` (which the tarball lacks
    and the two ``current_repodata`` tests read) when pytest-conda-solvers, which ships a copy,
    is available."""
    from tests.conda_solvers_cases import package_dir

    pkg = package_dir()
    repo = pkg / "data" / "conda_format_repo" if pkg is not None else None
    if repo is None or not repo.is_dir():
        return src / "tests" / "data"
    data = tmp / "data"
    shutil.copytree(src / "tests" / "data", data)
    shutil.copytree(repo, data / "conda_format_repo")
    return data


def _collect(tmp: Path, env: dict[str, str], timeout: float) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "-o", "addopts=",
         "--rootdir", str(tmp), "test_solve.py"],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    ids = [line for line in proc.stdout.splitlines() if line.startswith("test_solve.py::")]
    if not ids:
        raise RuntimeError(f"collecting conda's test_solve.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return ids


def _outcomes(junit: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            out[name] = "failed"
        elif case.find("skipped") is not None:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


def summary(outcomes: dict[str, str]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in outcomes.values():
        counts[outcome] += 1
    return counts


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "solvent"
    result = run_test_solve(which)
    print(which, summary(result))
    for test, outcome in sorted(result.items()):
        if outcome != "passed":
            print(f"  {outcome:8} {test}")
