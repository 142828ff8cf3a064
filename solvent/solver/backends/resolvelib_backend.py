"""The backtracking back-end: resolvelib over the same provider and policy.

resolvelib knows requirements and candidates, not conda's ``constrains``. They are expressed with
an *absent* pseudo-candidate per name: a ``constrains`` entry becomes a constraint requirement on
its name that the absent candidate satisfies (as does any real candidate matching the spec), while
a real requirement is never satisfied by the absent candidate. When only constraints mention a
name, absent is preferred and nothing gets installed; when something really requires the name, the
constraint filters its candidates like any requirement. Absent candidates are dropped from the
answer.

resolvelib returns its first consistent resolution (decisions in policy order, like ``greedy``);
it has no global objectives, so policy ``classic`` is answered greedily here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from solvent.errors import BackendUnavailable, Unsatisfiable
from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.provider import Provider

#: resolvelib rounds before giving up; deep backtracking beyond this is reported, never a hang.
MAX_ROUNDS = 20000


@dataclass(frozen=True)
class Requirement:
    spec: MatchSpec
    constraint: bool = False  # a constrains entry: satisfied by absence
    parent: PackageRecord | None = None
    ident: str | None = None  # the package name, for specs whose name is a glob (legacy features)

    @property
    def name(self) -> str:
        return self.ident or self.spec.name

    def __str__(self) -> str:
        kind = "constrains" if self.constraint else "requires"
        who = f"{self.parent.name} {self.parent.version} ({self.parent.build}) {kind} " if self.parent else ""
        return f"{who}{self.spec}"


@dataclass(frozen=True)
class Absent:
    """The choice "no package of this name is installed"."""

    name: str


Candidate = Any  # PackageRecord | Absent


def _import_resolvelib() -> Any:
    try:
        import resolvelib
    except ImportError:  # pragma: no cover - resolvelib ships with the test extra
        raise BackendUnavailable(
            "the resolvelib back-end needs resolvelib: pip install 'solvent[resolvelib]'"
        ) from None
    return resolvelib


def requirements_of(base: Provider, record: PackageRecord) -> list[Requirement]:
    """The real (not constraint) requirements of a record, each keyed by one package name."""
    deps = []
    for spec in base.dependencies(record):
        if "*" not in spec.name:
            deps.append(Requirement(spec, parent=record))
            continue
        # A feature requirement (``*[track_features=mkl]``): resolvelib needs one name, so it
        # becomes a requirement on the (first, by name) package that tracks the feature.
        names = sorted({r.name for r in base.matches(spec)})
        deps.append(Requirement(spec, parent=record, ident=names[0] if names else spec.name))
    return deps


def _make_provider(base: Provider, requested: frozenset[str]) -> Any:
    resolvelib = _import_resolvelib()

    abstract: Any = resolvelib.AbstractProvider

    class CondaProvider(abstract):
        def identify(self, requirement_or_candidate: Any) -> str:
            return str(requirement_or_candidate.name)

        def get_preference(
            self,
            identifier: str,
            resolutions: Mapping[str, Candidate],
            candidates: Mapping[str, Iterator[Candidate]],
            information: Mapping[str, Iterator[Any]],
            backtrack_causes: Sequence[Any],
        ) -> tuple:
            infos = list(information[identifier])
            only_constraints = all(i.requirement.constraint for i in infos)
            caused = any(c.requirement.name == identifier for c in backtrack_causes)
            # Decide requested names first, then names with a real requirement, then conflict
            # causes, then the rest alphabetically for determinism.
            return (identifier not in requested, only_constraints, not caused, identifier)

        def find_matches(
            self,
            identifier: str,
            requirements: Mapping[str, Iterator[Requirement]],
            incompatibilities: Mapping[str, Iterator[Candidate]],
        ) -> list[Candidate]:
            reqs = list(requirements[identifier])
            bad = set(incompatibilities[identifier])
            out: list[Candidate] = []
            virtual_present = identifier.startswith("__") and bool(base.candidates(identifier))
            if all(r.constraint for r in reqs) and not virtual_present and Absent(identifier) not in bad:
                out.append(Absent(identifier))
            for record in base.candidates(identifier):
                if record in bad:
                    continue
                if all(r.spec.match(record) for r in reqs):
                    out.append(record)
            return out

        def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
            if isinstance(candidate, Absent):
                return requirement.constraint
            return requirement.spec.match(candidate)

        def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
            if isinstance(candidate, Absent):
                return []
            deps = requirements_of(base, candidate)
            deps += [
                Requirement(s, constraint=True, parent=candidate)
                for s in base.constraints(candidate)
                if "*" not in s.name
            ]
            return deps

    return CondaProvider()


def solve_resolvelib(
    provider: Provider, specs: Sequence[MatchSpec], required: Iterable[MatchSpec] = ()
) -> list[PackageRecord]:
    resolvelib = _import_resolvelib()
    provider.set_roots([*specs, *required])
    reqs = [Requirement(s) for s in (*specs, *required)]
    for req in reqs:
        if "*" in req.name:
            raise BackendUnavailable(
                f"the resolvelib back-end cannot solve a spec with a glob name ({req.spec}); use --backend cdcl"
            )
    from resolvelib.resolvers.resolution import Resolution

    # The state is read directly: resolvelib's own result builder recurses through the
    # dependency graph and overflows the stack on some cycles (a -> b -> a); the pruning of
    # unreachable pins it does is done below instead.
    resolution = Resolution(_make_provider(provider, frozenset(s.name for s in specs)), resolvelib.BaseReporter())
    try:
        state = resolution.resolve(reqs, max_rounds=MAX_ROUNDS)
    except resolvelib.ResolutionTooDeep:
        raise BackendUnavailable(
            f"the resolvelib back-end gave up after {MAX_ROUNDS} rounds of backtracking; "
            "this problem needs a CDCL search: use --backend cdcl (the default) or pycosat"
        ) from None
    except resolvelib.ResolutionImpossible as exc:
        lines = []
        for cause in exc.causes[:12]:
            parent = cause.parent
            who = (
                f"{parent.name} {parent.version} ({parent.build})"
                if isinstance(parent, PackageRecord)
                else "the request"
            )
            lines.append(f"  {who} requires {cause.requirement.spec}")
        message = "Cannot solve for: " + ", ".join(str(s) for s in specs)
        message += "\nresolvelib found no candidates consistent with:\n" + "\n".join(lines)
        raise Unsatisfiable(message) from None
    mapping = state.mapping
    reached: set[str] = set()
    stack = [r.name for r in reqs]
    while stack:
        name = stack.pop()
        if name in reached:
            continue
        reached.add(name)
        chosen_record = mapping.get(name)
        if isinstance(chosen_record, PackageRecord):
            stack.extend(r.name for r in requirements_of(provider, chosen_record))
    chosen = [c for name, c in mapping.items() if name in reached and isinstance(c, PackageRecord) and not c.is_virtual]
    return sorted(chosen, key=lambda r: r.name)
