"""Version specs and build-number specs: conda's grammar, canonical form, errors, rattler oracle."""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvent.errors import InvalidVersionSpec
from solvent.version import VersionOrder, parse_version
from solvent.version_spec import BuildNumberSpec, VersionSpec, parse_version_spec
from tests.conftest import shared_path

PROBES = [
    "1.1", "1.2", "1.2.0", "1.2.0.0", "1.2.1", "1.2a", "1.2.dev0", "1.2rc1", "1.2.post1", "1.3",
    "1.7", "1.8", "1.10", "1.20", "2", "2.0", "2.0a1", "0.9", "1!1.2", "1.2+abc", "1.2+1", "3.3.2",
]  # fmt: skip


def matching(spec: str) -> list[str]:
    vs = VersionSpec(spec)
    return [v for v in PROBES if vs.match(v)]


# -- matching semantics ----------------------------------------------------------------------
def test_operators() -> None:
    assert matching("==1.2") == ["1.2", "1.2.0", "1.2.0.0"]
    assert matching("1.2") == ["1.2", "1.2.0", "1.2.0.0"]  # bare version: exact
    assert "1.2.1" in matching("!=1.2") and "1.2.0" not in matching("!=1.2")
    assert matching(">=1.20") == ["1.20", "2", "2.0", "2.0a1", "1!1.2", "3.3.2"]
    assert matching("<1.2") == ["1.1", "1.2a", "1.2.dev0", "1.2rc1", "0.9", "1.2+abc"]
    assert matching(">1.8,<=2") == ["1.10", "1.20", "2", "2.0", "2.0a1"]
    assert matching("~=1.2") == [
        "1.2", "1.2.0", "1.2.0.0", "1.2.1", "1.2.post1", "1.3", "1.7", "1.8", "1.10", "1.20", "1.2+1"
    ]  # fmt: skip
    assert VersionSpec("~=3.3.2").match("3.3.2.0") and not VersionSpec("~=3.3.2").match("3.4.0")


def test_fuzzy() -> None:
    starts_12 = ["1.2", "1.2.0", "1.2.0.0", "1.2.1", "1.2a", "1.2.dev0", "1.2rc1", "1.2.post1", "1.2+abc", "1.2+1"]
    assert matching("=1.2") == starts_12
    assert matching("1.2.*") == starts_12
    assert matching("1.2*") == starts_12
    assert matching("=1.2.*") == starts_12
    assert VersionSpec("1.2*") == VersionSpec("1.2.*") and str(VersionSpec("1.2*")) == "1.2.*"
    assert hash(VersionSpec("1.2*")) == hash(VersionSpec("1.2.*"))
    # zero padding: 1.2 is 1.2.0, and 1.2.dev0 is 1.2.0dev0
    assert matching("1.2.0.*") == ["1.2", "1.2.0", "1.2.0.0", "1.2.dev0", "1.2.post1", "1.2+abc", "1.2+1"]
    assert "1.20" not in matching("1.2.*")


def test_trailing_star_with_operators() -> None:
    assert matching("!=1.2.*") == [v for v in PROBES if v not in matching("1.2.*")]
    assert matching(">=1.2.*") == matching(">=1.2")
    assert matching("<1.2.*") == matching("<1.2")
    assert matching(">1.2.*") == matching(">1.2")
    assert matching("==1.2.*") == matching("==1.2")
    with pytest.raises(InvalidVersionSpec, match=r"'\.\*' cannot follow '~='"):
        VersionSpec("~=1.2.*")
    # without the dot the '*' is part of the version: '1.2*' sorts below '1.2a' and '1.2dev'
    assert matching(">=1.2*") == [v for v in PROBES if v not in ("1.1", "0.9")]
    assert not VersionSpec("=1.2*").match("1.2.3")


def test_compound_and_precedence() -> None:
    assert matching("1.7|1.8,1.2") == ["1.7"]  # ',' binds tighter: 1.7 | (1.8 , 1.2)
    assert matching("(1.7|1.8),>1.7") == ["1.8"]
    assert matching("1.1|1.3|2") == ["1.1", "1.3", "2", "2.0"]
    vs = VersionSpec(">=2.7, !=3.0.*, !=3.1.*, !=3.3.*")
    assert [vs.match(v) for v in ("2.6", "2.7.2", "3.1.4", "3.2", "3.3.0", "3.4a")] == [0, 1, 0, 1, 0, 1]


def test_regex_glob_and_star() -> None:
    assert matching("*") == PROBES
    assert matching(r"^1\.2\.[0-9]+$") == ["1.2.0", "1.2.1"]
    assert matching("^1.2$|2") == ["1.2", "2", "2.0"]
    assert matching("1.*.1") == ["1.2.1"]  # glob on the string as written
    assert VersionSpec("1.*.1").match(VersionOrder("1.2.1"))


def test_whitespace() -> None:
    assert str(VersionSpec("  >=1.2 ,  <2 ")) == ">=1.2,<2"
    assert str(VersionSpec(" ( 1.2 | 1.3 ) , 1.3 ")) == "(1.2|1.3),1.3"
    with pytest.raises(InvalidVersionSpec, match=r"invalid operator in '>= 1\.2' at position 0"):
        VersionSpec(">= 1.2")


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("1.2", "1.2"),
        ("1.7.1*", "1.7.1.*"),
        ("1.7.1*,1.8.1.*", "1.7.1.*,1.8.1.*"),
        ("((1.2))", "1.2"),
        ("(1.2.3,4.5.6)|<=7.8.9", "1.2.3,4.5.6|<=7.8.9"),
        ("(1.6|1.7),1.8", "(1.6|1.7),1.8"),  # conda prints '1.6|1.7,1.8', which means something else
        (" ( (1.5|((1.6|1.7), 1.8), 1.9 |2.0))|2.1", "1.5|(1.6|1.7),1.8,1.9|2.0|2.1"),
        ("(a1|(a2|a3))|a4", "a1|a2|a3|a4"),
        ("^1.*$", "^1.*$"),
        ("=1.2.*", "=1.2.*"),
    ],
)
def test_canonical_str(spec: str, canonical: str) -> None:
    vs = VersionSpec(spec)
    assert str(vs) == canonical
    assert VersionSpec(canonical) == vs
    assert repr(vs) == f"VersionSpec({canonical!r})"


def test_exactness_and_interning() -> None:
    assert VersionSpec("1.2").is_exact() and VersionSpec("==1.2").is_exact()
    assert VersionSpec("1.2").exact_value == "1.2" and VersionSpec("==1.2").exact_value == "1.2"
    for spec in ("1.2.*", "=1.2", ">=1.2", "1.2|1.3", "*", "^1.2$"):
        assert not VersionSpec(spec).is_exact() and VersionSpec(spec).exact_value is None
    assert parse_version_spec(">=1.2") is parse_version_spec(">=1.2")
    assert VersionSpec(VersionSpec(">=1")) == VersionSpec(">=1")
    assert VersionSpec(">=1") != ">=1"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (">=1.2,,<2", "'>=1.2,,<2': empty version constraint at position 6"),
        ("1.5||1.6", "empty version constraint at position 4"),
        ("", "empty version constraint at position 0"),
        ("1.2,", "empty version constraint at position 4"),
        ("()", "empty version constraint at position 1"),
        ("(1.5", "unbalanced '(' at position 0"),
        ("1.5)", "unbalanced ')' at position 3"),
        ("1.2 (3)", "expected ',' or '|' before '(' at position 4"),
        ("^1.5", "regex specs must start with '^' and end with '$', got '^1.5' at position 0"),
        ("1.5$", "regex specs must start with '^' and end with '$'"),
        ("^1.(5$", "bad regular expression"),
        ("><2.4.5", "invalid operator in '><2.4.5' at position 0"),
        ("!!2.4.5", "invalid operator"),
        ("==", "invalid operator in '=='"),
        ("~", "invalid operator"),
        ("===3.3.2", "invalid operator"),
        (">=1.2&", "invalid character '&' in version '1.2&' at position 5"),
        ("1.0,>=2..1", "empty version component in version '2..1' at position 8"),
        ("1.2+", "empty version component in version '1.2+' at position 4"),
        ("+1.2", "missing version before local version separator '+'"),
        ("~=1", "'~=' needs a version with at least two components"),
        ("~=1.2.*", "'.*' cannot follow '~='"),
    ],
)
def test_errors(spec: str, message: str) -> None:
    with pytest.raises(InvalidVersionSpec) as info:
        VersionSpec(spec)
    assert message in str(info.value)
    assert str(info.value).startswith(f"invalid version spec {spec!r}: ")


# -- build numbers ---------------------------------------------------------------------------
def test_build_number_spec() -> None:
    def ok(spec: str | int) -> list[int]:
        bs = BuildNumberSpec(spec)
        return [n for n in range(6) if bs.match(n)]

    assert ok(3) == ok("3") == ok(" 3 ") == ok("==3") == ok("=3") == [3]
    assert ok(">=3") == [3, 4, 5] and ok(">3") == [4, 5]
    assert ok("<3") == [0, 1, 2] and ok("<=3") == [0, 1, 2, 3] and ok("!=3") == [0, 1, 2, 4, 5]
    assert ok("*") == list(range(6)) and ok("^[24]$") == [2, 4]
    assert BuildNumberSpec(">=10").match(100) and not BuildNumberSpec(">=10").match(9)
    assert ok(">=2.5") == [3, 4, 5]  # conda compares as versions for non-integers
    assert BuildNumberSpec("3").is_exact() and BuildNumberSpec("3").exact_value == 3
    assert BuildNumberSpec("==3").exact_value == 3 and BuildNumberSpec(">=3").exact_value is None
    assert str(BuildNumberSpec(" 07 ")) == "7" and BuildNumberSpec("3") == BuildNumberSpec(3)
    for bad in ("abc", "~=3", ">=", ">= 3", "3,4", "", "^3"):
        with pytest.raises(InvalidVersionSpec, match="invalid build number spec"):
            BuildNumberSpec(bad)


# -- generated specs: round trip and rattler differential --------------------------------------
_versions = st.sampled_from(["1", "1.2", "1.2.3", "2.0", "0.9", "1.2a", "1!1.0", "1.2+x", "3.10", "1.2.0"])


@st.composite
def specs(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 2 or draw(st.booleans()):
        op = draw(st.sampled_from(["", "==", "!=", "<", "<=", ">", ">=", "=", "~="]))
        version = draw(_versions)
        if op == "~=" and "." not in version:
            version += ".0"
        suffix = draw(st.sampled_from(["", "", ".*"])) if op != "~=" else ""
        return f"{op}{version}{suffix}"
    children = draw(st.lists(specs(depth + 1), min_size=2, max_size=3))
    text = draw(st.sampled_from([",", "|"])).join(children)
    return f"({text})" if draw(st.booleans()) else text


PROBE_ORDERS = [parse_version(v) for v in PROBES]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_str_round_trip(spec: str) -> None:
    vs = VersionSpec(spec)
    again = VersionSpec(str(vs))
    assert again == vs and hash(again) == hash(vs) and str(again) == str(vs)
    assert [again.match(v) for v in PROBE_ORDERS] == [vs.match(v) for v in PROBE_ORDERS]


def _divergence(spec: str) -> str | None:
    """Which documented conda-vs-rattler difference (docs/versions.md) a spec can hit, if any."""
    for leaf in re.split(r"[,|()]", spec):
        m = re.match(r"(==|!=|<=|>=|~=|=|<|>)(.*)$", leaf)
        if not m:
            continue
        op, version = m.groups()
        if version.endswith("*") and not version.endswith(".*"):
            return "operator-with-star"  # conda: '*' is part of the version; rattler: '.*'
        if op == ">" and version.endswith(".*"):
            return "greater-star"  # rattler reads '>1.2.*' as '>=1.2'
        if op == "~=" and "_" in version.split("+")[0]:
            return "compatible-underscore"  # conda splits '~=' versions at '.' only
    return None


def _generated_specs(real: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)

    def leaf() -> str:
        v = rng.choice(real)
        if rng.random() < 0.5:
            parts = v.split(".")
            v = ".".join(parts[: rng.randint(1, len(parts))])
        op = rng.choice(["", "==", "!=", "<", "<=", ">", ">=", "=", "~="])
        if op == "~=" and "." not in v:
            v += ".0"
        return op + v + (rng.choice(["", "", "", ".*", "*"]) if op != "~=" else "")

    def tree(depth: int = 0) -> str:
        if depth >= 2 or rng.random() < 0.6:
            return leaf()
        text = rng.choice([",", "|"]).join(tree(depth + 1) for _ in range(rng.randint(2, 3)))
        return f"({text})" if rng.random() < 0.4 else text

    return [tree() for _ in range(n)]


@pytest.mark.shared
def test_matching_agrees_with_rattler(capsys: pytest.CaptureFixture[str]) -> None:
    rattler = pytest.importorskip("rattler")
    real = [line.strip() for line in shared_path("versions", "versions.txt").read_text().splitlines() if line.strip()]
    rng = random.Random(11)
    sample = rng.sample(real, 300)
    ours_v = [parse_version(v) for v in sample]
    theirs_v = [rattler.Version(v) for v in sample]
    total = agree = 0
    unexplained = []
    kinds: dict[str, int] = {}
    for spec in _generated_specs(real, 1500, seed=5):
        try:
            ours = VersionSpec(spec)
        except InvalidVersionSpec:
            continue  # e.g. a real version that is not a valid constraint after an operator
        theirs = rattler.VersionSpec(spec)
        for vo, rv in zip(ours_v, theirs_v):
            total += 1
            if ours.match(vo) == theirs.matches(rv):
                agree += 1
                continue
            kind = _divergence(spec)
            kinds[kind or "unexplained"] = kinds.get(kind or "unexplained", 0) + 1
            if kind is None:
                unexplained.append((spec, str(vo)))
    with capsys.disabled():
        print(f"\nversion specs vs rattler: {agree}/{total} agree ({agree / total:.4%}); differences {kinds}")
    assert unexplained == []
    assert total > 300_000 and agree / total > 0.995


def test_known_rattler_divergences() -> None:
    rattler = pytest.importorskip("rattler")
    cases = [("=1.0*", "1.0.5"), ("!=1*", "1.5"), (">1.14.*", "1.14"), ("~=0.7_25", "0.9")]
    for spec, version in cases:
        assert VersionSpec(spec).match(version) != rattler.VersionSpec(spec).matches(rattler.Version(version))
    assert _divergence("~=1.2") is None and _divergence(">=1.2.*") is None


def test_matching_is_fast() -> None:
    rng = random.Random(2)
    vos = [parse_version(f"{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}") for _ in range(2000)]
    specs_ = [VersionSpec(s) for s in (">=1.2,<2", "1.5.*", "!=1.3.*,>=1", ">=2.7,!=3.0.*,!=3.1.*|3.3.*", "==1.2.3")]
    start = time.perf_counter()
    hits = sum(s.match(v) for _ in range(10) for s in specs_ for v in vos)
    elapsed = time.perf_counter() - start
    assert hits > 0
    assert elapsed < 1.0  # 100,000 matches; about 0.05 s
