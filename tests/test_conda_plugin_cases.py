"""pytest-conda-solvers' YAML cases through the solvent plugin (about 15 s, in two processes).

Runs in a subprocess when the package's cases are found or can be fetched from the package index
(see :mod:`tests.conda_solvers_cases`). Cases restricted to libmamba
(``solvers: libmamba``) are not applicable; cases restricted to classic are held to classic's
answer, except the two below whose check is classic's exact error text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conda_source
from tests.conda_solvers_cases import package_dir

conda_source.require()
if package_dir() is None:
    pytest.skip(
        "pytest-conda-solvers 0.1.0 not found and not downloadable (see tests/conda_solvers_cases.py)",
        allow_module_level=True,
    )

EXPECTED_DIFFERENCES = {
    "C003 test_cuda_fail_1": "checks classic's 'incompatible with your system' text; solvent explains in its own words",
    "C004 test_cuda_fail_2": "checks classic's 'incompatible with your system' text; solvent explains in its own words",
}


def test_yaml_cases(tmp_path: Path) -> None:
    pkg = package_dir()
    assert pkg is not None
    env = conda_source.isolated_env(tmp_path, PYTHONPATH=str(conda_source.ROOT), SOLVENT_CONDA_SOLVERS_DIR=str(pkg))
    # two processes, every other case each: the run takes half the time on two cores
    procs = []
    for k in range(2):
        cmd = [sys.executable, "-m", "tests.conda_solvers_cases", "--solver", "solvent", "--shard", f"{k}/2",
               "--json", str(tmp_path / f"results{k}.json")]  # fmt: skip
        log = open(tmp_path / f"shard{k}.log", "wb")  # noqa: SIM115 (closed after the wait)
        procs.append((subprocess.Popen(cmd, env=env, cwd=conda_source.ROOT, stdout=log, stderr=subprocess.STDOUT), log))
    for k, (proc, log) in enumerate(procs):
        code = proc.wait(timeout=600)
        log.close()
        assert code == 0, (tmp_path / f"shard{k}.log").read_text()[-3000:]
    results = {}
    for k in range(2):
        results.update(json.loads((tmp_path / f"results{k}.json").read_text()))
    applicable = {k: e for k, e in results.items() if not e["solvers"] or "classic" in e["solvers"]}
    failed = {k: e.get("error") for k, e in applicable.items() if e["outcome"] != "passed"}
    assert set(failed) == set(EXPECTED_DIFFERENCES), failed
    # 65 cases for any solver and 8 for classic only, as in the package's own plugin run.
    assert len(applicable) == 73
