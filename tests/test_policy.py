"""conda's version key against its plain definition, and the candidate order on ties.

``classic_version_key`` puts the version's own key in its tuple (compared in C) instead of the
``VersionOrder``; the property holds it to the definition with the object, on records built to tie
in every field that can tie.
"""

from __future__ import annotations

from typing import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.record import PackageRecord
from solvent.solver.objectives import version_ranks
from solvent.solver.policy import MAX_CHANNEL_PRIORITY, CandidatePolicy
from tests.helpers import rec

# versions that compare equal though spelled differently ("1.0" == "1.0.0"), pre- and
# post-releases, letters, epochs and local parts
VERSIONS = ["1", "1.0", "1.0.0", "1.0a", "1.0.dev1", "1.0.post1", "1.1", "1!0.5", "2.0+local", "2.0", "10"]
BUILDS = ["0", "1", "py39_0", "py310_0", "h1_1", "h2_1", "cuda_0"]
CHANNELS = {"main": 0, "extra": 1, "dead": MAX_CHANNEL_PRIORITY}


@st.composite
def records(draw: st.DrawFn) -> list[PackageRecord]:
    out = []
    for _ in range(draw(st.integers(0, 14))):
        out.append(
            rec(
                "pkg",
                draw(st.sampled_from(VERSIONS)),
                build=draw(st.sampled_from(BUILDS)),
                build_number=draw(st.integers(0, 2)),
                channel=draw(st.sampled_from(sorted(CHANNELS))),
                subdir=draw(st.sampled_from(["linux-64", "noarch"])),
                track_features=draw(st.sampled_from(["", "mkl", "mkl debug"])),
                features=draw(st.sampled_from(["", "mkl"])),
                timestamp=draw(st.sampled_from([0, 5, 7])),
            )
        )
    return out


def channel_rank(record: PackageRecord) -> int:
    return CHANNELS[record.channel]


def reference_classic_key(policy: CandidatePolicy) -> Callable[[PackageRecord], tuple]:
    """conda's ``Resolve.version_key`` with the VersionOrder object itself in the tuple."""

    def key(record: PackageRecord) -> tuple:
        rank = policy.rank(record)
        valid = 1 if rank < MAX_CHANNEL_PRIORITY else 0
        noarch = -int(record.subdir == "noarch")
        if policy.channel_priority == "disabled":
            return (valid, record.version_order, -rank, record.build_number, noarch, record.timestamp)
        return (valid, -rank, record.version_order, record.build_number, noarch, record.timestamp)

    return key


@settings(max_examples=300, deadline=None)
@given(records(), st.sampled_from(["strict", "flexible", "disabled"]))
def test_classic_version_key_orders_and_ranks_as_versions_do(recs: list[PackageRecord], priority: str) -> None:
    policy = CandidatePolicy(priority, channel_rank)
    reference = reference_classic_key(policy)
    for a in recs:
        for b in recs:
            ka, kb = policy.classic_version_key(a), policy.classic_version_key(b)
            ra, rb = reference(a), reference(b)
            assert (ka < kb, ka == kb) == (ra < rb, ra == rb)
    got = [(id(r), ranks) for r, ranks in version_ranks(recs, policy.classic_version_key)]
    want = [(id(r), ranks) for r, ranks in version_ranks(recs, reference)]
    assert got == want


def test_equal_versions_tie_and_the_build_string_decides_in_reverse() -> None:
    policy = CandidatePolicy("strict", lambda r: 0)
    a = rec("pkg", "1.0", build="a_0")
    b = rec("pkg", "1.0.0", build="b_0")
    c = rec("pkg", "1.1", build="a_0")
    assert [r.build + r.version for r in policy.sort([a, b, c])] == ["a_01.1", "b_01.0.0", "a_01.0"]
