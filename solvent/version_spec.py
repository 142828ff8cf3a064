"""Version constraints (``>=1.2,<2|==3``) and build-number constraints, as conda evaluates them.

Grammar (conda's, which CEP-29 describes): ``|`` (or) binds looser than ``,`` (and); parentheses
group; a leaf is ``*``, a regex ``^...$``, an operator and a version (``==``, ``!=``, ``<``,
``<=``, ``>``, ``>=``, ``~=``, and ``=`` for "starts with"), a glob (``1.2.*``, ``1.*.3``) or a bare
version, which is an exact match. Trailing ``.*`` after ``=`` / ``>=`` is dropped, after ``!=``
means "does not start with", is rejected after ``~=`` and ignored after the other operators (conda
warns that it is deprecated).

Each spec is compiled once into a predicate over :class:`~solvent.version.VersionOrder` keys, so
matching a record costs a tuple comparison.
"""

from __future__ import annotations

import re
from typing import Callable, Union

from solvent.errors import InvalidVersion, InvalidVersionSpec
from solvent.version import VersionOrder, parse_version

_RELATION = re.compile(r"^(=|==|!=|<=|>=|<|>|~=)(?![=<>!~])(\S+)$")
_NEEDS_TREE = re.compile(r".*[()|,^$]")
_OPERATOR_START = frozenset("=<>!~")

Predicate = Callable[[VersionOrder], bool]
Node = Union["_Leaf", "_Group"]


class _Leaf:
    __slots__ = ("exact", "pred", "text")

    def __init__(self, text: str, pred: Predicate, exact: bool) -> None:
        self.text = text
        self.pred = pred
        self.exact = exact


class _Group:
    __slots__ = ("children", "op")

    def __init__(self, op: str, children: list[Node]) -> None:
        self.op = op
        self.children = children


def _error(spec: str, message: str, position: int | None = None) -> InvalidVersionSpec:
    where = f" at position {position}" if position is not None else ""
    return InvalidVersionSpec(f"invalid version spec {spec!r}: {message}{where}")


def _version(text: str, spec: str, position: int) -> VersionOrder:
    try:
        return parse_version(text)
    except InvalidVersion as exc:
        detail = str(exc).split(": ", 1)[-1]
        raise _error(spec, f"{detail} in {text!r}", position) from None


def _compatible(vo: VersionOrder, base: VersionOrder, prefix: VersionOrder) -> bool:
    return vo >= base and vo.startswith(prefix)


def _leaf(text: str, spec: str, position: int) -> _Leaf:
    """Compile one constraint (no ``|``, ``,`` or parentheses)."""
    if text.startswith("^") or text.endswith("$"):
        if not (text.startswith("^") and text.endswith("$")):
            raise _error(spec, "regex specs must start with '^' and end with '$'", position)
        try:
            rx = re.compile(text)
        except re.error as exc:
            raise _error(spec, f"bad regular expression ({exc})", position) from None
        return _Leaf(text, lambda vo: rx.match(vo.original) is not None, False)
    if text[0] in _OPERATOR_START:
        m = _RELATION.match(text)
        if m is None:
            raise _error(spec, f"invalid operator in {text!r}", position)
        op, vstr = m.groups()
        if vstr.endswith(".*"):
            if op == "~=":
                raise _error(spec, f"'.*' cannot follow '~=' in {text!r}", position)
            if op == "!=":
                op = "!=startswith"
            vstr = vstr[:-2]
        target = _version(vstr, spec, position + len(m.group(1)))
        key = target.key
        pred: Predicate
        if op == "==":
            pred = lambda vo: vo.key == key  # noqa: E731
        elif op == "!=":
            pred = lambda vo: vo.key != key  # noqa: E731
        elif op == "<":
            pred = lambda vo: vo.key < key  # noqa: E731
        elif op == "<=":
            pred = lambda vo: vo.key <= key  # noqa: E731
        elif op == ">":
            pred = lambda vo: vo.key > key  # noqa: E731
        elif op == ">=":
            pred = lambda vo: vo.key >= key  # noqa: E731
        elif op == "=":
            pred = lambda vo: vo.startswith(target)  # noqa: E731
        elif op == "!=startswith":
            pred = lambda vo: not vo.startswith(target)  # noqa: E731
        else:  # ~=
            parts = str(target).split(".")
            if len(parts) < 2:
                raise _error(spec, f"'~=' needs at least two version components in {text!r}", position)
            prefix = _version(".".join(parts[:-1]), spec, position)
            pred = lambda vo: _compatible(vo, target, prefix)  # noqa: E731
        return _Leaf(text, pred, op == "==")
    if text == "*":
        return _Leaf(text, lambda vo: True, False)
    if "*" in text.rstrip("*"):
        body = text.replace(".", r"\.").replace("+", r"\+").replace("*", ".*")
        rx = re.compile(rf"^(?:{body})$")
        return _Leaf(text, lambda vo: rx.match(vo.original) is not None, False)
    if text.endswith("*"):
        if not text.endswith(".*"):
            text = text[:-1] + ".*"
        target = _version(text.rstrip("*").rstrip("."), spec, position)
        return _Leaf(text, lambda vo: vo.startswith(target), False)
    if "@" in text:
        return _Leaf(text, lambda vo: vo.original == text, True)
    target = _version(text, spec, position)
    key = target.key
    return _Leaf(text, lambda vo: vo.key == key, True)


class _Parser:
    """Recursive descent over the spec string, remembering positions for error messages."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.pos = 0

    def _skip(self) -> None:
        while self.pos < len(self.spec) and self.spec[self.pos].isspace():
            self.pos += 1

    def parse(self) -> Node:
        node = self._or()
        self._skip()
        if self.pos < len(self.spec):
            raise _error(self.spec, f"unexpected {self.spec[self.pos]!r}", self.pos)
        return node

    def _or(self) -> Node:
        children = [self._and()]
        self._skip()
        while self.pos < len(self.spec) and self.spec[self.pos] == "|":
            self.pos += 1
            children.append(self._and())
            self._skip()
        return _fuse("|", children)

    def _and(self) -> Node:
        children = [self._atom()]
        self._skip()
        while self.pos < len(self.spec) and self.spec[self.pos] == ",":
            self.pos += 1
            children.append(self._atom())
            self._skip()
        return _fuse(",", children)

    def _atom(self) -> Node:
        self._skip()
        spec = self.spec
        if self.pos < len(spec) and spec[self.pos] == "(":
            start = self.pos
            self.pos += 1
            node = self._or()
            self._skip()
            if self.pos >= len(spec) or spec[self.pos] != ")":
                raise _error(spec, "unbalanced parenthesis", start)
            self.pos += 1
            return node
        start = self.pos
        if self.pos < len(spec) and spec[self.pos] == "^":
            end = spec.find("$", self.pos)
            self.pos = len(spec) if end < 0 else end + 1
        else:
            while self.pos < len(spec) and spec[self.pos] not in "()|,":
                self.pos += 1
        text = spec[start : self.pos].strip()
        if not text:
            raise _error(spec, "empty version constraint", start)
        return _leaf(text, spec, start + (len(spec[start : self.pos]) - len(spec[start : self.pos].lstrip())))


def _fuse(op: str, children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        if isinstance(child, _Group) and child.op == op:
            flat.extend(child.children)
        else:
            flat.append(child)
    return _Group(op, flat)


def _render(node: Node, depth: int = 0, in_and: bool = False) -> str:
    if isinstance(node, _Leaf):
        return node.text
    if node.op == "|":
        text = "|".join(_render(c, depth + 1) for c in node.children)
        return f"({text})" if in_and or depth > 0 else text
    text = ",".join(_render(c, depth + 1, in_and=True) for c in node.children)
    return f"({text})" if depth > 0 else text


def _compile(node: Node) -> Predicate:
    if isinstance(node, _Leaf):
        return node.pred
    preds = [_compile(c) for c in node.children]
    if node.op == "|":
        return lambda vo: any(p(vo) for p in preds)
    return lambda vo: all(p(vo) for p in preds)


class VersionSpec:
    """A version constraint; ``match()`` takes a version string or a :class:`VersionOrder`."""

    __slots__ = ("_exact", "_pred", "spec")

    def __init__(self, spec: str) -> None:
        if not isinstance(spec, str):
            spec = str(spec)
        text = spec.strip()
        if not text:
            raise _error(spec, "empty version spec")
        node: Node
        if _NEEDS_TREE.match(text):
            node = _Parser(text).parse()
        else:
            node = _leaf(text, text, 0)
        self.spec = _render(node)
        self._pred = _compile(node)
        self._exact = isinstance(node, _Leaf) and node.exact

    def match(self, version: str | VersionOrder) -> bool:
        vo = version if isinstance(version, VersionOrder) else parse_version(version)
        return self._pred(vo)

    def is_exact(self) -> bool:
        """True for ``==1.2`` and a bare ``1.2``: exactly one version matches."""
        return self._exact

    @property
    def exact_value(self) -> str | None:
        if not self._exact:
            return None
        return self.spec[2:] if self.spec.startswith("==") else self.spec

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"VersionSpec({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionSpec) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(("VersionSpec", self.spec))


_CACHE: dict[str, VersionSpec] = {}


def parse_version_spec(spec: str) -> VersionSpec:
    """The cached constructor: each distinct spec string is compiled once per process."""
    found = _CACHE.get(spec)
    if found is None:
        found = _CACHE[spec] = VersionSpec(spec)
    return found


class BuildNumberSpec:
    """A build-number constraint: ``3``, ``>=3``, ``!=3``, ``*``, or a regex over the number."""

    __slots__ = ("_pred", "spec")

    def __init__(self, spec: str | int) -> None:
        text = str(spec).strip()
        self.spec = text
        pred: Callable[[int], bool]
        if text == "*":
            pred = lambda n: True  # noqa: E731
        elif text.isdigit():
            value = int(text)
            self.spec = str(value)
            pred = lambda n: n == value  # noqa: E731
        elif text[:1] in _OPERATOR_START:
            m = _RELATION.match(text)
            if m is None or not m.group(2).isdigit() or m.group(1) in ("~=", "="):
                raise InvalidVersionSpec(f"invalid build number spec {text!r}: expected e.g. 3, >=3, <3, !=3")
            op, num = m.group(1), int(m.group(2))
            pred = {
                "==": lambda n: n == num,
                "!=": lambda n: n != num,
                "<": lambda n: n < num,
                "<=": lambda n: n <= num,
                ">": lambda n: n > num,
                ">=": lambda n: n >= num,
            }[op]
        elif text.startswith("^") and text.endswith("$"):
            rx = re.compile(text)
            pred = lambda n: rx.match(str(n)) is not None  # noqa: E731
        else:
            raise InvalidVersionSpec(f"invalid build number spec {text!r}: expected e.g. 3, >=3, <3, !=3")
        self._pred = pred

    def match(self, build_number: int) -> bool:
        return self._pred(build_number)

    @property
    def exact_value(self) -> int | None:
        return int(self.spec) if self.spec.isdigit() else None

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"BuildNumberSpec({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BuildNumberSpec) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(("BuildNumberSpec", self.spec))
