"""Turning an unsatisfiable core into an explanation a person can act on.

The engine returns the tags of the clauses its refutation used: requested specs, dependency
clauses of particular records, constrains clauses, one-record-per-name constraints. Those tags
are a small, relevant subset of the problem; this module walks them from the requested specs
down, in the style of PubGrub and resolvo reports:

    Cannot solve for: pytorch=2.1
    pytorch 2.1.* cannot be installed:
    └─ pytorch 2.1.0 (py3.9_cuda11.8_cudnn8.7.0_0) requires pytorch-cuda 11.8.*
       └─ pytorch-cuda 11.8 requires __cuda >=11.8, but the target has __cuda 11.2

Candidates that fail for the same reason are grouped, and versions are shown as ranges, so a
name with hundreds of builds still takes one line.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Sequence

from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.slots import SlotValue
from solvent.solver.encoding import CONSTRAINS, DEPENDS, ONE_PER_NAME, REQUEST, Encoding
from solvent.solver.pigeonhole import PIGEONHOLE

MAX_DEPTH = 6
MAX_CHILDREN = 8
#: The whole explanation stays readable: beyond this many lines the tree is cut.
MAX_NODES = 40


class ConflictNode(SlotValue):
    """One line of the explanation and the lines under it."""

    __slots__ = ("children", "message", "packages", "spec")

    def __init__(
        self,
        message: str,
        spec: str | None = None,
        packages: list[str] | None = None,
        children: list[ConflictNode] | None = None,
    ) -> None:
        self.message = message
        self.spec = spec
        self.packages: list[str] = [] if packages is None else packages
        self.children: list[ConflictNode] = [] if children is None else children

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.spec is not None:
            out["spec"] = self.spec
        if self.packages:
            out["packages"] = self.packages
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


class Conflict(SlotValue):
    """The structured reason a request has no solution."""

    __slots__ = ("roots", "specs")

    def __init__(self, specs: list[str], roots: list[ConflictNode]) -> None:
        self.specs = specs
        self.roots = roots

    def to_dict(self) -> dict[str, Any]:
        return {"specs": self.specs, "causes": [r.to_dict() for r in self.roots]}

    def render(self) -> str:
        lines = [f"Cannot solve for: {', '.join(self.specs)}"]
        for root in self.roots:
            lines.append(root.message)
            _render_children(root.children, "", lines)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def _render_children(children: list[ConflictNode], prefix: str, lines: list[str]) -> None:
    for i, child in enumerate(children):
        last = i == len(children) - 1
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{child.message}")
        _render_children(child.children, prefix + ("   " if last else "│  "), lines)


def version_summary(records: Sequence[PackageRecord]) -> str:
    """``1.2`` / ``1.2, 1.3`` / ``1.2 to 2.0 (7 versions)`` for a set of records."""
    versions = sorted({r.version_order for r in records})
    if not versions:
        return ""
    if len(versions) <= 3:
        return ", ".join(str(v) for v in versions)
    return f"{versions[0]} to {versions[-1]} ({len(versions)} versions)"


def _describe(records: Sequence[PackageRecord]) -> str:
    name = records[0].name
    if len(records) == 1:
        r = records[0]
        return f"{name} {r.version} ({r.build})"
    n_versions = len({r.version_order for r in records})
    summary = version_summary(records)
    if len(records) == n_versions:
        return f"{name} {summary}"
    return f"{name} {summary} ({len(records)} builds)"


class _Explainer:
    def __init__(self, core: Iterable[Any], enc: Encoding) -> None:
        self.enc = enc
        self.provider = enc.provider
        self.deps: dict[PackageRecord, list[MatchSpec]] = defaultdict(list)
        self.constrains: dict[PackageRecord, list[MatchSpec]] = defaultdict(list)
        self.constrained_names: dict[str, list[tuple[PackageRecord, MatchSpec]]] = defaultdict(list)
        self.exclusive: set[str] = set()
        self.requests: list[MatchSpec] = []
        self.specs_on_name: dict[str, list[str]] = defaultdict(list)
        self.pigeonholes: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        for tag in core:
            if not isinstance(tag, tuple) or not tag:
                continue
            kind = tag[0]
            if kind == REQUEST:
                self.requests.append(tag[1])
                self.specs_on_name[tag[1].name].append(f"{spec_text(tag[1])} (requested)")
            elif kind == DEPENDS:
                self.deps[tag[1]].append(tag[2])
                self.specs_on_name[tag[2].name].append(f"{spec_text(tag[2])} (required by {_short(tag[1])})")
            elif kind == CONSTRAINS:
                self.constrains[tag[1]].append(tag[2])
                self.constrained_names[tag[2].name].append((tag[1], tag[2]))
            elif kind == ONE_PER_NAME:
                self.exclusive.add(tag[1])
            elif kind == PIGEONHOLE:
                self.pigeonholes.append((tag[1], tag[2]))
        self.seen: dict[MatchSpec, ConflictNode] = {}
        self.budget = MAX_NODES

    def spec_node(self, spec: MatchSpec, prefix: str, depth: int) -> ConflictNode:
        if spec in self.seen:
            return ConflictNode(f"{prefix}{spec_text(spec)} (see above)", spec=str(spec))
        node = ConflictNode(f"{prefix}{spec_text(spec)}", spec=str(spec))
        self.seen[spec] = node
        self.budget -= 1
        matches = self.provider.matches(spec)
        if not matches:
            node.message += self._no_match(spec)
            return node
        if self.budget <= 0:
            node.message += ", which cannot be installed (further detail omitted)"
            return node
        if depth >= MAX_DEPTH:
            node.message += ", which cannot be installed (explanation truncated)"
            return node
        node.message += ", which cannot be installed:" if depth else " cannot be installed:"
        groups: dict[tuple, list[PackageRecord]] = defaultdict(list)
        for record in matches:
            groups[self._reason_key(record)].append(record)
        shown = 0
        # Groups that reach a concrete cause (a missing or mismatched package, a constrains) come
        # first; groups that only clash with another requirement on their name come last.
        ordered = sorted(groups.items(), key=lambda item: item[0][2] is True)
        for key, records in ordered[:MAX_CHILDREN]:
            if self.budget <= 0:
                break
            node.children.append(self._group_node(key, records, depth))
            shown += 1
        if len(groups) > shown:
            node.children.append(ConflictNode(f"... and {len(groups) - shown} more groups of builds"))
        return node

    def _no_match(self, spec: MatchSpec) -> str:
        name = spec.name
        available = self.provider.candidates(name) if "*" not in name else ()
        if name.startswith("__"):
            if not available:
                return f", but the target has no {name} virtual package"
            vp = available[0]
            return f", but the target has {name} {vp.version}"
        if not available:
            return f", but no package named {name} exists in the channels"
        return f", but no {name} matches it (available: {version_summary(available)})"

    def _reason_key(self, record: PackageRecord) -> tuple:
        own_virtual = tuple(sorted(str(s) for s in self.constrains.get(record, ()) if s.name.startswith("__")))
        if own_virtual:
            return (), own_virtual, "virtual"
        failing = tuple(sorted(str(s) for s in self.deps.get(record, ())))
        constrained = tuple(
            sorted(f"{_short(r)}:{s}" for r, s in self.constrained_names.get(record.name, ()) if not s.match(record))
        )
        exclusive = record.name in self.exclusive and not failing and not constrained
        return failing, constrained, exclusive

    def _group_node(self, key: tuple, records: list[PackageRecord], depth: int) -> ConflictNode:
        failing, constrained, exclusive = key
        self.budget -= 1
        label = _describe(records)
        pkgs = [r.dist_str() for r in records[:20]]
        if exclusive == "virtual":
            parts = []
            for spec in self.constrains.get(records[0], ()):
                if spec.name.startswith("__"):
                    parts.append(f"constrains {spec_text(spec)}{self._no_match(spec)}")
            return ConflictNode(f"{label} {'; '.join(parts)}", packages=pkgs)
        if failing:
            specs = [s for s in self.deps[records[0]]]
            if len(specs) == 1:
                child = self.spec_node(specs[0], f"{label} requires ", depth + 1)
                child.packages = pkgs
                return child
            node = ConflictNode(f"{label} requires:", packages=pkgs)
            for spec in specs[:MAX_CHILDREN]:
                if self.budget <= 0:
                    node.children.append(ConflictNode("... (further requirements omitted)"))
                    break
                node.children.append(self.spec_node(spec, "", depth + 1))
            return node
        if constrained:
            parts = [
                f"{_short(r)} constrains {spec_text(s)}"
                for r, s in self.constrained_names.get(records[0].name, ())
                if not s.match(records[0])
            ]
            return ConflictNode(f"{label} is excluded: {'; '.join(parts[:3])}", packages=pkgs)
        if exclusive:
            others = sorted(set(self.specs_on_name.get(records[0].name, ())))
            others = [o for o in others if o]
            return ConflictNode(
                f"{label} conflicts with another requirement on {records[0].name}: " + "; ".join(others[:4]),
                packages=pkgs,
            )
        return ConflictNode(f"{label} is excluded by other requirements", packages=pkgs)


def spec_text(spec: MatchSpec) -> str:
    """A spec as people write it in a depends list (``b <2``), falling back to conda's form."""
    fields = {
        k
        for k in (
            "channel",
            "subdir",
            "build_number",
            "md5",
            "sha256",
            "track_features",
            "features",
            "license",
            "fn",
            "url",
        )
        if spec.get(k) is not None
    }
    if fields:
        return str(spec)
    if spec.build is not None and spec.version is None:
        return str(spec)
    out = spec.name
    if spec.version is not None:
        out += f" {spec.version}"
    if spec.build is not None:
        out += f" {spec.build}" if spec.version is not None else f" * {spec.build}"
    return out


def _short(record: PackageRecord) -> str:
    return f"{record.name} {record.version} ({record.build})"


def explain_conflict(
    core: Iterable[Any], enc: Encoding, specs: Sequence[MatchSpec], required: Sequence[MatchSpec] = ()
) -> Conflict:
    """Build the explanation for an unsatisfiable core.

    The engine hands the core over as a set; its order would follow string hashing, which Python
    salts per process, and the tree is built in the order the tags come. Sorted, the same problem
    gives the same text in every process.
    """
    explainer = _Explainer(sorted(core, key=_tag_key), enc)
    roots = [_pigeonhole_node(names, versions) for names, versions in sorted(explainer.pigeonholes)]
    requests = explainer.requests or list(specs)
    for spec in requests:
        roots.append(explainer.spec_node(spec, "", 0))
    informative = [r for r in roots if not _uninformative(r)]
    return Conflict([spec_text(s) for s in (*specs, *required)], informative or roots)


def _tag_key(tag: Any) -> tuple[str, ...]:
    if isinstance(tag, tuple):
        return tuple(r.dist_str() if isinstance(r, PackageRecord) else str(r) for r in tag)
    return ("~", str(tag))


def _pigeonhole_node(names: Sequence[str], versions: Sequence[str]) -> ConflictNode:
    """A counting argument: more packages than versions, where equal versions exclude each other."""
    listed = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    shown = ", ".join(versions) if len(versions) <= 10 else f"{versions[0]} ... {versions[-1]}"
    return ConflictNode(
        f"{len(names)} packages are all needed, but every two of them exclude each other's equal versions "
        f"and they have only {len(versions)} versions ({shown}) to share: {listed}",
        packages=list(names),
    )


def _uninformative(node: ConflictNode) -> bool:
    """A root whose candidates only clash with other requirements on the same name: the root that
    makes those requirements says why, so this one repeats it."""
    return bool(node.children) and all(
        c.message.endswith("excluded by other requirements") or " conflicts with another requirement on " in c.message
        for c in node.children
    )
