"""conda's own solver tests, replayed as data (tests/data/conda_cases.yaml) against the snapshots.

Each case is one solve from conda's test suite (tests/core/test_solve.py and the shared
``SolverTests`` class) on conda's test indexes, which are snapshots in ../shared/data/channels.
Every answer also goes through the independent verifier. A case whose expectation solvent does not
meet for a known, documented reason is listed in ``KNOWN_DIFFERENCES`` and runs as a strict xfail,
so it fails loudly the day the difference disappears.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from solvent.api import _dependency_closure, solve
from solvent.channels.index import ChannelIndex
from solvent.errors import Unsatisfiable
from solvent.match_spec import parse_match_spec
from solvent.record import PackageRecord
from solvent.solver.provider import requested_features
from solvent.solver.verify import assert_valid_solution
from solvent.virtual_packages import parse_virtual_package
from tests.conftest import CHANNELS, shared_path

CASES_FILE = Path(__file__).parent / "data" / "conda_cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text())["cases"]

# What a machine of the platform always reports; the cases list only what they add.
BASICS = {
    "linux-64": ["__unix=0=0", "__linux=5.10=0", "__archspec=1=x86_64"],
    "win-64": ["__win=0=0", "__archspec=1=x86_64"],
}

# Cases where solvent gives another answer than the expectation, and why. Each is a strict xfail.
KNOWN_DIFFERENCES: dict[str, str] = {}

# Cases whose expectation today's conda no longer gives (validated: false) and where solvent gives
# today's answer (``conda_today``): conda's behaviour wins. The expectation is kept in the data as
# the record of what the test once asserted.
FOLLOWS_CONDA_TODAY = {
    "broken-install-2": "the broken numpy-py33 build is replaced, as today's conda does",
}


def _channel_dirs(case: dict[str, Any]) -> list[str]:
    return [str(shared_path("channels", name)) for name in case["channels"]]


def _installed(case: dict[str, Any], index: ChannelIndex) -> list[PackageRecord]:
    out = []
    for entry in case.get("installed", ()):
        channel, _, dist = entry.rpartition("::")
        name, version, build = dist.rsplit("-", 2)
        found = [
            r
            for r in index.records(name)
            if r.version == version and r.build == build and (not channel or r.channel.endswith(channel))
        ]
        assert found, f"{case['id']}: installed {entry} is in none of the channels"
        out.append(found[0])
    return out


def _dist(record: PackageRecord, with_channel: bool) -> str:
    dist = f"{record.name}-{record.version}-{record.build}"
    if with_channel:
        return f"{record.channel.rstrip('/').rsplit('/', 1)[-1]}::{dist}"
    return dist


def _run(
    case: dict[str, Any], backend: str = "cdcl"
) -> tuple[list[PackageRecord] | None, Unsatisfiable | None, list[PackageRecord]]:
    channels = _channel_dirs(case)
    platform = case["platform"]
    virtual = [parse_virtual_package(v) for v in BASICS[platform] + list(case.get("virtual_packages") or [])]
    index = ChannelIndex(channels, platform, offline=True, quiet=True)
    installed = _installed(case, index)
    try:
        solution = solve(
            case["specs"],
            channels,
            platform,
            virtual_packages=virtual,
            channel_priority=case["channel_priority"],
            installed=installed,
            history=case.get("history", ()),
            pins=case.get("pins", ()),
            update_modifier=case.get("update_modifier", "update-specs"),
            add_pip_as_python_dependency=bool(case.get("add_pip")),
            source=index,
            backend=backend,
        )
    except Unsatisfiable as exc:
        return None, exc, virtual
    return solution.packages, None, virtual


def _check(case: dict[str, Any], backend: str = "cdcl") -> None:
    packages, error, virtual = _run(case, backend)
    expect = case["expect"]
    if expect.get("unsatisfiable"):
        assert packages is None, f"expected unsatisfiable, solvent found {sorted(map(str, packages or []))}"
        assert error is not None
        message = str(error)
        for name in expect.get("mentions", ()):
            assert name in message, f"the explanation does not name {name}:\n{message}"
        return
    assert error is None, f"solvent says unsatisfiable:\n{error}"
    assert packages is not None
    # Pins and history are requirements of the final environment too (conda keeps them).
    asked = {parse_match_spec(s).name for s in case["specs"]}
    history = [h for h in case.get("history", ()) if parse_match_spec(h).name not in asked]
    if case.get("update_modifier") == "update-all":
        history = [parse_match_spec(h).name for h in history]
    if case.get("update_modifier") == "update-deps":
        # conda asks for every dependency of the requested specs by name: their history
        # constraints no longer bind (the rest of the history does).
        chain = _dependency_closure(packages, asked)
        history = [parse_match_spec(h).name if parse_match_spec(h).name in chain else h for h in history]
    specs = [*case["specs"], *history]
    if case.get("update_modifier") != "specs-satisfied-skip-solve":
        # A feature asked for directly is conda's pseudo record "<feature>@", which tracks it.
        features = requested_features(parse_match_spec(s) for s in case["specs"])
        given = [*virtual, *(PackageRecord.feature(f) for f in sorted(features))]
        assert_valid_solution(packages, specs, virtual_packages=given, platform=case["platform"])
    for pin in case.get("pins", ()):
        spec = parse_match_spec(pin)
        for record in packages:
            assert record.name != spec.name or spec.match(record), f"{record} breaks the pin {pin}"
    if case.get("add_pip"):
        names = {r.name for r in packages}
        python = next((r for r in packages if r.name == "python"), None)
        if python is not None and python.version[0] in "23":
            assert "pip" in names, "add_pip_as_python_dependency: python without pip"
    multi = len(case["channels"]) > 1
    got = sorted(_dist(r, multi) for r in packages)
    if case["id"] in FOLLOWS_CONDA_TODAY:
        expect = {"packages": case["conda_today"].split()}
    if "packages" in expect:
        want = sorted(expect["packages"])
        if not multi or all("::" in w for w in want):
            assert got == want, _diff(got, want)
        else:
            assert sorted(d.split("::", 1)[-1] for d in got) == want, _diff(got, want)
    plain = {g.split("::", 1)[-1] for g in got} | set(got)
    for item in expect.get("includes", ()):
        assert item in plain, f"{item} is not in the solution: {got}"
    for item in expect.get("excludes", ()):
        assert item not in plain, f"{item} should not be in the solution"
    if "count" in expect:
        assert len(packages) == expect["count"]


def _diff(got: list[str], want: list[str]) -> str:
    extra = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    return f"solvent's set differs from conda's: extra {extra}, missing {missing}"


def _params() -> list[Any]:
    out = []
    for case in CASES:
        marks = []
        if case["id"] in KNOWN_DIFFERENCES:
            marks.append(pytest.mark.xfail(reason=KNOWN_DIFFERENCES[case["id"]], strict=True))
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


def test_case_file_is_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 90
    assert set(KNOWN_DIFFERENCES) | set(FOLLOWS_CONDA_TODAY) <= set(ids)
    for case in CASES:
        assert case["platform"] in BASICS
        assert case["channel_priority"] in ("strict", "flexible", "disabled")
        assert set(case["expect"]) <= {"packages", "includes", "excludes", "count", "unsatisfiable", "mentions"}
        if CHANNELS.is_dir():
            for name in case["channels"]:
                assert (CHANNELS / name).is_dir(), f"{case['id']}: unknown snapshot {name}"


@pytest.mark.parametrize("case", _params())
def test_conda_case(case: dict[str, Any]) -> None:
    _check(case)


@pytest.mark.parametrize("case", _params())
def test_conda_case_pycosat(case: dict[str, Any]) -> None:
    """The C back-end minimizes the same objective sequence, so it must give the same answers."""
    pytest.importorskip("pycosat")
    _check(case, backend="pycosat")
