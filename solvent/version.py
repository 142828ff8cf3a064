"""conda's version ordering (CEP-33, as conda/models/version.py behaves).

A version string is split into an epoch (``1!``), the version proper and an optional local part
(``+abc``). Each of these is a list of *components* separated by ``.`` (``_`` and, when the string
has no underscore, ``-`` count as ``.``); each component is a run of *elements*, alternately
numbers and strings (``1rc2`` is ``[1, "rc", 2]``; a component that starts with a string gets a
leading ``0``). Elements compare numbers numerically, strings lexicographically, and every string
below every number; ``post`` is above every number and ``dev`` below every other string. Missing
elements and components count as ``0``, so ``1.1 == 1.1.0``.

Comparisons are the solver's hot path (thousands of records are sorted per name), so each
version computes, once, a plain tuple key whose native ordering is exactly conda's padded
comparison. The trick: with zero padding, what decides between a sequence and the zeros that pad
a shorter one is the first non-zero element; so each non-zero element is encoded together with
the count of zeros before it, positive elements (above zero) and negative ones (strings, below
zero) in separate bands, and an end marker sits between the bands. ``tests/test_version.py``
proves the key equivalent to a direct padded comparison.
"""

from __future__ import annotations

import re
from typing import Any, Union

from solvent.errors import InvalidVersion

Element = Union[int, float, str]
Component = list[Element]

_VALID = re.compile(r"^[*.+!_0-9a-z]+$")
_SPLIT = re.compile(r"([0-9]+|[*]+|[^0-9*]+)")
_INF = float("inf")
_END = (1,)


def _element(token: str) -> Element:
    if token.isdigit():
        return int(token)
    if token == "post":
        return _INF
    if token == "dev":
        return "DEV"  # upper case sorts below every other (lower-case) string, above '*'
    return token


def _parse_components(parts: list[str], original: str) -> list[Component]:
    out: list[Component] = []
    for part in parts:
        tokens = _SPLIT.findall(part)
        if not tokens:
            raise InvalidVersion(f"invalid version {original!r}: empty version component")
        elements = [_element(t) for t in tokens]
        if not part[0].isdigit():
            elements.insert(0, 0)  # keep numbers and strings in phase
        out.append(elements)
    return out


def _element_key(e: Element) -> tuple:
    return (0, e) if isinstance(e, str) else (1, e)


def _is_zero(e: Element) -> bool:
    return not isinstance(e, str) and e == 0


def _padded_key(items: list[Any], is_zero: Any, sign: Any, key: Any) -> tuple:
    """A tuple key comparing like ``items`` padded with zeros (see the module docstring)."""
    n = len(items)
    while n and is_zero(items[n - 1]):
        n -= 1
    out: list[tuple] = []
    zeros = 0
    for item in items[:n]:
        if is_zero(item):
            zeros += 1
            continue
        out.append((2, -zeros, key(item)) if sign(item) > 0 else (0, zeros, key(item)))
        zeros = 0
    out.append(_END)
    return tuple(out)


def _component_key(c: Component) -> tuple:
    return _padded_key(c, _is_zero, lambda e: -1 if isinstance(e, str) else 1, _element_key)


def _component_is_zero(c: Component) -> bool:
    return all(_is_zero(e) for e in c)


def _component_sign(c: Component) -> int:
    for e in c:
        if not _is_zero(e):
            return -1 if isinstance(e, str) else 1
    return 0


def _sequence_key(components: list[Component]) -> tuple:
    return _padded_key(components, _component_is_zero, _component_sign, _component_key)


class VersionOrder:
    """A conda version, totally ordered and hashable; ``str()`` is the string as given."""

    __slots__ = ("_key", "epoch", "local", "norm", "original", "version")

    def __init__(self, vstr: str) -> None:
        if not isinstance(vstr, str):
            vstr = str(vstr)
        original = vstr.strip()
        version = original.lower()
        if not version:
            raise InvalidVersion(f"invalid version {vstr!r}: empty version string")
        if not _VALID.match(version) and "-" in version and "_" not in version:
            version = version.replace("-", "_")  # dashes are allowed when there are no underscores
        if not _VALID.match(version):
            bad = sorted({ch for ch in version if not _VALID.match(ch)})
            raise InvalidVersion(f"invalid version {vstr!r}: invalid character(s) {''.join(bad)!r}")
        self.original = original
        self.norm = version
        parts = version.split("!")
        if len(parts) == 1:
            epoch = "0"
        elif len(parts) == 2:
            epoch = parts[0]
            if not epoch.isdigit():
                raise InvalidVersion(f"invalid version {vstr!r}: epoch must be an integer")
        else:
            raise InvalidVersion(f"invalid version {vstr!r}: duplicated epoch separator '!'")
        pieces = parts[-1].split("+")
        if len(pieces) > 2:
            raise InvalidVersion(f"invalid version {vstr!r}: duplicated local version separator '+'")
        main = pieces[0]
        if not main:
            raise InvalidVersion(f"invalid version {vstr!r}: missing version before local version separator '+'")
        local_parts = pieces[1].replace("_", ".").split(".") if len(pieces) == 2 else []
        if main.endswith("_"):
            # openssl-style "1.0.1_": a single trailing underscore stays part of the last component
            main_parts = main[:-1].replace("_", ".").split(".")
            main_parts[-1] += "_"
        else:
            main_parts = main.replace("_", ".").split(".")
        self.epoch = int(epoch)
        self.version = _parse_components([epoch, *main_parts], vstr)
        self.local = _parse_components(local_parts, vstr)
        self._key = (_sequence_key(self.version), _sequence_key(self.local))

    # -- ordering ----------------------------------------------------------------------------
    @property
    def key(self) -> tuple:
        """A plain tuple ordering exactly like the version (for ``sorted(key=...)``)."""
        return self._key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionOrder):
            return NotImplemented
        return self._key == other._key

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, VersionOrder):
            return NotImplemented
        return self._key != other._key

    def __lt__(self, other: VersionOrder) -> bool:
        return self._key < other._key

    def __le__(self, other: VersionOrder) -> bool:
        return self._key <= other._key

    def __gt__(self, other: VersionOrder) -> bool:
        return self._key > other._key

    def __ge__(self, other: VersionOrder) -> bool:
        return self._key >= other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self.original

    def __repr__(self) -> str:
        return f"VersionOrder({self.original!r})"

    def __reduce__(self) -> tuple:
        return (parse_version, (self.original,))

    # -- prefix matching ---------------------------------------------------------------------
    def startswith(self, other: VersionOrder) -> bool:
        """conda's fuzzy match: does this version begin with ``other`` (``1.2.*`` semantics)?

        Components before ``other``'s last must be equal (with zero padding); in the last one,
        elements before the last must be equal and a final string element is a prefix match.
        """
        if other.local:
            if _sequence_key(self.version) != _sequence_key(other.version):
                return False
            mine, theirs = self.local, other.local
        else:
            mine, theirs = self.version, other.version
        nt = len(theirs) - 1
        if _sequence_key(mine[:nt]) != _sequence_key(theirs[:nt]):
            return False
        last_mine: Component = mine[nt] if len(mine) > nt else []
        last_theirs = theirs[nt]
        ne = len(last_theirs) - 1
        if _component_key(last_mine[:ne]) != _component_key(last_theirs[:ne]):
            return False
        mine_e: Element = last_mine[ne] if len(last_mine) > ne else 0
        theirs_e = last_theirs[ne]
        if isinstance(theirs_e, str):
            return isinstance(mine_e, str) and mine_e.startswith(theirs_e)
        return not isinstance(mine_e, str) and mine_e == theirs_e


_CACHE: dict[str, VersionOrder] = {}


def parse_version(vstr: str) -> VersionOrder:
    """The cached constructor: each distinct string is parsed once per process."""
    found = _CACHE.get(vstr)
    if found is None:
        found = VersionOrder(vstr)
        if len(_CACHE) < 1_000_000:
            _CACHE[vstr] = found
    return found
