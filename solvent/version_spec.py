"""Version constraints (``>=1.2,<2|==3``) and build-number constraints, evaluated as conda does.

Grammar: ``|`` (or) binds looser than ``,`` (and), parentheses group, whitespace around the parts
is ignored. A constraint is one of: ``*``; a regex ``^...$`` (matched against the version string
as written); an operator and a version (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``~=``, and
``=`` meaning "starts with", conda's fuzzy match); ``1.2.*`` / ``1.2*`` (starts with); a glob
with a ``*`` inside (``1.*.3``, matched against the string); or a bare version, which is an exact
match. A trailing ``.*`` is dropped after ``=``, ``==``, ``>=``, ``>``, ``<``, ``<=``, means "does
not start with" after ``!=``, and is refused after ``~=``. ``docs/versions.md`` lists every place
where solvent departs from conda (always to refuse nonsense conda silently accepts, or to fix a
``str()`` that would not parse back to the same spec).

Specs are parsed once (``parse_version_spec`` interns them) and compiled into a closure over
:attr:`VersionOrder.key`, because the solver asks the same spec about thousands of records.
"""

from __future__ import annotations

import re
from typing import Callable, Union

from solvent.errors import InvalidVersion, InvalidVersionSpec
from solvent.version import VersionOrder, parse_version, prefix_matcher

_RELATION = re.compile(r"(=|==|!=|<=|>=|<|>|~=)(?![=<>!~])(\S+)$")
_OPERATOR_START = frozenset("=<>!~")
_NEXT_STOP = re.compile(r"[()|,]")

Predicate = Callable[[VersionOrder], bool]


class _Leaf:
    __slots__ = ("exact", "key", "op", "pred", "text")

    def __init__(self, text: str, pred: Predicate, exact: bool = False, op: str = "", key: tuple = ()) -> None:
        self.text = text  # canonical text of this constraint
        self.pred = pred
        self.exact = exact
        self.op = op  # a plain comparison operator when ``key`` is its target, else ""
        self.key = key


class _Group:
    __slots__ = ("children", "op")

    def __init__(self, op: str, children: list[Node]) -> None:
        self.op = op
        self.children = children


Node = Union[_Leaf, _Group]


def _error(spec: str, reason: str, position: int) -> InvalidVersionSpec:
    return InvalidVersionSpec(f"invalid version spec {spec!r}: {reason} at position {position}")


def _version(text: str, spec: str, position: int) -> VersionOrder:
    """Parse the version inside a constraint, reporting failures in terms of the whole spec."""
    try:
        return parse_version(text)
    except InvalidVersion as exc:
        reason = getattr(exc, "reason", "invalid version")
        raise _error(spec, f"{reason} in version {text!r}", position + getattr(exc, "position", 0)) from None


def _compare(op: str, key: tuple) -> Predicate:
    if op == "==":
        return lambda vo: vo.key == key
    if op == "!=":
        return lambda vo: vo.key != key
    if op == "<":
        return lambda vo: vo.key < key
    if op == "<=":
        return lambda vo: vo.key <= key
    if op == ">":
        return lambda vo: vo.key > key
    return lambda vo: vo.key >= key


def _string_regex(rx: re.Pattern[str]) -> Predicate:
    match = rx.match
    return lambda vo: match(vo.original) is not None


def _operator_leaf(text: str, spec: str, pos: int) -> _Leaf:
    m = _RELATION.match(text)
    if m is None:
        raise _error(spec, f"invalid operator in {text!r}", pos)
    op, vstr = m.groups()
    vpos = pos + len(op)
    if vstr.endswith(".*"):
        if op == "~=":
            raise _error(spec, f"'.*' cannot follow '~=' in {text!r}", pos)
        vstr = vstr[:-2]
        if op == "!=":
            target = _version(vstr, spec, vpos)
            starts = prefix_matcher(target)
            return _Leaf(text, lambda vo: not starts(vo))
        # after '=' the '.*' is redundant; after the ordering operators conda ignores it
    target = _version(vstr, spec, vpos)
    if op == "=":
        return _Leaf(text, prefix_matcher(target))
    if op == "~=":
        parts = target.norm.split(".")
        if len(parts) < 2:
            raise _error(spec, f"'~=' needs a version with at least two components in {text!r}", pos)
        starts = prefix_matcher(_version(".".join(parts[:-1]), spec, vpos))
        key = target.key
        return _Leaf(text, lambda vo: vo.key >= key and starts(vo))
    return _Leaf(text, _compare(op, target.key), exact=op == "==", op=op, key=target.key)


def _leaf(text: str, spec: str, pos: int) -> _Leaf:
    """Compile one constraint: ``text`` has no ``|``, ``,`` or parentheses and starts at ``pos``."""
    if text[0] == "^" or text[-1] == "$":
        if text[0] != "^" or text[-1] != "$":
            raise _error(spec, f"regex specs must start with '^' and end with '$', got {text!r}", pos)
        try:
            rx = re.compile(text)
        except re.error as exc:
            raise _error(spec, f"bad regular expression {text!r} ({exc})", pos) from None
        return _Leaf(text, _string_regex(rx))
    if text[0] in _OPERATOR_START:
        return _operator_leaf(text, spec, pos)
    if text == "*":
        return _Leaf(text, lambda vo: True)
    if "*" in text.rstrip("*"):
        body = text.replace(".", r"\.").replace("+", r"\+").replace("*", ".*")
        return _Leaf(text, _string_regex(re.compile(rf"^(?:{body})$")))
    if text[-1] == "*":
        if not text.endswith(".*"):
            text = text[:-1] + ".*"
        return _Leaf(text, prefix_matcher(_version(text.rstrip("*").rstrip("."), spec, pos)))
    if "@" in text:
        # conda compares such a spec to the version string verbatim; no valid version has an '@'
        return _Leaf(text, lambda vo: vo.original == text, exact=True)
    target = _version(text, spec, pos)
    return _Leaf(text, _compare("==", target.key), exact=True, op="==", key=target.key)


class _Parser:
    """Recursive descent over the spec, keeping positions for the error messages."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.pos = 0
        self.n = len(spec)
        self.depth = 0

    def _skip(self) -> None:
        spec, pos, n = self.spec, self.pos, self.n
        while pos < n and spec[pos].isspace():
            pos += 1
        self.pos = pos

    def _peek(self) -> str:
        self._skip()
        return self.spec[self.pos] if self.pos < self.n else ""

    def parse(self) -> Node:
        node = self._or()
        ch = self._peek()
        if ch == ")":
            raise _error(self.spec, "unbalanced ')'", self.pos)
        if ch:
            raise _error(self.spec, f"expected ',' or '|' before {ch!r}", self.pos)
        return node

    def _or(self) -> Node:
        children = [self._and()]
        while self._peek() == "|":
            self.pos += 1
            children.append(self._and())
        return _fuse("|", children)

    def _and(self) -> Node:
        children = [self._atom()]
        while self._peek() == ",":
            self.pos += 1
            children.append(self._atom())
        return _fuse(",", children)

    def _atom(self) -> Node:
        spec = self.spec
        if self._peek() == "(":
            start = self.pos
            self.pos += 1
            self.depth += 1
            node = self._or()
            if self._peek() != ")":
                raise _error(spec, "unbalanced '('", start)
            self.pos += 1
            self.depth -= 1
            return node
        start = self.pos
        end = -1
        if start < self.n and spec[start] == "^":
            end = spec.find("$", start)  # a regex runs to its first '$', whatever it holds
        if end >= 0:
            self.pos = end + 1
        else:
            m = _NEXT_STOP.search(spec, start)
            self.pos = m.start() if m else self.n
        text = spec[start : self.pos].rstrip()
        if not text:
            if self.depth == 0 and start < self.n and spec[start] == ")":
                raise _error(spec, "unbalanced ')'", start)
            raise _error(spec, "empty version constraint", start)
        return _leaf(text, spec, start)


def _fuse(op: str, children: list[Node]) -> Node:
    """One n-ary group, flattening same-operator subgroups: ``(a|b)|c`` is ``a|b|c``."""
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        if isinstance(child, _Group) and child.op == op:
            flat.extend(child.children)
        else:
            flat.append(child)
    return _Group(op, flat)


def _render(node: Node) -> str:
    """Canonical text: conda's, but with the parentheses an ``|`` inside a ``,`` needs."""
    if isinstance(node, _Leaf):
        return node.text
    if node.op == "|":
        return "|".join(_render(c) for c in node.children)
    return ",".join(f"({_render(c)})" if isinstance(c, _Group) else _render(c) for c in node.children)


def _compile(node: Node) -> Predicate:
    if isinstance(node, _Leaf):
        return node.pred
    if node.op == ",":
        lows = [c for c in node.children if isinstance(c, _Leaf) and c.op in (">", ">=")]
        highs = [c for c in node.children if isinstance(c, _Leaf) and c.op in ("<", "<=")]
        if len(node.children) == 2 and len(lows) == 1 and len(highs) == 1:
            return _range(lows[0], highs[0])  # the common ">=1.2,<2": one chained comparison
    preds = [_compile(c) for c in node.children]
    if len(preds) == 2:
        a, b = preds
        return (lambda vo: a(vo) or b(vo)) if node.op == "|" else (lambda vo: a(vo) and b(vo))
    if node.op == "|":
        return lambda vo: any(p(vo) for p in preds)
    return lambda vo: all(p(vo) for p in preds)


def _range(low: _Leaf, high: _Leaf) -> Predicate:
    lo, hi = low.key, high.key
    if low.op == ">=":
        return (lambda vo: lo <= vo.key < hi) if high.op == "<" else (lambda vo: lo <= vo.key <= hi)
    return (lambda vo: lo < vo.key < hi) if high.op == "<" else (lambda vo: lo < vo.key <= hi)


class VersionSpec:
    """A version constraint; ``match()`` takes a version string or a :class:`VersionOrder`.

    ``str()`` is the canonical form and ``==``/``hash`` go by it, so ``1.2*`` equals ``1.2.*``.
    """

    __slots__ = ("_exact", "_pred", "spec")
    spec: str
    _pred: Predicate
    _exact: bool

    def __init__(self, spec: str | VersionSpec) -> None:
        if isinstance(spec, VersionSpec):
            self.spec, self._pred, self._exact = spec.spec, spec._pred, spec._exact
            return
        if not isinstance(spec, str):
            raise TypeError(f"a version spec must be a string, not {type(spec).__name__}: {spec!r}")
        node = _Parser(spec).parse()
        self.spec = _render(node)
        self._pred = _compile(node)
        self._exact = isinstance(node, _Leaf) and node.exact

    def match(self, version: str | VersionOrder) -> bool:
        if version.__class__ is not VersionOrder:
            version = parse_version(version)
        return self._pred(version)

    def is_exact(self) -> bool:
        """True when at most one version can match (``==1.2``, a bare ``1.2``)."""
        return self._exact

    @property
    def exact_value(self) -> str | None:
        """The version an exact spec pins, else ``None``."""
        if not self._exact:
            return None
        return self.spec[2:] if self.spec.startswith("==") else self.spec

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"VersionSpec({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionSpec):
            return NotImplemented
        return self.spec == other.spec

    def __hash__(self) -> int:
        return hash(("VersionSpec", self.spec))

    def __reduce__(self) -> tuple:
        return (parse_version_spec, (self.spec,))


_CACHE: dict[str, VersionSpec] = {}
_CACHE_LIMIT = 200_000


def parse_version_spec(spec: str | VersionSpec) -> VersionSpec:
    """The interning constructor: one compiled :class:`VersionSpec` per distinct string."""
    if isinstance(spec, VersionSpec):
        return spec
    found = _CACHE.get(spec)
    if found is None:
        found = VersionSpec(spec)
        if len(_CACHE) < _CACHE_LIMIT:
            _CACHE[spec] = found
    return found


_INT_OPS: dict[str, Callable[[int, int], bool]] = {
    "==": int.__eq__,
    "=": int.__eq__,
    "!=": int.__ne__,
    "<": int.__lt__,
    "<=": int.__le__,
    ">": int.__gt__,
    ">=": int.__ge__,
}


class BuildNumberSpec:
    """A build-number constraint: ``3``, ``==3``, ``>=3``, ``<3``, ``!=3``, ``*`` or ``^regex$``.

    conda compares build numbers as versions; for the digit strings build numbers are, that is
    integer comparison, which is what this does. A non-integer operand (``>=1.5``) keeps conda's
    version comparison; a regex is matched against the decimal string of the number.
    """

    __slots__ = ("_exact", "_pred", "spec")

    def __init__(self, spec: str | int) -> None:
        if isinstance(spec, bool) or not isinstance(spec, (str, int)):
            raise TypeError(f"a build number spec must be a string or an int, not {type(spec).__name__}")
        text = str(spec).strip()
        self._exact = False
        pred: Callable[[int], bool]
        if text.isdigit():
            value = int(text)
            text = str(value)
            self._exact = True
            pred = lambda n: n == value  # noqa: E731
        elif text == "*":
            pred = lambda n: True  # noqa: E731
        elif text[:1] in _OPERATOR_START:
            m = _RELATION.match(text)
            if m is None or m.group(1) == "~=":
                raise _build_error(spec, f"invalid operator in {text!r}")
            op, operand = m.groups()
            self._exact = op == "==" and operand.isdigit()
            if operand.isdigit():
                pred = _int_compare(_INT_OPS[op], int(operand))
            else:
                try:
                    vspec = VersionSpec(text if op != "=" else "==" + operand)
                except InvalidVersionSpec as exc:
                    raise _build_error(spec, str(exc).split(": ", 1)[-1]) from None
                pred = lambda n: vspec.match(str(n))  # noqa: E731
        elif text[:1] == "^" and text[-1:] == "$" and len(text) > 1:
            try:
                rx = re.compile(text)
            except re.error as exc:
                raise _build_error(spec, f"bad regular expression ({exc})") from None
            pred = lambda n: rx.match(str(n)) is not None  # noqa: E731
        else:
            raise _build_error(spec, "expected a number, '*', '^regex$' or an operator and a number")
        self.spec = text
        self._pred = pred

    def match(self, build_number: int) -> bool:
        return self._pred(build_number)

    def is_exact(self) -> bool:
        return self._exact

    @property
    def exact_value(self) -> int | None:
        """The build number an exact spec pins, else ``None``."""
        if not self._exact:
            return None
        return int(self.spec.lstrip("="))

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"BuildNumberSpec({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BuildNumberSpec):
            return NotImplemented
        return self.spec == other.spec

    def __hash__(self) -> int:
        return hash(("BuildNumberSpec", self.spec))


def _int_compare(op: Callable[[int, int], bool], value: int) -> Callable[[int], bool]:
    return lambda n: op(n, value)


def _build_error(spec: object, reason: str) -> InvalidVersionSpec:
    return InvalidVersionSpec(f"invalid build number spec {spec!r}: {reason}")
