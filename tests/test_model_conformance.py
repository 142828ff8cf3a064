"""The model against conda's own parses and against rattler, on real data (issue 2's proof)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import InvalidMatchSpec, InvalidVersion, InvalidVersionSpec
from solvent.match_spec import MatchSpec, parse_match_spec
from solvent.record import PackageRecord
from solvent.version import VersionOrder, parse_version
from solvent.version_spec import VersionSpec
from tests.conftest import CHANNELS, shared_path

# -- versions --------------------------------------------------------------------------------------


def test_every_conda_parse_agrees() -> None:
    path = shared_path("versions", "parsed_versions.txt")
    lines = [ln.rstrip("\n") for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    mismatches = []
    for line in lines:
        version, _, parsed = line.partition("=[")
        expected = eval("[" + parsed, {"inf": float("inf")})  # conda's repr of its parse: lists, ints, strs, inf
        if [list(c) for c in VersionOrder(version).version] != expected:
            mismatches.append(line)
    print(f"\n{len(lines)} versions, {len(lines) - len(mismatches)} parse exactly as conda's VersionOrder")
    assert not mismatches, mismatches[:10]
    assert len(lines) > 28000


def _reference_lt(a: VersionOrder, b: VersionOrder) -> bool:
    """conda's padded comparison written out directly: the tuple key must agree with it."""
    for t1, t2 in ((a.version, b.version), (a.local, b.local)):
        for v1, v2 in itertools.zip_longest(t1, t2, fillvalue=[]):
            for c1, c2 in itertools.zip_longest(v1, v2, fillvalue=0):
                if c1 == c2:
                    continue
                if isinstance(c1, str):
                    if not isinstance(c2, str):
                        return True
                elif isinstance(c2, str):
                    return False
                return c1 < c2  # type: ignore[operator]
    return False


def test_full_order_agrees_with_rattler() -> None:
    rattler = pytest.importorskip("rattler")
    versions = [v.strip() for v in shared_path("versions", "versions.txt").read_text().splitlines() if v.strip()]
    ours = sorted(versions, key=lambda v: VersionOrder(v).key)
    theirs_v = {v: rattler.Version(v) for v in versions}
    disagreements = []
    for a, b in zip(ours, ours[1:]):
        mine = (VersionOrder(a) > VersionOrder(b)) - (VersionOrder(a) < VersionOrder(b))
        theirs = (theirs_v[a] > theirs_v[b]) - (theirs_v[a] < theirs_v[b])
        if mine != theirs:
            disagreements.append((a, b))
    classes = len({VersionOrder(v).key for v in versions})
    print(f"\n{len(versions)} versions, {classes} equivalence classes, {len(disagreements)} order disagreements")
    assert not disagreements, disagreements[:10]


_version_text = st.from_regex(
    r"\A([1-9]!)?[0-9]{1,3}([._-]?([0-9]{1,3}|a|b|rc|dev|post|alpha|_)){0,4}(\+[0-9a-z]{1,4})?\Z"
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_version_text, min_size=3, max_size=3))
def test_total_order_and_hash(texts: list[str]) -> None:
    try:
        a, b, c = (VersionOrder(t) for t in texts)
    except InvalidVersion:
        return
    for x, y in ((a, b), (b, c), (a, c)):
        assert (x < y) == _reference_lt(x, y)
        assert (x == y) == (not _reference_lt(x, y) and not _reference_lt(y, x))
        assert sum((x < y, x == y, x > y)) == 1
        if x == y:
            assert hash(x) == hash(y)
    if a <= b <= c:
        assert a <= c
    assert str(VersionOrder(str(a))) == str(a)
    assert parse_version(texts[0]) is parse_version(texts[0])


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("1.0dev", "1.0a"),
        ("1.0a", "1.0b"),
        ("1.0rc1", "1.0"),
        ("1.0", "1.0post1"),
        ("1.0", "1.0.1"),
        ("1.0.0_", "1.0.1"),
        ("0.4.1.rc", "0.4.1.RC"),
        ("1.1", "1!0.1"),
        ("1.0+a", "1.0+b"),
        ("1.0", "1.0+0.1"),
        ("1.*", "1.0"),
        ("1.0_1", "1.0_2"),
        ("2.0-1", "2.0-2"),
    ],
)
def test_ordering_rules(smaller: str, larger: str) -> None:
    if smaller == "0.4.1.rc":  # case-insensitive: equal
        assert VersionOrder(smaller) == VersionOrder(larger)
        return
    assert VersionOrder(smaller) < VersionOrder(larger)


@pytest.mark.parametrize(("a", "b"), [("1.1", "1.1.0"), ("1.1", "1.1.0.0"), ("1.0A", "1.0a"), ("0!1.0", "1.0")])
def test_padding_and_case(a: str, b: str) -> None:
    assert VersionOrder(a) == VersionOrder(b) and hash(VersionOrder(a)) == hash(VersionOrder(b))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("1.0 beta", "invalid character"),
        ("1!2!3", "epoch separator"),
        ("a!1", "epoch must be"),
        ("1+2+3", "local version separator"),
        ("+1", "missing version"),
        ("1..2", "empty version component"),
    ],
)
def test_invalid_versions(text: str, message: str) -> None:
    with pytest.raises(InvalidVersion, match=message):
        VersionOrder(text)


# -- version specs ---------------------------------------------------------------------------------

_SPEC_CASES = [
    ("1.2.*", ["1.2", "1.2.0", "1.2.7"], ["1.3", "1.20"]),
    ("=1.2", ["1.2", "1.2.4"], ["1.3"]),
    ("1.2", ["1.2", "1.2.0"], ["1.2.1"]),
    ("==1.2", ["1.2.0"], ["1.2.1"]),
    ("!=1.2.*", ["1.3", "1.20"], ["1.2.5"]),
    (">=1.2,<2|==3", ["1.2", "1.9", "3"], ["2", "1.1", "3.1"]),
    ("(1.2|1.3),<1.3", ["1.2"], ["1.3", "1.4"]),
    ("~=1.4.2", ["1.4.2", "1.4.9"], ["1.5", "1.4.1"]),
    ("^1\\.2\\.[0-9]$", ["1.2.3"], ["1.2.10", "1.3.0"]),
    ("*", ["0", "99"], []),
    ("1.*.3", ["1.5.3"], ["1.5.4"]),
    (">1.0a", ["1.0"], ["1.0a", "1.0dev"]),
]


@pytest.mark.parametrize(("spec", "good", "bad"), _SPEC_CASES)
def test_version_spec_cases(spec: str, good: list[str], bad: list[str]) -> None:
    vs = VersionSpec(spec)
    assert all(vs.match(v) for v in good), spec
    assert not any(vs.match(v) for v in bad), spec
    again = VersionSpec(str(vs))
    assert again == vs and all(again.match(v) == vs.match(v) for v in good + bad)


def test_version_spec_errors_name_the_position() -> None:
    with pytest.raises(InvalidVersionSpec, match=r"empty version constraint at position 6"):
        VersionSpec(">=1.2,,<2")
    with pytest.raises(InvalidMatchSpec, match=r"'numpy >=1.2,,<2': empty version constraint at position 12"):
        MatchSpec("numpy >=1.2,,<2")
    with pytest.raises(InvalidVersionSpec, match="invalid operator"):
        VersionSpec("=>1.2")


_op = st.sampled_from(["", "==", "!=", "<", "<=", ">", ">=", "="])
#: conda ignores a trailing ``.*`` after ``<``, ``<=``, ``>`` (deprecated; ``>1.*`` means ``>1``) where
#: rattler widens it (``>1.*`` means ``>=1``): a documented divergence, conda's reading wins.
_DEPRECATED_GLOB = ("<", "<=", ">")
_ver = st.from_regex(r"\A[0-9]{1,2}(\.[0-9]{1,2}){0,2}\Z")


@st.composite
def version_specs(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(_op)
        star = "" if op in _DEPRECATED_GLOB else draw(st.sampled_from(["", ".*"]))
        parts.append(op + draw(_ver) + star)
    text = parts[0]
    for p in parts[1:]:
        text += draw(st.sampled_from([",", "|"])) + p
    return text


@settings(max_examples=300, deadline=None)
@given(version_specs(), st.lists(_ver, min_size=1, max_size=6))
def test_version_spec_matches_rattler(spec: str, versions: list[str]) -> None:
    rattler = pytest.importorskip("rattler")
    try:
        ours = VersionSpec(spec)
    except InvalidVersionSpec:
        return
    try:
        theirs = rattler.VersionSpec(spec, strict=False)
    except Exception:  # rattler rejects some forms conda accepts
        return
    for v in versions:
        assert ours.match(v) == theirs.matches(rattler.Version(v)), (spec, v)
    assert VersionSpec(str(ours)) == ours


# -- MatchSpec -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("numpy", "numpy"),
        ("numpy 1.8*", "numpy=1.8"),
        ("numpy=1.8", "numpy=1.8"),
        ("numpy==1.8", "numpy==1.8"),
        ("numpy 1.8 py39_0", "numpy==1.8=py39_0"),
        ("numpy=1.8=py39*", "numpy==1.8[build=py39*]"),  # conda: with a build, =1.8 is exact
        ("numpy>=1.2,<2|==3", "numpy[version='(>=1.2,<2)|==3']"),
        ("numpy >= 1.2", "numpy[version='>=1.2']"),
        ("conda-forge::numpy", "conda-forge::numpy"),
        ("conda-forge/linux-64::numpy", "conda-forge/linux-64::numpy"),
        (
            "numpy[version='>=1.2', build='*cuda*', build_number='>=3']",
            "numpy[version='>=1.2',build=*cuda*,build_number='>=3']",
        ),
        ("numpy 1.8[version=1.9]", "numpy==1.9"),
        ("numpy[subdir=linux-64, md5=abc]", "numpy[subdir=linux-64,md5=abc]"),
        ("py*", "py*"),
        ("mkl@", "*[track_features=mkl]"),
        ("numpy # a comment", "numpy"),
        (
            "https://conda.anaconda.org/conda-forge/linux-64/numpy-1.8-py39_0.tar.bz2",
            "https://conda.anaconda.org/conda-forge/linux-64::numpy==1.8=py39_0[url=https://conda.anaconda.org/conda-forge/linux-64/numpy-1.8-py39_0.tar.bz2]",
        ),
    ],
)
def test_match_spec_grammar_and_canonical_form(text: str, canonical: str) -> None:
    spec = MatchSpec(text)
    assert str(spec) == canonical
    assert MatchSpec(str(spec)) == spec


def test_match_spec_matching_fields() -> None:
    r = PackageRecord.from_repodata(
        "numpy-1.26.4-py39cuda_2.conda",
        {
            "name": "numpy",
            "version": "1.26.4",
            "build": "py39cuda_2",
            "build_number": 2,
            "subdir": "linux-64",
            "md5": "m" * 32,
            "license": "BSD-3-Clause",
            "track_features": "mkl",
        },
        channel="conda-forge",
        subdir="linux-64",
    )
    for text, ok in [
        ("numpy", True),
        ("numpy >=1.26", True),
        ("numpy <1.26", False),
        ("numpy=1.26", True),
        ("numpy[build=*cuda*]", True),
        ("numpy[build=*cpu*]", False),
        ("numpy[build_number='>=3']", False),
        ("conda-forge::numpy", True),
        ("defaults::numpy", False),
        ("numpy[subdir=osx-64]", False),
        (f"numpy[md5={'m' * 32}]", True),
        ("numpy[license=bsd-3-clause]", True),
        ("num*", True),
        ("numpy[track_features=mkl]", True),
        ("numpy[track_features=nomkl]", False),
    ]:
        assert MatchSpec(text).match(r) is ok, text


def test_parse_match_spec_interns() -> None:
    assert parse_match_spec("libzlib >=1.2.13,<2.0a0") is parse_match_spec("libzlib >=1.2.13,<2.0a0")


@pytest.mark.parametrize("text", ["", "numpy[version]", ">=1.2", "numpy[foo=bar]", "numpy[version=1.2] [build=x]"])
def test_bad_match_specs(text: str) -> None:
    with pytest.raises(InvalidMatchSpec):
        MatchSpec(text)


def test_every_real_depends_string_matches_like_rattler() -> None:
    rattler = pytest.importorskip("rattler")
    shared_path("channels")
    strings: set[str] = set()
    pairs = agree = 0
    differences = []
    for repo in sorted(Path(CHANNELS).glob("*/*/repodata.json")):
        data = json.loads(repo.read_text())
        entries = {**(data.get("packages") or {}), **(data.get("packages.conda") or {})}
        if not entries:
            continue
        sparse = rattler.SparseRepoData(
            rattler.Channel(repo.parent.parent.resolve().as_uri()), repo.parent.name, str(repo)
        )
        by_name: dict[str, dict[str, PackageRecord]] = {}
        specs: set[str] = set()
        for fn, entry in entries.items():
            specs.update((entry.get("depends") or []) + (entry.get("constrains") or []))
            rec = PackageRecord.from_repodata(fn, entry, channel="x", subdir=repo.parent.name)
            by_name.setdefault(rec.name, {})[fn] = rec
        strings |= specs
        loaded: dict[str, dict[str, object]] = {}
        for text in sorted(specs):
            spec = parse_match_spec(text)  # every string parses
            if "*" in spec.name or spec.name not in by_name:
                continue
            if spec.name not in loaded:
                loaded[spec.name] = {r.file_name: r for r in sparse.load_records(rattler.PackageName(spec.name))}
            theirs = rattler.MatchSpec(text, strict=False)
            for fn, rec in by_name[spec.name].items():
                other = loaded[spec.name].get(fn)
                if other is None:
                    continue
                pairs += 1
                if spec.match(rec) == theirs.matches(other):
                    agree += 1
                elif len(differences) < 20:
                    differences.append((text, fn))
    rate = agree / pairs if pairs else 0.0
    print(
        f"\n{len(strings)} distinct depends/constrains strings parse; "
        f"{agree}/{pairs} matches agree with rattler ({rate:.2%})"
    )
    assert len(strings) > 5000
    assert rate == 1.0, differences
