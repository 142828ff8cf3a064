"""Candidate order: which record of a name the solver tries first.

The search decides one package name at a time and tries its candidates in the order given here, so
the first solution it finds is already the one a user would pick by hand when nothing conflicts.
The order is documented in ``docs/solver.md``; in short, within a name:

1. higher channel priority first (unless channel priority is ``disabled``);
2. records without ``track_features`` before records with them (features are opt-in in conda);
3. higher version;
4. fewer ``features`` (a featured build such as numpy's ``_p0`` mkl builds drags in the package that
   tracks the feature; conda's "misfeature" objective ranks right after version, and so does this);
5. higher build number;
6. arch-specific before ``noarch`` (conda's tie-break);
7. newer timestamp;
8. build string, then file name, so the order is total and deterministic.

conda's classic solver ranks candidates with a similar key (``Resolve.version_key``) but turns it
into global objectives rather than a decision order; :func:`classic_version_key` reproduces that key
so the optimizer can build conda's objectives from it.
"""

from __future__ import annotations

from typing import Callable, Sequence

from solvent.errors import InvalidInput
from solvent.record import PackageRecord

CHANNEL_PRIORITIES = ("flexible", "strict", "disabled")

#: conda's cap on channel ranks; ranks at or above it count as "invalid" channels.
MAX_CHANNEL_PRIORITY = 10000


def validate_channel_priority(value: str) -> str:
    value = value.lower()
    if value not in CHANNEL_PRIORITIES:
        raise InvalidInput(f"unknown channel priority {value!r}: expected one of {', '.join(CHANNEL_PRIORITIES)}")
    return value


class CandidatePolicy:
    """Orders candidates of one name, best first, for a given channel-priority mode."""

    __slots__ = ("channel_priority", "rank")

    def __init__(self, channel_priority: str, rank: Callable[[PackageRecord], int]) -> None:
        self.channel_priority = validate_channel_priority(channel_priority)
        self.rank = rank

    def sort_key(self, record: PackageRecord) -> tuple:
        """Ascending key: the smallest key is the most preferred record."""
        vo = record.version_order
        rank = 0 if self.channel_priority == "disabled" else self.rank(record)
        return (
            rank,
            len(record.track_features),
            _Reversed(vo),
            len(record.features),
            -record.build_number,
            record.subdir == "noarch",
            -record.timestamp,
            _Reversed(record.build),
            record.fn,
        )

    def sort(self, records: Sequence[PackageRecord]) -> list[PackageRecord]:
        return sorted(records, key=self.sort_key)

    def classic_version_key(self, record: PackageRecord) -> tuple:
        """conda classic's per-record key, best last, as in ``Resolve.version_key``.

        The fields are (valid channel, channel, version, build number, arch-over-noarch, timestamp);
        with channel priority disabled conda swaps channel and version. The optimizer turns changes
        between consecutive keys into the ranks of conda's objectives.
        """
        rank = self.rank(record)
        valid = 1 if rank < MAX_CHANNEL_PRIORITY else 0
        noarch = -int(record.subdir == "noarch")
        # the version's own key orders (and equates) exactly as the version does, in C
        version = record.version_order.key
        if self.channel_priority == "disabled":
            return (valid, version, -rank, record.build_number, noarch, record.timestamp)
        return (valid, -rank, version, record.build_number, noarch, record.timestamp)


class _Reversed:
    """Wraps a comparable so that ascending sorts put the largest first."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value  # type: ignore[operator]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)
