"""pytest-conda-solvers' YAML cases through the solvent plugin (about 25 s).

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
    out = tmp_path / "results.json"
    pkg = package_dir()
    assert pkg is not None
    env = conda_source.isolated_env(tmp_path, PYTHONPATH=str(conda_source.ROOT), SOLVENT_CONDA_SOLVERS_DIR=str(pkg))
    subprocess.run(
        [sys.executable, "-m", "tests.conda_solvers_cases", "--solver", "solvent", "--json", str(out)],
        env=env, cwd=conda_source.ROOT, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    results = json.loads(out.read_text())
    applicable = {k: e for k, e in results.items() if not e["solvers"] or "classic" in e["solvers"]}
    failed = {k: e.get("error") for k, e in applicable.items() if e["outcome"] != "passed"}
    assert set(failed) == set(EXPECTED_DIFFERENCES), failed
    # 65 cases for any solver and 8 for classic only, as in the package's own plugin run.
    assert len(applicable) == 73
