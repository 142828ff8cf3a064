"""String matchers for MatchSpec fields: exact, glob (``*``) and regex (``^...$``).

conda matches names, builds, channels and licenses with the same three forms; compiling each
pattern once keeps ``MatchSpec.match`` cheap on the loading hot path.
"""

from __future__ import annotations

import re
from typing import Callable

from solvent.errors import InvalidMatchSpec


class StrMatch:
    """An exact, glob or regex pattern over a string field."""

    __slots__ = ("_match", "lower", "value")

    def __init__(self, value: str, *, lower: bool = False) -> None:
        self.value = value.lower() if lower else value
        self.lower = lower
        self._match: Callable[[str], object] | None = None
        text = self.value
        try:
            if text.startswith("^") and text.endswith("$"):
                self._match = re.compile(text).match
            elif "*" in text:
                self._match = re.compile(rf"^(?:{re.escape(text).replace(chr(92) + '*', '.*')})$").match
        except re.error as exc:
            raise InvalidMatchSpec(f"invalid pattern {value!r}: {exc}") from None

    def match(self, other: str) -> bool:
        if self.lower:
            other = other.lower()
        if self._match is None:
            return other == self.value
        return self._match(other) is not None

    @property
    def exact_value(self) -> str | None:
        return self.value if self._match is None else None

    @property
    def matches_all(self) -> bool:
        return self.value == "*"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"StrMatch({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StrMatch) and self.value == other.value and self.lower == other.lower

    def __hash__(self) -> int:
        return hash((self.value, self.lower))


def split_features(value: object) -> frozenset[str]:
    """Features and track_features are space- or comma-separated strings or lists."""
    if not value:
        return frozenset()
    if isinstance(value, str):
        return frozenset(f for f in value.replace(",", " ").split() if f)
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(str(f).strip() for f in value if str(f).strip())
    return frozenset({str(value)})


class FeatureMatch:
    """A set of features; a record matches when its set is exactly this one (conda's rule)."""

    __slots__ = ("features",)

    def __init__(self, value: object) -> None:
        self.features = split_features(value)

    def match(self, other: object) -> bool:
        return split_features(other) == self.features

    @property
    def exact_value(self) -> frozenset[str]:
        return self.features

    def __str__(self) -> str:
        return " ".join(sorted(self.features))

    def __repr__(self) -> str:
        return f"FeatureMatch({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeatureMatch) and self.features == other.features

    def __hash__(self) -> int:
        return hash(self.features)
