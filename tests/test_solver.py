"""The default back-end on small synthetic channels, each answer checked by the verifier."""

from __future__ import annotations

from typing import Sequence

import pytest

from solvent.errors import Unsatisfiable
from solvent.match_spec import parse_match_spec
from solvent.record import PackageRecord
from solvent.solver.provider import Provider, RecordSet
from solvent.solver.resolver import Resolver
from solvent.solver.verify import assert_valid_solution
from tests.helpers import names_versions, rec


def virtual(*items: str) -> list[PackageRecord]:
    out = []
    for item in items:
        name, _, version = item.partition("=")
        out.append(PackageRecord.virtual(name, version or "0"))
    return out


def solve_records(
    records: Sequence[PackageRecord],
    specs: Sequence[str],
    *,
    virtual_packages: Sequence[PackageRecord] = (),
    channels: Sequence[str] = ("test",),
    channel_priority: str = "flexible",
    policy: str = "classic",
    pins: Sequence[str] = (),
    **resolve_kw: object,
) -> list[PackageRecord]:
    provider = Provider(
        RecordSet(records, channels),
        platform="linux-64",
        virtual_packages=virtual_packages,
        channel_priority=channel_priority,
        pins=pins,
    )
    parsed = [parse_match_spec(s) for s in specs]
    resolver = Resolver(provider, policy=policy)
    result = resolver.resolve(parsed, **resolve_kw)  # type: ignore[arg-type]
    required = [str(s) for s in resolve_kw.get("required", ())]  # type: ignore[union-attr]
    assert_valid_solution(result, [*specs, *required], virtual_packages=virtual_packages, platform="linux-64")
    return result


CHAIN = [
    rec("a", "1.0", depends=["b"]),
    rec("a", "2.0", depends=["b >=2"]),
    rec("b", "1.0", depends=["c"]),
    rec("b", "2.0", depends=["c <2"]),
    rec("c", "1.0"),
    rec("c", "2.0"),
    rec("unrelated", "1.0", depends=["nonexistent"]),
]


@pytest.mark.parametrize("policy", ["classic", "greedy"])
def test_chain_takes_newest_feasible(policy: str) -> None:
    out = solve_records(CHAIN, ["a"], policy=policy)
    assert names_versions(out) == {"a": "2.0", "b": "2.0", "c": "1.0"}


def test_lazy_encoding_touches_only_reachable_names() -> None:
    provider = Provider(RecordSet(CHAIN, ["test"]), platform="linux-64")
    resolver = Resolver(provider)
    resolver.resolve([parse_match_spec("c")])
    assert resolver.stats.names_touched == 1
    assert "unrelated" not in resolver.encoding.name_vars  # type: ignore[union-attr]


def test_classic_and_greedy_differ_like_conda_and_libsolv() -> None:
    # Greedy decides a first (a 2, so c 1, so b 1); conda classic sees the tie on the requested
    # versions (one rank lost either way) and breaks it on the dependency c, taking c 2.
    records = [
        rec("a", "2", depends=["c 1.*"]),
        rec("a", "1", depends=["c 2.*"]),
        rec("b", "2", depends=["c 2.*"]),
        rec("b", "1", depends=["c 1.*"]),
        rec("c", "1"),
        rec("c", "2"),
    ]
    greedy = names_versions(solve_records(records, ["a", "b"], policy="greedy"))
    classic = names_versions(solve_records(records, ["a", "b"], policy="classic"))
    assert greedy == {"a": "2", "b": "1", "c": "1"}
    assert classic == {"a": "1", "b": "2", "c": "2"}


def test_classic_takes_older_dependency_for_newer_requested_package() -> None:
    records = [
        rec("python", "3.9.0"),
        rec("python", "3.8.0"),
        rec("foo", "2.0", depends=["python 3.8.*"]),
        rec("foo", "1.0", depends=["python >=3.9"]),
    ]
    out = names_versions(solve_records(records, ["foo"]))
    assert out == {"foo": "2.0", "python": "3.8.0"}


def test_requested_version_beats_dependency_versions() -> None:
    # Both answers are valid; classic minimizes the requested package's version rank first.
    records = [
        rec("app", "2", depends=["lib 1.*"]),
        rec("app", "1", depends=["lib 2.*"]),
        rec("lib", "1"),
        rec("lib", "2"),
    ]
    assert names_versions(solve_records(records, ["app"])) == {"app": "2", "lib": "1"}


def test_constrains_limit_only_installed_names() -> None:
    records = [
        rec("a", "1", constrains=["b <2", "notinstalled >5"]),
        rec("b", "1"),
        rec("b", "2"),
    ]
    out = names_versions(solve_records(records, ["a", "b"]))
    assert out == {"a": "1", "b": "1"}
    assert names_versions(solve_records(records, ["a"])) == {"a": "1"}


def test_constrains_conflict_is_unsatisfiable() -> None:
    records = [rec("a", "1", constrains=["b <2"]), rec("b", "2")]
    with pytest.raises(Unsatisfiable) as err:
        solve_records(records, ["a", "b"])
    assert "constrains b <2" in str(err.value)


def test_virtual_package_depends_and_constrains() -> None:
    records = [
        rec("torch", "2.0", build="cuda", depends=["__cuda >=11.8"]),
        rec("torch", "2.0", build="cpu", build_number=0),
        rec("cuda-version", "12.0", constrains=["__cuda >=12"]),
    ]
    with_cuda = solve_records(records, ["torch"], virtual_packages=virtual("__cuda=12.2"))
    assert [r.build for r in with_cuda] == ["cuda"]  # same version: the higher build string wins
    only_cuda = solve_records(records, ["torch[build=cuda]"], virtual_packages=virtual("__cuda=12.2"))
    assert [r.build for r in only_cuda] == ["cuda"]
    # A constrains on an absent virtual package is satisfied ...
    assert names_versions(solve_records(records, ["cuda-version"])) == {"cuda-version": "12.0"}
    # ... but one on a present, too-old one is not.
    with pytest.raises(Unsatisfiable):
        solve_records(records, ["cuda-version"], virtual_packages=virtual("__cuda=11.2"))


def test_missing_virtual_package_is_explained() -> None:
    records = [rec("torch", "2.0", build="cuda", depends=["__cuda >=11.8"])]
    with pytest.raises(Unsatisfiable) as err:
        solve_records(records, ["torch"])
    message = str(err.value)
    assert "__cuda >=11.8" in message
    assert "no __cuda virtual package" in message
    with pytest.raises(Unsatisfiable) as err:
        solve_records(records, ["torch"], virtual_packages=virtual("__cuda=11.2"))
    assert "the target has __cuda 11.2" in str(err.value)


def test_track_features_are_avoided() -> None:
    records = [
        rec("numpy", "1.0", build="mkl", track_features="mkl"),
        rec("numpy", "1.0", build="nomkl"),
    ]
    assert [r.build for r in solve_records(records, ["numpy"])] == ["nomkl"]
    assert [r.build for r in solve_records(records, ["numpy"], policy="greedy")] == ["nomkl"]
    assert [r.build for r in solve_records(records, ["numpy[build=mkl]"])] == ["mkl"]


def test_features_require_a_tracker() -> None:
    records = [
        rec("mkl-feature", "1", track_features="mkl"),
        rec("scipy", "1", build="mkl", features="mkl", build_number=5),
        rec("scipy", "1", build="plain", build_number=1),
    ]
    out = solve_records(records, ["scipy[build=mkl]", "mkl-feature"])
    assert {r.name for r in out} == {"scipy", "mkl-feature"}
    # Nothing depends on the tracker by name, so conda never loads it: the featured build is out.
    with pytest.raises(Unsatisfiable):
        solve_records(records, ["scipy[build=mkl]"])


# Each answer below is what conda's classic solver gives on this channel (checked with
# ../shared/peers/peer_solve.py): a feature is a soft dependency that never pulls its tracker in.
SOFT_FEATURE = [
    rec("app", "1", depends=["lib"]),
    rec("lib", "2", build="feat", features="f"),
    rec("lib", "1", build="plain"),
    rec("tracker", "1", track_features="f"),
    rec("other", "1", depends=["tracker"]),
]


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["app"], {"app-1-0", "lib-1-plain"}),
        (["lib"], {"lib-1-plain"}),
        (["app", "tracker"], {"app-1-0", "lib-2-feat", "tracker-1-0"}),
        (["app", "other"], {"app-1-0", "lib-2-feat", "other-1-0", "tracker-1-0"}),
    ],
)
@pytest.mark.parametrize("policy", ["classic", "greedy"])
def test_a_feature_never_pulls_its_tracker_in(specs: list[str], expected: set[str], policy: str) -> None:
    out = solve_records(SOFT_FEATURE, specs, policy=policy)
    assert {f"{r.name}-{r.version}-{r.build}" for r in out} == expected


def test_featured_builds_come_after_plain_ones_of_the_same_version() -> None:
    """The greedy order puts a build that needs a feature after a plain build of its version."""
    records = [
        rec("mkl-feature", "1", track_features="mkl"),
        rec("scipy", "1", build="p0", features="mkl", timestamp=2000),
        rec("scipy", "1", build="0", timestamp=1000),
        rec("scipy", "0.9", build="0", timestamp=3000),
    ]
    for policy in ("greedy", "classic"):
        out = solve_records(records, ["scipy"], policy=policy)
        assert [(r.name, r.version, r.build) for r in out] == [("scipy", "1", "0")], policy


def test_later_objectives_cannot_escape_an_earlier_bound_through_new_names() -> None:
    """conda minimizes track_features before dependency versions. The greedy first solution never
    touches the feature's tracker, so the feature-count bound is fixed over no terms; the search for
    a newer ``dep`` then reaches the featured ``lib`` and its tracker. The optimizer must notice the
    grown encoding and take the feature count again: conda keeps the plain ``lib`` and the older
    ``dep``."""
    records = [
        rec("app", "1", depends=["lib"]),
        rec("lib", "1", build="plain", depends=["dep 1.*"]),
        rec("lib", "1", build="feat", features="f", depends=["dep 2.*"]),
        rec("tracker", "1", track_features="f"),
        rec("dep", "1.0"),
        rec("dep", "2.0"),
    ]
    out = solve_records(records, ["app"])
    assert names_versions(out) == {"app": "1", "lib": "1", "dep": "1.0"}
    assert {r.build for r in out if r.name == "lib"} == {"plain"}


def test_build_number_and_timestamp_order() -> None:
    records = [
        rec("x", "1", build="a", build_number=1, timestamp=2000),
        rec("x", "1", build="b", build_number=2, timestamp=1000),
        rec("x", "1", build="c", build_number=2, timestamp=3000),
    ]
    assert [r.build for r in solve_records(records, ["x"])] == ["c"]


@pytest.mark.parametrize(
    ("priority", "expected"),
    [("flexible", "1"), ("strict", "1"), ("disabled", "2")],
)
def test_channel_priority(priority: str, expected: str) -> None:
    records = [
        rec("x", "1", channel="high"),
        rec("x", "2", channel="low"),
    ]
    out = solve_records(records, ["x"], channels=["high", "low"], channel_priority=priority)
    assert names_versions(out) == {"x": expected}


def test_flexible_falls_back_to_lower_channel_strict_does_not() -> None:
    records = [
        rec("x", "1", channel="high"),
        rec("x", "2", channel="low"),
    ]
    out = solve_records(records, ["x >=2"], channels=["high", "low"], channel_priority="flexible")
    assert names_versions(out) == {"x": "2"}
    with pytest.raises(Unsatisfiable):
        solve_records(records, ["x >=2"], channels=["high", "low"], channel_priority="strict")


def test_pins_restrict_candidates() -> None:
    records = [rec("x", "1"), rec("x", "2"), rec("y", "1", depends=["x"])]
    assert names_versions(solve_records(records, ["y"], pins=["x 1.*"])) == {"x": "1", "y": "1"}
    with pytest.raises(Unsatisfiable):
        solve_records(records, ["x >=2"], pins=["x 1.*"])


def test_installed_targets_are_kept_with_freeze() -> None:
    records = [rec("x", "1"), rec("x", "2"), rec("y", "1", depends=["x"])]
    x1 = records[0]
    out = solve_records(records, ["y"], required=[parse_match_spec("x")], targets=[x1], freeze=True)
    assert names_versions(out) == {"x": "1", "y": "1"}
    out = solve_records(records, ["y"], required=[parse_match_spec("x")])
    assert names_versions(out) == {"x": "2", "y": "1"}


def test_unsatisfiable_no_such_version() -> None:
    records = [rec("x", "1"), rec("x", "2")]
    with pytest.raises(Unsatisfiable) as err:
        solve_records(records, ["x >=3"])
    assert "available: 1, 2" in str(err.value)
    conflict = err.value.conflict
    assert conflict.to_dict()["specs"] == ["x >=3"]  # type: ignore[attr-defined]


def test_unsatisfiable_missing_package() -> None:
    with pytest.raises(Unsatisfiable) as err:
        solve_records([rec("x", "1", depends=["ghost"])], ["x"])
    assert "no package named ghost" in str(err.value)


def test_two_requests_on_one_name() -> None:
    records = [rec("x", "1"), rec("x", "2")]
    with pytest.raises(Unsatisfiable) as err:
        solve_records(records, ["x 1.*", "x 2.*"])
    assert "x" in str(err.value)


def test_conflict_through_dependencies_is_grouped() -> None:
    records = [rec("lib", str(v)) for v in range(1, 30)]
    records += [rec("app", f"{v}.0", depends=[f"lib >={v + 40}"]) for v in range(1, 20)]
    with pytest.raises(Unsatisfiable) as err:
        solve_records(records, ["app"])
    text = str(err.value)
    assert len(text.splitlines()) < 30
    assert "lib" in text


def test_noarch_candidates_are_allowed_and_wrong_subdir_ignored() -> None:
    records = [
        rec("pure", "1", subdir="noarch"),
        rec("native", "1", subdir="osx-64"),
    ]
    assert names_versions(solve_records(records, ["pure"])) == {"pure": "1"}
    with pytest.raises(Unsatisfiable):
        solve_records(records, ["native"])


def test_solution_is_deterministic() -> None:
    records = [rec("a", str(v), depends=[f"b >={v}"]) for v in range(5)] + [
        rec("b", str(v), build=f"h{v}") for v in range(5)
    ]
    first = [r.dist_str() for r in solve_records(records, ["a", "b"])]
    for _ in range(3):
        assert [r.dist_str() for r in solve_records(records, ["a", "b"])] == first


def _greedy_misses_the_newer_dep() -> list[PackageRecord]:
    """Greedy takes lib's newer build (a) and with it dep 1.0; conda's dependency-version
    objective finds build b and dep 2.0, but only by probing."""
    return [
        rec("app", "2", depends=["lib"]),
        rec("lib", "1", build="a", depends=["dep 1.*"], timestamp=2000),
        rec("lib", "1", build="b", depends=["dep 2.*"], timestamp=1000),
        rec("dep", "1.0"),
        rec("dep", "2.0"),
    ]


def test_an_exhausted_optimization_budget_keeps_a_valid_answer_and_says_so() -> None:
    """With no budget the optimizer must not probe, must keep the valid greedy answer, and must
    report it is not proven optimal."""
    records = _greedy_misses_the_newer_dep()
    provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
    specs = [parse_match_spec("app")]
    full = Resolver(provider, policy="classic")
    best = full.resolve(specs)
    assert full.stats.optimal
    assert names_versions(best)["dep"] == "2.0"
    provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
    cut = Resolver(provider, policy="classic", optimize_budget=0)
    out = cut.resolve(specs)
    assert_valid_solution(out, ["app"], platform="linux-64")
    assert not cut.stats.optimal
    assert names_versions(out)["dep"] == "1.0"  # the greedy answer, kept as it was


def test_a_proof_that_runs_out_still_improves_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """When an objective's proof runs out of conflicts, the share of the budget kept back looks
    for cheaper models from above: the answer improves, stays valid, and is still reported as
    not proven optimal. (The proof is made to run out at once; the problem is the one above.)"""
    import solvent.solver.optimize as optimize

    records = [*_greedy_misses_the_newer_dep(), rec("dep", "3.0", depends=["missing"])]
    real_minimize = optimize.LexicographicOptimizer._minimize

    def out_of_conflicts(self: optimize.LexicographicOptimizer, objective: optimize.Objective) -> int:
        if objective.name == "dependency version":
            raise optimize.OptimizerGaveUp
        return real_minimize(self, objective)

    monkeypatch.setattr(optimize.LexicographicOptimizer, "_minimize", out_of_conflicts)
    specs = [parse_match_spec("app")]
    resolver = Resolver(Provider(RecordSet(records, ["test"]), platform="linux-64"), policy="classic")
    out = resolver.resolve(specs)
    assert_valid_solution(out, ["app"], platform="linux-64")
    assert names_versions(out)["dep"] == "2.0"  # greedy had 1.0: one rank below the newest usable
    assert resolver.stats.objectives["dependency version"] == 1  # dep 3.0 cannot be installed
    assert not resolver.stats.optimal
    cut = Resolver(Provider(RecordSet(records, ["test"]), platform="linux-64"), policy="classic", optimize_budget=0)
    assert names_versions(cut.resolve(specs))["dep"] == "1.0"  # no budget, nothing kept back


def _all_different(names: Sequence[str], versions: Sequence[str], root_deps: Sequence[str] = ()) -> list[PackageRecord]:
    """Every package needs every other at a different version: a pigeonhole when there are more
    packages than versions (the sudoku snapshot's structure, small)."""
    out = [rec("root", "1", depends=list(root_deps or names))]
    for name in names:
        for v in versions:
            out.append(rec(name, v, depends=[f"{other} !={v}" for other in names if other != name]))
    return out


@pytest.mark.parametrize("policy", ["classic", "greedy"])
def test_more_packages_than_versions_to_share_is_a_quick_pigeonhole(policy: str) -> None:
    names = [f"p{i}" for i in range(9)]
    records = _all_different(names, [str(v) for v in range(1, 9)])
    provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
    resolver = Resolver(provider, policy=policy)
    with pytest.raises(Unsatisfiable) as info:
        resolver.resolve([parse_match_spec("root")])
    assert resolver.stats.pigeonholes >= 1
    assert resolver.encoding is not None and resolver.encoding.sat.stats.conflicts <= 1000
    text = str(info.value)
    assert "9 packages are all needed" in text and "only 8 versions" in text


def test_as_many_packages_as_versions_stay_solvable() -> None:
    """The counting clause must never be added where the packages fit: an assignment exists."""
    names = [f"p{i}" for i in range(6)]
    records = _all_different(names, [str(v) for v in range(1, 7)])
    out = solve_records(records, ["root"], policy="greedy")
    versions = sorted(r.version for r in out if r.name != "root")
    assert versions == [str(v) for v in range(1, 7)]


def test_pigeonhole_look_in_conflicts_only_sees_names_a_search_met() -> None:
    """The resolver's look is limited to names whose builds took part in a conflict: before any
    search it finds nothing, after the search met the packages it finds their count, and a
    pigeonhole set the search never touched is left alone."""
    from solvent.solver.encoding import REQUEST, Encoding
    from solvent.solver.pigeonhole import add_pigeonhole_clauses

    names = [f"p{i}" for i in range(7)]
    records = _all_different(names, [str(v) for v in range(1, 7)])
    idle = [f"q{i}" for i in range(7)]  # the same shape, but nothing requires it
    records += _all_different(idle, [str(v) for v in range(1, 7)])[1:]
    enc = Encoding(Provider(RecordSet(records, ["test"]), platform="linux-64"))
    spec = parse_match_spec("root")
    enc.require(0, spec, (REQUEST, spec))
    for name in [*names, *idle]:
        enc.touch(name)
    assert add_pigeonhole_clauses(enc, in_conflicts=True) == 0  # no conflict yet
    assert enc.sat.solve(on_true=enc.expand, max_conflicts=30) is None
    assert add_pigeonhole_clauses(enc, in_conflicts=True) == 1
    assert enc.counted == {frozenset(names)}  # not the idle set (the full look would find it)
    assert enc.sat.solve(on_true=enc.expand) is False


@pytest.mark.parametrize(("n_names", "n_versions", "expected"), [(6, 6, 0), (7, 6, 1), (5, 7, 0)])
def test_pigeonhole_clauses_only_where_the_count_fails(n_names: int, n_versions: int, expected: int) -> None:
    from solvent.solver.encoding import REQUEST, Encoding
    from solvent.solver.pigeonhole import add_pigeonhole_clauses

    names = [f"p{i}" for i in range(n_names)]
    records = _all_different(names, [str(v) for v in range(1, n_versions + 1)])
    enc = Encoding(Provider(RecordSet(records, ["test"]), platform="linux-64"))
    spec = parse_match_spec("root")
    enc.require(0, spec, (REQUEST, spec))
    for name in names:
        enc.touch(name)
    assert add_pigeonhole_clauses(enc) == expected
    assert add_pigeonhole_clauses(enc) == 0  # stated once
    assert enc.sat.solve(on_true=enc.expand) is (expected == 0)


def _late_dead_end(fillers: int) -> list[PackageRecord]:
    """``x 2`` rules out every ``z``; ``y`` (both builds need ``z``) is required after ``fillers``
    unrelated packages. Without looking ahead the search finds out at ``y``, fillers levels above
    ``x``'s decision, and must decide every filler again."""
    names = [f"f{i}" for i in range(fillers)]
    out = [rec("root", "1", depends=["x", *names, "y"])]
    out += [rec("x", "2", constrains=["z <0"]), rec("x", "1")]
    out += [rec(name, v) for name in names for v in ("2", "1")]
    out += [rec("y", v, depends=["z"]) for v in ("2", "1")]
    out += [rec("z", v) for v in ("2", "1")]
    return out


@pytest.mark.parametrize("lookahead", [True, False])
def test_a_requirement_with_few_candidates_is_refuted_where_it_dies(
    monkeypatch: pytest.MonkeyPatch, lookahead: bool
) -> None:
    from solvent.solver import decide

    if not lookahead:
        monkeypatch.setattr(decide, "LOOKAHEAD_CANDIDATES", 0)
    records = _late_dead_end(60)
    provider = Provider(RecordSet(records, ["test"]), platform="linux-64")
    resolver = Resolver(provider, policy="greedy")
    out = resolver.resolve([parse_match_spec("root")])
    assert_valid_solution(out, ["root"])
    assert names_versions(out)["x"] == "1"
    decisions = resolver.stats.decisions
    if lookahead:
        assert decisions < 70  # the fillers are decided once
    else:
        assert decisions > 120  # and twice without the look-ahead: what it is for
