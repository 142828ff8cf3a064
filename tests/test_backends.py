"""The optional back-ends: same answers as the default, clear errors when they cannot run."""

from __future__ import annotations

import sys

import pytest

from solvent.errors import BackendUnavailable, InvalidInput, Unsatisfiable
from solvent.match_spec import parse_match_spec
from solvent.solver.backends import resolvelib_backend, solve_with_backend
from solvent.solver.provider import Provider, RecordSet
from solvent.solver.verify import assert_valid_solution
from tests.helpers import names_versions, rec

RECORDS = [
    rec("app", "2", depends=["lib 1.*", "tool"]),
    rec("app", "1", depends=["lib 2.*"]),
    rec("lib", "1", constrains=["tool <2"]),
    rec("lib", "2"),
    rec("tool", "1"),
    rec("tool", "2"),
    rec("gpu", "1", depends=["__cuda >=12"]),
]


def provider() -> Provider:
    return Provider(RecordSet(RECORDS, ["test"]), platform="linux-64")


@pytest.mark.parametrize("backend", ["cdcl", "pycosat", "resolvelib"])
def test_every_backend_honors_constrains(backend: str) -> None:
    out = solve_with_backend(backend, provider(), [parse_match_spec("app")], policy="greedy")
    assert_valid_solution(out, ["app"], platform="linux-64")
    assert names_versions(out) == {"app": "2", "lib": "1", "tool": "1"}


@pytest.mark.parametrize("backend", ["cdcl", "pycosat", "resolvelib"])
def test_every_backend_reports_unsatisfiable(backend: str) -> None:
    with pytest.raises(Unsatisfiable):
        solve_with_backend(backend, provider(), [parse_match_spec("gpu")])


def test_classic_backends_agree() -> None:
    specs = [parse_match_spec("app"), parse_match_spec("tool")]
    a = solve_with_backend("cdcl", provider(), specs, policy="classic")
    b = solve_with_backend("pycosat", provider(), specs, policy="classic")
    assert [r.dist_str() for r in a] == [r.dist_str() for r in b]


def test_missing_pycosat_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pycosat", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'solvent\[pycosat\]'"):
        solve_with_backend("pycosat", provider(), [parse_match_spec("app")])


def test_resolvelib_depth_limit_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolvelib_backend, "MAX_ROUNDS", 1)
    with pytest.raises(BackendUnavailable, match="--backend cdcl"):
        solve_with_backend("resolvelib", provider(), [parse_match_spec("app")])


def test_unknown_backend() -> None:
    with pytest.raises(InvalidInput, match="unknown back-end"):
        solve_with_backend("z3", provider(), [parse_match_spec("app")])


@pytest.mark.parametrize("backend", ["cdcl", "pycosat", "resolvelib"])
def test_constrains_on_present_virtual_package(backend: str) -> None:
    from solvent.record import PackageRecord

    records = [rec("cuda-version", "12.0", constrains=["__cuda >=12"]), rec("cuda-version", "11.0")]
    old = Provider(
        RecordSet(records, ["test"]), platform="linux-64", virtual_packages=[PackageRecord.virtual("__cuda", "11.2")]
    )
    out = solve_with_backend(backend, old, [parse_match_spec("cuda-version")], policy="greedy")
    assert names_versions(out) == {"cuda-version": "11.0"}
    none = Provider(RecordSet(records, ["test"]), platform="linux-64")
    out = solve_with_backend(backend, none, [parse_match_spec("cuda-version")], policy="greedy")
    assert names_versions(out) == {"cuda-version": "12.0"}


@pytest.mark.parametrize("backend", ["cdcl", "pycosat", "resolvelib"])
def test_every_backend_installs_a_tracker_for_features(backend: str) -> None:
    records = [
        rec("mkl", "11", track_features="mkl"),
        rec("mkl-rt", "11", depends=["mkl"]),
        rec("numpy", "1.7", build="p0", features="mkl", build_number=1, depends=["mkl-rt"]),
        rec("numpy", "1.7", build="plain", build_number=0),
    ]
    provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
    out = solve_with_backend(backend, provider, [parse_match_spec("numpy[build=p0]")], policy="greedy")
    assert_valid_solution(out, ["numpy[build=p0]"], platform="linux-64")
    assert {r.name for r in out} == {"numpy", "mkl-rt", "mkl"}
    # Without a dependency that names the tracker, conda never loads it: the featured build is out.
    alone = [records[0], rec("numpy", "1.7", build="p0", features="mkl", build_number=1)]
    provider = Provider(RecordSet(alone, ["test"]), platform="linux-64")
    with pytest.raises(Unsatisfiable):
        solve_with_backend(backend, provider, [parse_match_spec("numpy[build=p0]")], policy="greedy")
