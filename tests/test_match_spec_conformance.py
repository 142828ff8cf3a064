"""MatchSpec against conda's grammar and against rattler on every real depends string (issue 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import InvalidMatchSpec
from solvent.match_spec import MatchSpec, parse_match_spec
from solvent.record import PackageRecord
from tests.conftest import CHANNELS, shared_path


def test_match_spec_errors_name_the_position() -> None:
    with pytest.raises(InvalidMatchSpec, match=r"'numpy >=1.2,,<2': empty version constraint at position 12"):
        MatchSpec("numpy >=1.2,,<2")


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
        ("numpy>=1.2,<2|==3", "numpy[version='>=1.2,<2|==3']"),
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


# Strings where rattler parses differently from conda and solvent follows conda (checked with conda
# from ../shared/peers: ``MatchSpec("x264 >=1 !164.3095,<1!165")`` is
# ``x264[version='>=1!164.3095,<1!165']`` and matches ``x264 1!164.3095``; rattler reads a version
# ``>=1`` and a build ``!164.3095,<1!165``, which matches nothing). docs/versions.md lists them.
CONDA_NOT_RATTLER = {"x264 >=1 !164.3095,<1!165"}


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
                if text in CONDA_NOT_RATTLER:
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


# -- select: the batch form of match ----------------------------------------------------------------

_VERSIONS = ["1.0", "1.0.0", "1.1", "1.15.0", "2.0a1", "2.0", "10.2.3", "1!0.5", "3.9.7", "0.9_post1"]
_BUILDS = ["py39_0", "py39h3dfced4_0", "py310_1", "cuda118_0", "0", "h1234567_2"]


@st.composite
def _records(draw: st.DrawFn) -> list[PackageRecord]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["numpy", "numpy-base", "Numpy"]),
                st.sampled_from(_VERSIONS),
                st.sampled_from(_BUILDS),
                st.integers(0, 3),
            ),
            max_size=25,
        )
    )
    return [PackageRecord(name.lower(), v, b, n, subdir="linux-64") for name, v, b, n in rows]


_SPECS = st.one_of(
    st.sampled_from(["numpy", "numpy-base", "numpy *", "numpy[build_number='>=2']", "numpy * *cuda*"]),
    st.builds(
        lambda name, op, v: f"{name} {op}{v}",
        st.sampled_from(["numpy", "numpy-base"]),
        st.sampled_from(["", ">=", "<", "==", "!=", "~="]),
        st.sampled_from(_VERSIONS),
    ),
    st.builds(
        lambda name, v, b: f"{name}=={v}={b}",
        st.sampled_from(["numpy", "numpy-base"]),
        st.sampled_from(_VERSIONS),
        st.sampled_from([*_BUILDS, "py39*"]),
    ),
    st.builds(lambda v, b: f"numpy {v}* {b}", st.sampled_from(["1", "1.0", "2"]), st.sampled_from(_BUILDS)),
)


@settings(max_examples=400, deadline=None)
@given(_SPECS, _records())
def test_select_is_match_over_each_record(text: str, records: list[PackageRecord]) -> None:
    # select decides each name and version once, and an exact build by string comparison first;
    # neither may change which records match, nor their order.
    spec = MatchSpec(text)
    assert spec.select(records) == [r for r in records if spec.match(r)]
    assert spec.select(iter(records)) == [r for r in records if spec.match(r)]
