"""``solvent.solve()`` end to end: channels on disk, virtual packages, installed environments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import solvent
from solvent.errors import InvalidInput, InvalidMatchSpec, Unsatisfiable
from solvent.solver.verify import assert_valid_solution
from tests.conftest import shared_path
from tests.helpers import names_versions, rec, write_channel


@pytest.fixture
def channel(tmp_path: Path) -> Path:
    records = [
        rec("python", "3.9.1", depends=["libz"]),
        rec("python", "3.10.0", depends=["libz >=2"]),
        rec("libz", "1.0"),
        rec("libz", "2.0"),
        rec("numpy", "1.26", depends=["python >=3.9,<3.11"]),
        rec("torch", "2.1", build="cuda118", depends=["__cuda >=11.8", "python"]),
        rec("torch", "2.1", build="cpu", depends=["python"]),
        rec("py-only", "1.0", subdir="noarch", depends=["python"]),
    ]
    return write_channel(tmp_path / "chan", records)


def test_solve_local_channel(channel: Path, tmp_path: Path) -> None:
    sol = solvent.solve(
        ["numpy", "py-only"], [str(channel)], "linux-64", virtual_packages=[], cache_dir=str(tmp_path / "cache")
    )
    assert names_versions(sol.packages) == {"numpy": "1.26", "python": "3.10.0", "libz": "2.0", "py-only": "1.0"}
    assert_valid_solution(sol.packages, ["numpy", "py-only"], platform="linux-64")
    data = sol.to_dict()
    assert data["ok"] is True
    assert [p["name"] for p in data["packages"]] == sorted(p["name"] for p in data["packages"])
    assert set(data["timings"]) == {"load_s", "solve_s"}


#: Modules a solve from a local channel into a given cache has no use for; each is a few ms of a
#: command's start (logging 4, platformdirs 3, concurrent.futures 2, hashlib with OpenSSL 2,
#: dataclasses with inspect 6, tempfile with shutil and random 4, ...).
NOT_FOR_A_LOCAL_SOLVE = (
    "hashlib",
    "dataclasses",
    "inspect",
    "tempfile",
    "requests",
    "logging",
    "platformdirs",
    "concurrent.futures",
    "zstandard",
    "difflib",
    "platform",
    "secrets",
    "ctypes",
    "subprocess",
)


def test_a_local_solve_imports_only_what_it_uses(channel: Path, tmp_path: Path) -> None:
    """Measured in a fresh interpreter, against what it had loaded before importing solvent (a
    site hook may load some of these itself)."""
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import solvent\n"
        f"sol = solvent.solve(['numpy'], [{str(channel)!r}], 'linux-64', cache_dir={str(tmp_path / 'c')!r},\n"
        "                     virtual_packages=['__glibc=2.28', '__unix=0'])\n"
        "assert [r.name for r in sol.packages if r.name == 'numpy'] == ['numpy']\n"
        f"print(sorted(m for m in {NOT_FOR_A_LOCAL_SOLVE!r} if m in set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=Path.cwd())
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_explicit_virtual_packages_are_exact(channel: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    cuda = solvent.solve(["torch"], [str(channel)], "linux-64", virtual_packages=["__cuda=12.2"], cache_dir=cache)
    assert [r.build for r in cuda.packages if r.name == "torch"] == ["cuda118"]
    cpu = solvent.solve(["torch"], [str(channel)], "linux-64", virtual_packages=[], cache_dir=cache)
    assert [r.build for r in cpu.packages if r.name == "torch"] == ["cpu"]
    with pytest.raises(Unsatisfiable, match="__cuda"):
        solvent.solve(
            ["torch[build=cuda*]"], [str(channel)], "linux-64", virtual_packages=["__cuda=11.2"], cache_dir=cache
        )


def test_bad_input_is_named(channel: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidMatchSpec):
        solvent.solve(["numpy >=1.2,,<2"], [str(channel)], "linux-64", cache_dir=str(tmp_path))
    with pytest.raises(InvalidInput, match="platform"):
        solvent.solve(["numpy"], [str(channel)], "linux-65", cache_dir=str(tmp_path))
    with pytest.raises(InvalidInput, match="back-end"):
        solvent.solve(["numpy"], [str(channel)], "linux-64", backend="nope", cache_dir=str(tmp_path))
    with pytest.raises(InvalidInput, match="nothing to solve"):
        solvent.solve([], [str(channel)], "linux-64", cache_dir=str(tmp_path))


def test_exclude_newer(tmp_path: Path) -> None:
    records = [
        rec("x", "1", timestamp=1_600_000_000_000),
        rec("x", "2", timestamp=1_700_000_000_000),
    ]
    ch = write_channel(tmp_path / "chan", records)
    sol = solvent.solve(
        ["x"], [str(ch)], "linux-64", virtual_packages=[], exclude_newer="2021-01-01", cache_dir=str(tmp_path / "c")
    )
    assert names_versions(sol.packages) == {"x": "1"}


def test_installed_and_update_modifiers(tmp_path: Path) -> None:
    records = [rec("a", "1", depends=["b"]), rec("a", "2", depends=["b"]), rec("b", "1"), rec("b", "2"), rec("c", "1")]
    ch = write_channel(tmp_path / "chan", records)
    installed = [records[0], records[2]]  # a 1, b 1
    kw = dict(virtual_packages=[], cache_dir=str(tmp_path / "c"), installed=installed)
    keep = solvent.solve(["c"], [str(ch)], "linux-64", update_modifier="freeze-installed", **kw)  # type: ignore[arg-type]
    assert names_versions(keep.packages) == {"a": "1", "b": "1", "c": "1"}
    specs = solvent.solve(["a"], [str(ch)], "linux-64", update_modifier="update-specs", **kw)  # type: ignore[arg-type]
    assert names_versions(specs.packages) == {"a": "2", "b": "1"}
    deps = solvent.solve(["a"], [str(ch)], "linux-64", update_modifier="update-deps", **kw)  # type: ignore[arg-type]
    assert names_versions(deps.packages) == {"a": "2", "b": "2"}
    everything = solvent.solve(["c"], [str(ch)], "linux-64", update_modifier="update-all", **kw)  # type: ignore[arg-type]
    assert names_versions(everything.packages) == {"a": "2", "b": "2", "c": "1"}


def test_python_stays_within_its_minor_version_unless_asked_for(tmp_path: Path) -> None:
    """conda's business rule: installing or updating other things never moves python to a new
    minor version; asking for python (or for a package only built for a newer one) does."""
    records = [
        rec("python", "3.9.1"),
        rec("python", "3.9.7"),
        rec("python", "3.10.2"),
        rec("tool", "1.0", depends=["python"]),
        rec("tool", "2.0", depends=["python >=3.10"]),
        rec("dep", "1.0"),
        rec("dep", "2.0"),
        rec("app", "1.0", depends=["python", "dep"]),
    ]
    ch = write_channel(tmp_path / "chan", records)
    installed = [records[0]]  # python 3.9.1
    kw = dict(virtual_packages=[], cache_dir=str(tmp_path / "c"), installed=installed)
    # update-specs keeps python's build (a target); update-all and update-deps let it move, within 3.9
    for modifier, python in (("update-specs", "3.9.1"), ("update-all", "3.9.7"), ("update-deps", "3.9.7")):
        added = solvent.solve(["tool"], [str(ch)], "linux-64", update_modifier=modifier, **kw)  # type: ignore[arg-type]
        assert names_versions(added.packages) == {"python": python, "tool": "1.0"}, modifier
    asked = solvent.solve(["tool", "python"], [str(ch)], "linux-64", **kw)  # type: ignore[arg-type]
    assert names_versions(asked.packages) == {"python": "3.10.2", "tool": "2.0"}
    with pytest.raises(Unsatisfiable):
        solvent.solve(["tool >=2"], [str(ch)], "linux-64", **kw)  # type: ignore[arg-type]
    # update-deps asks for the dependency chain by name: dep floats to 2.0, python to 3.9.7 only.
    with_dep = [records[0], records[5], records[7]]  # python 3.9.1, dep 1.0, app 1.0
    kw["installed"] = with_dep
    deps = solvent.solve(["app"], [str(ch)], "linux-64", update_modifier="update-deps", history=["dep=1.0"], **kw)  # type: ignore[arg-type]
    assert names_versions(deps.packages) == {"python": "3.9.7", "dep": "2.0", "app": "1.0"}
    specs = solvent.solve(["app"], [str(ch)], "linux-64", history=["dep=1.0"], **kw)  # type: ignore[arg-type]
    assert names_versions(specs.packages) == {"python": "3.9.1", "dep": "1.0", "app": "1.0"}


@pytest.mark.parametrize("backend", ["cdcl", "pycosat", "resolvelib"])
def test_real_snapshot_python(backend: str, tmp_path: Path) -> None:
    ch = shared_path("channels", "conda-forge-py39-2024")
    vps = ["__unix=0", "__linux=5.10", "__glibc=2.36", "__archspec=1=x86_64"]
    sol = solvent.solve(
        ["python=3.9"], [str(ch)], "linux-64", virtual_packages=vps, backend=backend, cache_dir=str(tmp_path)
    )
    versions = names_versions(sol.packages)
    assert versions["python"].startswith("3.9.")
    assert_valid_solution(sol.packages, ["python=3.9"], virtual_packages=sol.virtual_packages, platform="linux-64")
