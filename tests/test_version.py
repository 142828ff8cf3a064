"""conda's version ordering: real data, py-rattler as an oracle, properties and edge cases."""

from __future__ import annotations

import itertools
import pickle
import random
from itertools import zip_longest
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvent.errors import InvalidInput, InvalidVersion
from solvent.version import VersionOrder, parse_version
from tests.conftest import shared_path

# Orderings where py-rattler disagrees with conda on versions.txt. conda wins; each entry must be
# explained in docs/versions.md. The real data currently shows none, so any new one fails.
KNOWN_RATTLER_ORDER_DIFFERENCES: set[tuple[str, str]] = set()

# Versions conda accepts and rattler refuses (docs/versions.md, "Versions rattler refuses").
RATTLER_REFUSES = {"1*", "1.*", "1.2.*", "*", "_", "1.0.*a"}


def _real_versions() -> list[str]:
    path = shared_path("versions", "versions.txt")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


# -- an independent, slow transcription of conda's padded comparison -------------------------
def _cmp_elements(a: Any, b: Any) -> int:
    if a == b:
        return 0
    if isinstance(a, str) != isinstance(b, str):
        return -1 if isinstance(a, str) else 1
    return -1 if a < b else 1


def _cmp_lists(xs: tuple, ys: tuple) -> int:
    for cx, cy in zip_longest(xs, ys, fillvalue=()):
        for a, b in zip_longest(cx, cy, fillvalue=0):
            c = _cmp_elements(a, b)
            if c:
                return c
    return 0


def reference_cmp(x: VersionOrder, y: VersionOrder) -> int:
    return _cmp_lists(x.version, y.version) or _cmp_lists(x.local, y.local)


def _sign(x: VersionOrder, y: VersionOrder) -> int:
    return (x > y) - (x < y)


# -- a generator of conda-valid version strings, biased towards the tricky parts ----------------
_element = st.one_of(
    st.sampled_from(["0", "0", "1", "2", "10", "00"]),
    st.integers(0, 300).map(str),
    st.sampled_from(["a", "b", "rc", "dev", "post", "alpha", "beta", "z", "p", "DEV", "Post", "*"]),
)
_component = st.lists(_element, min_size=1, max_size=3).map("".join)


@st.composite
def version_strings(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_component, min_size=1, max_size=5))
    text = parts[0]
    for part in parts[1:]:
        text += draw(st.sampled_from([".", ".", ".", "_"])) + part
    if draw(st.integers(0, 9)) == 0:
        text += "_"
    if draw(st.integers(0, 5)) == 0:
        text = f"{draw(st.integers(0, 3))}!{text}"
    if draw(st.integers(0, 5)) == 0:
        local = draw(st.lists(_component, min_size=1, max_size=3))
        text += "+" + ".".join(local)
    return text


versions = version_strings()


# -- real data -------------------------------------------------------------------------------
@pytest.mark.shared
def test_every_conda_parse_agrees() -> None:
    path = shared_path("versions", "parsed_versions.txt")
    agreed = 0
    disagreements = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        vstr, _, expected = line.partition("=")
        got = str([list(c) for c in VersionOrder(vstr).version])
        if got == expected:
            agreed += 1
        else:
            disagreements.append((vstr, expected, got))
    assert disagreements == []
    assert agreed == 28530


@pytest.mark.shared
def test_sorted_order_agrees_with_rattler() -> None:
    rattler = pytest.importorskip("rattler")
    real = _real_versions()
    ours = sorted(real, key=lambda v: parse_version(v).key)
    theirs = sorted(real, key=rattler.Version)
    assert len(ours) == len(theirs) == 28530
    differences = set()
    rv = {v: rattler.Version(v) for v in real}
    for a, b in zip(ours, ours[1:]):
        if rv[a] > rv[b] or (parse_version(a) == parse_version(b)) != (rv[a] == rv[b]):
            differences.add((a, b))
    assert differences == KNOWN_RATTLER_ORDER_DIFFERENCES
    if not differences:
        assert ours == theirs


@pytest.mark.shared
def test_key_equals_reference_on_real_neighbours() -> None:
    real = sorted((parse_version(v) for v in _real_versions()), key=lambda v: v.key)
    for a, b in zip(real, real[1:]):
        assert reference_cmp(a, b) == _sign(a, b) <= 0
    rng = random.Random(7)
    for a, b in (rng.sample(real, 2) for _ in range(5000)):
        assert reference_cmp(a, b) == _sign(a, b)
        assert (a == b) == (hash(a) == hash(b)) or a != b


def test_parsing_real_versions_is_fast() -> None:
    rng = random.Random(1)
    strings = [f"{rng.randint(0, 30)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}post{i}" for i in range(20000)]
    import time

    start = time.perf_counter()
    parsed = [VersionOrder(s) for s in strings]
    sorted(parsed)
    assert time.perf_counter() - start < 2.0  # about 0.25 s on one core


# -- properties ------------------------------------------------------------------------------
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(versions, versions)
def test_key_is_conda_padded_comparison(a: str, b: str) -> None:
    x, y = VersionOrder(a), VersionOrder(b)
    assert _sign(x, y) == reference_cmp(x, y)
    assert (x == y) == (reference_cmp(x, y) == 0)
    if x == y:
        assert hash(x) == hash(y)


@settings(max_examples=300)
@given(versions)
def test_padding_with_zeros_is_equal(v: str) -> None:
    vo = VersionOrder(v)
    if "+" not in v and not v.endswith("_"):
        padded = VersionOrder(v + ".0.0")
        assert padded == vo and hash(padded) == hash(vo)


@settings(max_examples=200)
@given(st.lists(versions, min_size=3, max_size=3))
def test_total_order(vs: list[str]) -> None:
    a, b, c = (VersionOrder(v) for v in vs)
    for x, y in itertools.permutations((a, b, c), 2):
        assert sum((x < y, x == y, x > y)) == 1  # totality and exclusivity
        assert (x <= y) == (not x > y)
        if x <= y and y <= x:
            assert x == y  # antisymmetry
    for x, y, z in itertools.permutations((a, b, c)):
        if x <= y and y <= z:
            assert x <= z  # transitivity


@settings(max_examples=200)
@given(versions)
def test_str_round_trip_and_interning(v: str) -> None:
    vo = parse_version(v)
    assert str(vo) == v
    assert parse_version(v) is vo
    assert VersionOrder(str(vo)) == vo
    assert pickle.loads(pickle.dumps(vo)) is vo


@settings(max_examples=300, deadline=None)
@given(versions, versions)
def test_order_agrees_with_rattler_on_generated(a: str, b: str) -> None:
    rattler = pytest.importorskip("rattler")
    if "*" in a + b:
        return  # rattler refuses '*' inside versions (see RATTLER_REFUSES)
    if _underscore_after_letter(a) or _underscore_after_letter(b):
        return  # a known difference, see test_trailing_underscore_after_letter_differs_from_rattler
    ra, rb = rattler.Version(a), rattler.Version(b)
    expected = int(ra > rb) - int(ra < rb)
    assert _sign(VersionOrder(a), VersionOrder(b)) == expected, (a, b)


def _underscore_after_letter(v: str) -> bool:
    main = v.split("!")[-1].split("+")[0]
    return len(main) > 1 and main.endswith("_") and main[-2].isalpha()


def test_trailing_underscore_after_letter_differs_from_rattler() -> None:
    # conda keeps "a_" as one string element ("a_" > "a"); rattler splits off "_" (below 0)
    rattler = pytest.importorskip("rattler")
    for lo, hi in [("1.0a", "1.0a_"), ("1a0", "1a_"), ("1a1", "1a_")]:
        assert VersionOrder(lo) < VersionOrder(hi)
        assert rattler.Version(lo) > rattler.Version(hi)


def test_versions_rattler_refuses() -> None:
    rattler = pytest.importorskip("rattler")
    for v in sorted(RATTLER_REFUSES):
        VersionOrder(v)  # conda (and solvent) accept it
        with pytest.raises(Exception):  # noqa: B017 - rattler's own exception type
            rattler.Version(v)


# -- edge cases ------------------------------------------------------------------------------
ASCENDING = [
    "0.4",
    "0.4.1.rc",
    "0.4.1",
    "0.5a1",
    "0.5b3",
    "0.5C1",
    "0.5",
    "0.9.6",
    "0.960923",
    "1.0",
    "1.1dev1",
    "1.1_",
    "1.1a1",
    "1.1.0dev1",
    "1.1.a1",
    "1.1.0rc1",
    "1.1.0",
    "1.1.0post1",
    "1.1post1",
    "1996.07.12",
    "1!0.4.1",
    "1!3.1.1.6",
    "2!0.4.1",
]


def test_conda_documented_order() -> None:
    shuffled = list(ASCENDING)
    random.Random(3).shuffle(shuffled)
    assert [str(v) for v in sorted(VersionOrder(s) for s in shuffled)] == ASCENDING


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.1", "1.1.0"),
        ("1.1", "1.1.0.0"),
        ("0.4", "0.4.0"),
        ("1.1.dev1", "1.1.0dev1"),
        ("1.1.post1", "1.1.0post1"),
        ("0.4.1.rc", "  0.4.1.RC  "),
        ("1.0-1", "1.0_1"),
        ("1.0-1", "1.0.1"),
        ("1.2+ABC", "1.2+abc"),
        ("1.2+a_b", "1.2+a.b"),
        ("0!1.0", "1.0"),
        ("1.0", "01.00"),
        ("1.0+0", "1.0"),
    ],
)
def test_equal_versions(a: str, b: str) -> None:
    assert VersionOrder(a) == VersionOrder(b)
    assert hash(VersionOrder(a)) == hash(VersionOrder(b))


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        ("1.0.1dev", "1.0.1_"),  # dev is below everything, '_' below letters
        ("1.0.1_", "1.0.1a"),  # openssl: a trailing underscore sorts before letters
        ("1.0.1z", "1.0.1"),  # strings are below numbers
        ("1.0.1", "1.0.1post"),  # post is above numbers
        ("1.0.1post", "1.0.2"),
        ("1.0.1*", "1.0.1dev"),  # '*' is below 'DEV'
        ("1.0a12.dev1", "1.0a12"),
        ("1.2+abc", "1.2"),  # a local part compares like a version: a leading string is below 0
        ("1.2", "1.2+1"),
        ("1.2+abc", "1.2.1"),
        ("1.2+abc", "1.2+1"),
        ("1.2+9", "1.2+10"),
        ("9.9", "1!0.1"),  # epochs first
        ("1.9", "1.10"),  # numbers numerically
        ("1.0a", "1.0b"),
        ("1.0rc", "1.0rc1"),
        ("1.1.0a1", "1.1.0"),
    ],
)
def test_strict_order(lo: str, hi: str) -> None:
    assert VersionOrder(lo) < VersionOrder(hi)
    assert VersionOrder(hi) > VersionOrder(lo)
    assert VersionOrder(lo) != VersionOrder(hi)


def test_attributes() -> None:
    vo = VersionOrder("1!2.15.1_ALPHA+Local.1")
    assert vo.epoch == 1
    assert vo.norm == "1!2.15.1_alpha+local.1"
    assert vo.version == ((1,), (2,), (15,), (1,), (0, "alpha"))
    assert vo.local == ((0, "local"), (1,))
    openssl = VersionOrder("1.0.1_")
    assert openssl.version == ((0,), (1,), (0,), (1, "_"))
    assert VersionOrder("1.2.post3.dev").version == ((0,), (1,), (2,), (0, float("inf"), 3), (0, "DEV"))
    assert str(VersionOrder("1.0-A")) == "1.0-A"  # str() is the string as given
    assert repr(VersionOrder("1.0")) == "VersionOrder('1.0')"


def test_dash_becomes_underscore_only_without_underscores() -> None:
    assert VersionOrder("1-2-3").norm == "1_2_3"
    with pytest.raises(InvalidVersion, match=r"'-' together with '_' at position 3"):
        VersionOrder("1_2-3")


def test_startswith() -> None:
    def sw(v: str, p: str) -> bool:
        return VersionOrder(v).startswith(VersionOrder(p))

    assert sw("0.4.1", "0") and sw("0.4.1", "0.4") and sw("0.4.1", "0.4.1")
    assert sw("0.4.1p1", "0.4") and sw("0.4.1p1", "0.4.1p")
    assert not sw("0.4.1p1", "0.4.1q1")
    assert not sw("0.4", "0.4.1")
    assert not sw("1.20", "1.2")
    assert sw("1.2a", "1.2")  # the first element of the last component decides
    assert sw("1.2", "1.2.0")  # zero padding
    assert sw("1.2.3+4.5", "1.2.3") and sw("1.2.3+4.5", "1.2.3+4")
    assert not sw("1.2.3", "1.2.3+4") and not sw("1.2.3+4", "1.2.3+4.5")
    assert not sw("1.2.4+4.5", "1.2.3+4")
    assert sw("2013ab", "2013a") and not sw("2013a", "2013b")
    assert sw("1!1.2.3", "1!1.2") and not sw("1.2.3", "1!1.2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid version '': empty version string at position 0"),
        ("   ", "empty version string at position 3"),
        ("3.5&1", "invalid character '&' at position 3"),
        ("1.0 2", "invalid character ' ' at position 3"),
        ("5.5++", "duplicated local version separator '+' at position 4"),
        ("1+2+3", "duplicated local version separator '+' at position 3"),
        ("5.5..mw", "empty version component at position 4"),
        ("1._2", "empty version component at position 2"),
        (".1", "empty version component at position 0"),
        ("1.2+", "empty version component at position 4"),
        ("1.2+a.", "empty version component at position 6"),
        ("1.2+a_", "empty version component at position 6"),
        ("!", "epoch must be an integer at position 0"),
        ("a!1.0", "epoch must be an integer at position 0"),
        ("1!2!3", "duplicated epoch separator '!' at position 3"),
        ("+1.2", "missing version before local version separator '+' at position 0"),
        ("1!", "missing version after epoch at position 2"),
        ("1.0é", "invalid character 'é' at position 3"),
    ],
)
def test_invalid_versions(text: str, message: str) -> None:
    with pytest.raises(InvalidVersion) as info:
        VersionOrder(text)
    assert message in str(info.value)
    assert isinstance(info.value, InvalidInput)
    assert repr(text) in str(info.value)


def test_odd_but_valid_versions() -> None:
    # conda accepts these; so must solvent
    for text in ("_", "1__", "*", "1.*", "1-", "K", "1.0dev", "1!0", "v1.0", "1.0+0_1"):
        VersionOrder(text)
    assert VersionOrder("1-") == VersionOrder("1_")


def test_not_a_string() -> None:
    with pytest.raises(TypeError):
        VersionOrder(1.0)  # type: ignore[arg-type]


def test_comparison_with_other_types() -> None:
    assert VersionOrder("1.0") != "1.0"
    assert VersionOrder("1.0").__eq__("1.0") is NotImplemented
    with pytest.raises(TypeError):
        _ = VersionOrder("1.0") < "2.0"  # type: ignore[operator]


@settings(max_examples=400)
@given(st.lists(st.from_regex(r"[0-9]{1,6}", fullmatch=True), min_size=1, max_size=7))
def test_plain_versions_parse_as_the_general_path_does(pieces: list[str]) -> None:
    """``1.26.4``-shaped versions take a shortcut in the parser; every field must be what the
    general path computes (checked by disabling the shortcut)."""
    import re

    import solvent.version as module

    text = ".".join(pieces)
    fast = VersionOrder(text)
    shortcut = module._PLAIN
    module._PLAIN = re.compile(r"(?!)")
    try:
        general = VersionOrder(text)
    finally:
        module._PLAIN = shortcut
    for slot in VersionOrder.__slots__:
        assert getattr(fast, slot) == getattr(general, slot), slot
