"""conda's version ordering, exactly as ``conda.models.version.VersionOrder`` behaves.

A version is an optional epoch (``1!``), the version proper and an optional local part
(``+abc``). The version proper and the local part are lists of *components* split at ``.`` and
``_`` (``-`` counts as ``_`` when the string has no ``_``); each component is a run of
*elements*, numbers and strings alternating (``1rc2`` is ``(1, "rc", 2)``), with a ``0`` put in
front of a component that starts with a letter so that numbers stay in phase. ``post`` becomes
``inf`` (above every number) and ``dev`` becomes ``"DEV"`` (below every other string, because
everything else is lower case). Strings sort below numbers; a missing element or component
counts as ``0``, hence ``1.1 == 1.1.0``. The epoch is kept as the first component, as conda does.

Comparisons are the solver's hot path, so each version computes once a plain tuple ``key`` whose
native tuple order is conda's zero-padded comparison and whose equality is conda's equality (so
``hash(key)`` agrees with ``==``). How the key absorbs the padding: against an implicit run of
zeros, the first element that is not zero decides, and it decides by its sign alone (a number is
above zero, a string below). So each non-zero element is stored with the number of zeros in front
of it, in one of two bands (``0`` for strings, ``2`` for positive numbers), trailing zeros are
dropped, and an end marker ``(1,)`` sits between the bands. The same encoding is applied one level
up to the list of components, a component's "sign" being the sign of its first non-zero element.
``tests/test_version.py`` checks the key against a direct transcription of conda's padded loop.
"""

from __future__ import annotations

import re
from typing import Callable, Union

from solvent.errors import InvalidVersion

Element = Union[int, float, str]
Component = tuple[Element, ...]
Key = tuple

_DISALLOWED = re.compile(r"[^*.+!_0-9a-z]")
_RUNS = re.compile(r"[0-9]+|\*+|[^0-9*]+")
_INF = float("inf")
_END: tuple = (1,)
_ZERO_COMPONENT_KEY: Key = (_END,)
# "1.26.4": no epoch, letters, separators but dots, or local part (most versions in repodata)
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)*")


class _VersionSyntaxError(InvalidVersion):
    """An :class:`InvalidVersion` that also says why and where, so a spec parser can re-anchor it."""

    def __init__(self, vstr: str, reason: str, position: int) -> None:
        super().__init__(f"invalid version {vstr!r}: {reason} at position {position}")
        self.reason = reason
        self.position = position


def _element(run: str) -> Element:
    if run.isdigit():
        return int(run)
    if run == "post":
        return _INF
    if run == "dev":
        return "DEV"
    return run


def _component(text: str) -> Component:
    elements = [_element(run) for run in _RUNS.findall(text)]
    if not text[0].isdigit():
        elements.insert(0, 0)
    return tuple(elements)


def component_key(elements: Component) -> Key:
    """The padded-order key of one component (see the module docstring)."""
    n = len(elements)
    while n and elements[n - 1] == 0:
        n -= 1
    out: list[tuple] = []
    zeros = 0
    for i in range(n):
        e = elements[i]
        if e == 0:
            zeros += 1
        elif e.__class__ is str:
            out.append((0, zeros, e))
            zeros = 0
        else:
            out.append((2, -zeros, e))
            zeros = 0
    out.append(_END)
    return tuple(out)


def _sequence_key(ckeys: tuple[Key, ...]) -> Key:
    """The padded-order key of a list of components, given each component's key."""
    n = len(ckeys)
    while n and ckeys[n - 1] == _ZERO_COMPONENT_KEY:
        n -= 1
    out: list[tuple] = []
    zeros = 0
    for i in range(n):
        ck = ckeys[i]
        band = ck[0][0]  # 0: first non-zero element is a string, 2: a number, 1: all zeros
        if band == 1:
            zeros += 1
        elif band == 0:
            out.append((0, zeros, ck))
            zeros = 0
        else:
            out.append((2, -zeros, ck))
            zeros = 0
    out.append(_END)
    return tuple(out)


def _split_components(text: str, start: int, vstr: str, keep_trailing_underscore: bool) -> list[Component]:
    """Split at ``.``/``_``; ``start`` is where ``text`` begins in ``vstr`` (for error positions)."""
    trailing = keep_trailing_underscore and text.endswith("_")
    body = text[:-1] if trailing else text
    pieces = body.replace("_", ".").split(".")
    if trailing:
        pieces[-1] += "_"  # openssl-style "1.0.1_": the underscore belongs to the last component
    out: list[Component] = []
    pos = start
    for piece in pieces:
        if not piece:
            raise _VersionSyntaxError(vstr, "empty version component", pos)
        out.append(_component(piece))
        pos += len(piece) + 1
    return out


class VersionOrder:
    """A conda version: totally ordered, hashable, and ``str()`` gives back the string as given.

    Attributes: ``original`` (the given string), ``norm`` (stripped, lower case, ``-`` turned
    into ``_`` where conda does so), ``epoch`` (int), ``version`` (conda's parsed components, the
    epoch first), ``local`` (the parsed local part, empty without ``+``) and ``key`` (a tuple whose
    order and equality are this version's; use it directly in ``sorted(..., key=...)``).
    """

    __slots__ = ("_lkeys", "_vkeys", "epoch", "key", "local", "norm", "original", "version")
    original: str
    norm: str
    epoch: int
    version: tuple[Component, ...]
    local: tuple[Component, ...]
    _vkeys: tuple[Key, ...]
    _lkeys: tuple[Key, ...]
    key: Key

    def __init__(self, vstr: str) -> None:
        if not isinstance(vstr, str):
            raise TypeError(f"a version must be a string, not {type(vstr).__name__}: {vstr!r}")
        if _PLAIN.fullmatch(vstr) is not None:
            # The common shape, parsed without the general path's checks and runs: a cold solve
            # parses a few thousand versions, and this was most of their cost. Same fields.
            numbers = [int(piece) for piece in vstr.split(".")]
            ckeys = [((2, 0, n), _END) if n else _ZERO_COMPONENT_KEY for n in numbers]
            ckeys.insert(0, _ZERO_COMPONENT_KEY)  # the epoch
            self.original = self.norm = vstr
            self.epoch = 0
            self.version = ((0,), *[(n,) for n in numbers])
            self.local = ()
            self._vkeys = vkeys = tuple(ckeys)
            self._lkeys = ()
            self.key = (_sequence_key(vkeys), _ZERO_COMPONENT_KEY)
            return
        stripped = vstr.strip()
        lead = len(vstr) - len(vstr.lstrip())
        if not stripped:
            raise _VersionSyntaxError(vstr, "empty version string", lead)
        norm = stripped.lower()
        if "-" in norm and "_" not in norm:
            norm = norm.replace("-", "_")  # dashes are allowed when there are no underscores
        bad = _DISALLOWED.search(norm)
        if bad is not None:
            i = bad.start()
            ch = norm[i]
            what = "'-' together with '_'" if ch == "-" else f"invalid character {stripped[i]!r}"
            raise _VersionSyntaxError(vstr, what, lead + i)
        epoch_text, bang, rest = norm.partition("!")
        if not bang:
            epoch_text, rest, offset = "0", norm, 0
        else:
            offset = len(epoch_text) + 1
            second = rest.find("!")
            if second >= 0:
                raise _VersionSyntaxError(vstr, "duplicated epoch separator '!'", lead + offset + second)
            if not epoch_text.isdigit():
                raise _VersionSyntaxError(vstr, "epoch must be an integer", lead)
        main, plus, local_text = rest.partition("+")
        if plus:
            second = local_text.find("+")
            if second >= 0:
                where = lead + offset + len(main) + 1 + second
                raise _VersionSyntaxError(vstr, "duplicated local version separator '+'", where)
        if not main:
            reason = "missing version before local version separator '+'" if plus else "missing version after epoch"
            raise _VersionSyntaxError(vstr, reason, lead + offset)
        version = [(int(epoch_text),), *_split_components(main, lead + offset, vstr, True)]
        local = _split_components(local_text, lead + offset + len(main) + 1, vstr, False) if plus else []
        self.original = vstr
        self.norm = norm
        self.epoch = int(epoch_text)
        self.version = tuple(version)
        self.local = tuple(local)
        self._vkeys = tuple(component_key(c) for c in version)
        self._lkeys = tuple(component_key(c) for c in local)
        self.key = (_sequence_key(self._vkeys), _sequence_key(self._lkeys))

    # -- ordering: everything goes through the precomputed key -------------------------------
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not VersionOrder:
            return NotImplemented
        return self.key == other.key

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not VersionOrder:
            return NotImplemented
        return self.key != other.key

    def __lt__(self, other: VersionOrder) -> bool:
        try:
            return self.key < other.key
        except AttributeError:
            return NotImplemented

    def __le__(self, other: VersionOrder) -> bool:
        try:
            return self.key <= other.key
        except AttributeError:
            return NotImplemented

    def __gt__(self, other: VersionOrder) -> bool:
        try:
            return self.key > other.key
        except AttributeError:
            return NotImplemented

    def __ge__(self, other: VersionOrder) -> bool:
        try:
            return self.key >= other.key
        except AttributeError:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.original

    def __repr__(self) -> str:
        return f"VersionOrder({self.original!r})"

    def __reduce__(self) -> tuple:
        return (parse_version, (self.original,))

    # -- conda's fuzzy "starts with" -----------------------------------------------------------
    def startswith(self, other: VersionOrder) -> bool:
        """Does this version begin with ``other`` the way conda's ``1.2.*`` means it?"""
        return prefix_matcher(other)(self)


def prefix_matcher(prefix: VersionOrder) -> Callable[[VersionOrder], bool]:
    """A predicate ``v -> v.startswith(prefix)``, with everything about ``prefix`` precomputed.

    conda's rule: all components of ``prefix`` but the last must equal the version's (zero
    padded); in the last one, all elements but the last must be equal, and the last element must
    be equal if it is a number or a string prefix of the version's element if it is a string.
    When ``prefix`` has a local part, the version proper must be equal and the rule applies to the
    local parts instead.
    """
    use_local = bool(prefix.local)
    theirs = prefix.local if use_local else prefix.version
    theirs_keys = prefix._lkeys if use_local else prefix._vkeys
    main_key = prefix.key[0]
    nt = len(theirs) - 1
    head = theirs_keys[:nt]
    last = theirs[nt]
    ne = len(last) - 1
    last_head_key = component_key(last[:ne])
    target = last[ne]
    target_is_str = isinstance(target, str)
    target_text = target if isinstance(target, str) else ""

    def match(v: VersionOrder) -> bool:
        if use_local:
            if v.key[0] != main_key:
                return False
            mine, mine_keys = v.local, v._lkeys
        else:
            mine, mine_keys = v.version, v._vkeys
        if len(mine_keys) >= nt:
            if mine_keys[:nt] != head:
                return False
        elif mine_keys + (_ZERO_COMPONENT_KEY,) * (nt - len(mine_keys)) != head:
            return False
        comp = mine[nt] if len(mine) > nt else ()
        if ne and component_key(comp[:ne]) != last_head_key:
            return False
        e: Element = comp[ne] if len(comp) > ne else 0
        if isinstance(e, str):
            return target_is_str and e.startswith(target_text)
        return not target_is_str and e == target

    return match


_CACHE: dict[str, VersionOrder] = {}
_CACHE_LIMIT = 1_000_000


def parse_version(vstr: str | VersionOrder) -> VersionOrder:
    """The interning constructor: one :class:`VersionOrder` per distinct string, parsed once."""
    found = _CACHE.get(vstr)  # type: ignore[arg-type]
    if found is None:
        if isinstance(vstr, VersionOrder):
            return vstr
        found = VersionOrder(vstr)
        if len(_CACHE) < _CACHE_LIMIT:
            _CACHE[vstr] = found
    return found
