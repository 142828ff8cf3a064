"""The MatchSpec parser's fast path for the common depends shapes against the general parser.

``_parse`` reads ``name``, ``name version`` and ``name version build`` strings of a narrow grammar
directly and hands everything else to ``_parse_general`` (conda's full steps). Both must give the
same fields for every string the fast path takes: checked on every depends and constrains string
of the real channel snapshots, and on generated strings of the fast grammar's neighbourhood.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.match_spec import _SIMPLE, MatchSpec, _parse, _parse_general
from tests.conftest import shared_channels

CASES = [
    ("numpy", True),
    ("numpy >=1.21,<2.0a0", True),
    ("python_abi 3.12.* *_cp312", True),
    ("libcblas 3.9.0 20_win64_mkl", True),
    ("foo 1.2.*|>=2,<3", True),
    ("x *", True),
    ("numpy ==1.2", False),  # conda rewrites a leading "==" (exact) without a build
    ("numpy =1.2", False),  # and a leading "=" (fuzzy)
    ("a 1.2=b", False),  # "=" between version and build
    ("blas 1.0   mkl", False),  # several spaces
    ("Numpy 1", False),  # upper case is lowered
    ("numpy>=1.2", False),  # no space before the operator
    ("conda-forge::numpy", False),
    ("numpy[version='>=1']", False),
    ("numpy 1.2 # comment", False),
    ("mkl-devel 2023.* *_46356", True),
]


@pytest.mark.parametrize(("spec", "fast"), CASES)
def test_fast_path_shapes(spec: str, fast: bool) -> None:
    assert (_SIMPLE.fullmatch(spec) is not None) is fast
    assert _parse(spec) == _parse_general(spec)


def _snapshot_specs() -> list[str]:
    out: set[str] = set()
    for channel in shared_channels():
        for path in sorted(channel.glob("*/repodata.json")):
            document = json.loads(path.read_bytes())
            for key in ("packages", "packages.conda"):
                for entry in (document.get(key) or {}).values():
                    out.update(s for s in entry.get("depends") or () if isinstance(s, str))
                    out.update(s for s in entry.get("constrains") or () if isinstance(s, str))
    return sorted(out)


def test_every_snapshot_depends_string_parses_the_same() -> None:
    specs = _snapshot_specs()
    if not specs:
        pytest.skip("shared channel snapshots not available")
    fast = [s for s in specs if _SIMPLE.fullmatch(s)]
    assert len(fast) > 0.8 * len(specs)  # the fast path is the common case, or it is pointless
    mismatched = [s for s in fast if _parse(s) != _parse_general(s)]
    assert not mismatched, mismatched[:20]


_NAME = st.from_regex(r"[a-z_][a-z0-9_.\-]{0,8}", fullmatch=True)
_VERSIONISH = st.text(alphabet="0123456789.*<>=!~,|_+-abcz ", min_size=0, max_size=14)
_BUILDISH = st.text(alphabet="0123456789_.*+abhpy=-,|<>~ ", min_size=0, max_size=10)


@settings(max_examples=600, deadline=None)
@given(_NAME, _VERSIONISH, _BUILDISH, st.sampled_from(["", " ", "  "]))
def test_generated_strings_parse_the_same(name: str, version: str, build: str, sep: str) -> None:
    """Strings near the fast grammar: whatever the fast path accepts, the general parser reads the
    same way (and accepts)."""
    spec = name + (" " + version if version else "") + (sep + build if build and version else "")
    try:
        general = _parse_general(spec)
    except Exception as exc:  # the general parser's verdict decides; the fast path must agree
        if _SIMPLE.fullmatch(spec):
            pytest.fail(f"fast path accepted {spec!r}, which the general parser rejects: {exc}")
        return
    assert _parse(spec) == general


@pytest.mark.parametrize("spec", [s for s, fast in CASES if fast])
def test_fast_specs_round_trip(spec: str) -> None:
    assert MatchSpec(str(MatchSpec(spec))) == MatchSpec(spec)
