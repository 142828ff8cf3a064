"""``conda create --solver solvent`` end to end, against ``--solver classic``, and the plugin's wiring.

conda runs as a subprocess from the extracted source tarball, as ../shared/peers/peer_solve.py runs
it: an empty condarc (``add_pip_as_python_dependency: false``), package cache and root prefix in
tmp, ``--override-channels`` with a file:// channel only, so nothing touches the network or the
user's configuration. conda finds the plugin through its ``conda`` entry point; a throw-away
``.dist-info`` on PYTHONPATH declares it, so the test does not depend on which checkout the
editable install points at (conda ignores a second registration of the same module).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conda_source
from tests.conftest import shared_path

conda_source.require()

ROOT = conda_source.ROOT


def test_entry_point_declared() -> None:
    """conda discovers solvers only through the ``conda`` entry-point group."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["conda"] == {"solvent": "solvent.conda_plugin"}
    # solvent itself must not need conda: the runtime dependencies do not name it.
    assert not any(dep.split()[0].startswith("conda") for dep in project["dependencies"])


def test_hook_yields_the_solver() -> None:
    import solvent.conda_plugin as plugin
    from solvent.conda_plugin.solver import SolventSolver

    (solver,) = list(plugin.conda_solvers())
    assert solver.name == "solvent"
    assert solver.backend is SolventSolver
    assert SolventSolver.supports_exclude_newer_global


def test_plugin_manager_selects_solvent() -> None:
    from conda.base.context import context

    import solvent.conda_plugin as plugin
    from solvent.conda_plugin.solver import SolventSolver

    context.plugin_manager.register(plugin)
    context.plugin_manager.get_cached_solver_backend.cache_clear()
    try:
        assert context.plugin_manager.get_solver_backend("solvent") is SolventSolver
    finally:
        context.plugin_manager.get_cached_solver_backend.cache_clear()


def test_solvent_does_not_import_the_plugin() -> None:
    """``pip install solvent`` works without conda: only conda's plugin manager imports it."""
    code = (
        "import sys, solvent, solvent.api, solvent.cli, solvent.solver.resolver\n"
        "assert not any(m.startswith(('solvent.conda_plugin', 'conda.')) or m == 'conda' for m in sys.modules), "
        "sorted(m for m in sys.modules if 'conda' in m)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def _entry_point_dir(tmp: Path) -> Path:
    site = tmp / "site"
    info = site / "solvent_conda_plugin_test-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: solvent-conda-plugin-test\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[conda]\nsolvent = solvent.conda_plugin\n")
    return site


def _conda_create(
    tmp: Path, solver: str, channel: Path, specs: list[str], ok: bool = True, extra: tuple[str, ...] = ()
) -> dict:
    src = conda_source.source_dir()
    env = conda_source.isolated_env(
        tmp,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(src), str(_entry_point_dir(tmp / solver))]),
        CONDA_SUBDIR="linux-64",
        CONDA_OVERRIDE_GLIBC="2.36",
        CONDA_OVERRIDE_CUDA="",
    )
    cmd = [sys.executable, "-m", "conda", "create", "--dry-run", "--json", "--override-channels",
           "--solver", solver, "-p", str(tmp / "envs" / solver), "-c", channel.as_uri(), *extra, *specs]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp)
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"conda --solver {solver} printed no JSON:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    assert bool(out.get("success")) == ok, out
    return out


def _transaction(out: dict) -> list[tuple[str, str, str, str]]:
    return sorted((r["name"], r["version"], r["build_string"], r["channel"]) for r in out["actions"]["LINK"])


@pytest.mark.shared
def test_conda_create_matches_classic(tmp_path: Path) -> None:
    channel = shared_path("channels", "conda-test-defaults-2016")
    specs = ["numpy", "scipy"]
    classic = _transaction(_conda_create(tmp_path, "classic", channel, specs))
    solvent = _transaction(_conda_create(tmp_path, "solvent", channel, specs))
    assert solvent == classic
    assert {"numpy", "scipy", "python"} <= {name for name, *_ in solvent}


@pytest.mark.shared
def test_conda_create_unsatisfiable_explains(tmp_path: Path) -> None:
    """Through conda's CLI (its retry protocol included) the error is conda's UnsatisfiableError
    carrying solvent's explanation, and ``--json`` can serialize it."""
    channel = shared_path("channels", "conda-test-defaults-2016")
    out = _conda_create(tmp_path, "solvent", channel, ["numpy=1.5", "python=3.3"], ok=False)
    assert out["exception_name"] == "SolventUnsatisfiableError"
    assert "Cannot solve for: numpy 1.5.*, python 3.3.*" in out["error"]
    assert "numpy 1.5.* cannot be installed" in out["error"]


def test_falls_back_to_classic_on_what_solvent_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec or record outside solvent's grammar must not fail the user's command."""
    from conda.models.match_spec import MatchSpec

    from solvent.conda_plugin import resolve
    from solvent.errors import InvalidMatchSpec

    class Classic:
        groups: dict = {}

        def find_matches(self, spec: object) -> tuple:
            return (object(),)

        def solve(self, *args: object) -> list[str]:
            return ["classic's answer"]

    def unreadable(specs: object) -> None:
        raise InvalidMatchSpec("no such grammar")

    monkeypatch.setattr(resolve, "_split_specs", unreadable)
    wrapped = resolve.SolventResolve(Classic(), ("linux-64", "noarch"))
    assert wrapped.solve([MatchSpec("numpy")]) == ["classic's answer"]


def test_conda_create_exclude_newer(tmp_path: Path) -> None:
    """``--exclude-newer`` reaches solvent through conda's index (the cutoff is conda's): the newer
    build is not a candidate. conda refuses the flag for a solver without the capability flags."""
    channel = tmp_path / "channel"
    day = 86_400_000
    packages = {
        "a-1.0-0.tar.bz2": {"name": "a", "version": "1.0", "build": "0", "build_number": 0, "depends": [],
                            "timestamp": 18_000 * day},  # 2019-04-14
        "a-2.0-0.tar.bz2": {"name": "a", "version": "2.0", "build": "0", "build_number": 0, "depends": [],
                            "timestamp": 19_800 * day},  # 2024-03-18
    }  # fmt: skip
    for subdir, pkgs in (("linux-64", packages), ("noarch", {})):
        (channel / subdir).mkdir(parents=True)
        doc = {"info": {"subdir": subdir}, "packages": {k: {**v, "subdir": subdir} for k, v in pkgs.items()}}
        (channel / subdir / "repodata.json").write_text(json.dumps(doc))
    out = _conda_create(tmp_path, "solvent", channel, ["a"], extra=("--exclude-newer", "2022-01-01"))
    assert [t[:3] for t in _transaction(out)] == [("a", "1.0", "0")]
