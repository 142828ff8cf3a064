"""Resolving pip requirements for one target with resolvelib, against a package index.

resolvelib is pip's own resolver core, so backtracking and extras behave as pip's do; this module
is the provider. A candidate is one version of a project with the file pip would install on the
target: the wheel whose best tag ranks highest (ties broken by file name, so the choice does not
depend on the index's order), else an sdist whose metadata is static (core metadata 2.2+ without
``Dynamic: Requires-Dist``), since only then are its dependencies known without building it.
Versions are tried newest first; yanked files only count when a requirement pins them with ``==``
(PEP 592), pre-releases only when a specifier asks for one or nothing else is left (as pip).

Projects the conda solution installs have exactly one candidate: the conda version, with no
dependencies (conda already installed those). A requirement that version does not meet is a
conflict that names both sides.

Extras follow resolvelib's own pattern: ``pkg[a,b]`` is a separate identifier whose candidate
depends on ``pkg==<same version>`` plus the dependencies the extras add, so the base project is
still locked once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Protocol, Sequence

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver

from solvent.errors import SolventError
from solvent.lockfiles.pip.errors import PipMetadataError, PipProjectNotFound
from solvent.lockfiles.pip.mapping import CondaProvided
from solvent.lockfiles.pip.requirements import PipRequirement
from solvent.lockfiles.pip.target import Target


class PipResolutionError(SolventError):
    """The pip requirements cannot be met on a target (exit code 1, like an unsatisfiable solve)."""

    kind = "pip-unsatisfiable"
    exit_code = 1


class IndexFile(Protocol):
    """What the resolver reads of one file of the index (``index.PypiFile`` has these and more)."""

    @property
    def project(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def requires_python(self) -> str | None: ...
    @property
    def yanked(self) -> bool: ...
    @property
    def has_metadata(self) -> bool: ...
    @property
    def version(self) -> Version: ...
    @property
    def is_wheel(self) -> bool: ...
    @property
    def tags(self) -> frozenset[Tag]: ...


class IndexMetadata(Protocol):
    @property
    def requires_dist(self) -> tuple[str, ...]: ...
    @property
    def requires_python(self) -> str | None: ...


class PackageIndex(Protocol):
    """The index client (``index.PypiIndex``), or an in-memory fake in tests."""

    def files(self, project: str) -> Sequence[Any]: ...
    def metadata(self, file: Any) -> IndexMetadata: ...


@dataclass(frozen=True)
class Req:
    """A requirement inside the resolution, with who asked for it (for explanations)."""

    name: str
    extras: frozenset[str]
    specifier: SpecifierSet
    url: str | None
    parent: str  # "environment.yml:12" or "requests 2.31.0"
    text: str

    @property
    def key(self) -> str:
        return _key(self.name, self.extras)

    @property
    def pinned(self) -> bool:
        return any(s.operator in ("==", "===") and "*" not in s.version for s in self.specifier)


@dataclass(frozen=True)
class Candidate:
    name: str
    version: Version
    extras: frozenset[str] = frozenset()
    file: Any = None  # an IndexFile; None for a project conda installs
    conda: CondaProvided | None = None

    @property
    def key(self) -> str:
        return _key(self.name, self.extras)

    def describe(self) -> str:
        if self.conda is not None:
            return f"{self.name} {self.version} (installed by conda: {self.conda.describe()})"
        return f"{self.name} {self.version}"


@dataclass
class LockedPip:
    """One project pip installs on the target: the exact file and what it depends on."""

    name: str
    version: str
    url: str
    sha256: str
    filename: str
    dependencies: dict[str, str] = field(default_factory=dict)
    direct: bool = False  # locked from a URL or path in the environment file, not found on an index


# The identifier of the target interpreter inside the resolution. A file's ``Requires-Python``
# usually comes with the index listing, and such files are never candidates; when only the file's
# own metadata says it (indexes without PEP 503's data-requires-python), the candidate depends on
# this pseudo-project, which has one candidate, the target's python, or none: pip's own device.
PYTHON = "<python>"


def _key(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def to_req(requirement: Requirement, parent: str) -> Req:
    return Req(
        canonicalize_name(requirement.name),
        frozenset(canonicalize_name(e) for e in requirement.extras),
        requirement.specifier,
        requirement.url,
        parent,
        str(requirement),
    )


class PipProvider(AbstractProvider):
    def __init__(self, index: PackageIndex, target: Target, conda: Mapping[str, CondaProvided]) -> None:
        self.index = index
        self.target = target
        self.conda = conda
        self.rank = target.tag_rank()
        self._files: dict[str, dict[Version, list[Any]]] = {}
        self._deps: dict[tuple[str, Version], list[Requirement]] = {}
        self._requires_python: dict[tuple[str, Version], str | None] = {}
        self._direct: dict[str, Any] = {}  # URL -> file of a direct requirement
        self.empty_reasons: dict[str, str] = {}

    # -- the index, cached per resolution ------------------------------------------------------
    def versions(self, name: str) -> dict[Version, list[Any]]:
        if name not in self._files:
            try:
                files = self.index.files(name)
            except PipProjectNotFound as exc:
                files = []
                self.empty_reasons[name] = str(exc)
            by_version: dict[Version, list[Any]] = {}
            for f in files:
                by_version.setdefault(f.version, []).append(f)
            self._files[name] = by_version
        return self._files[name]

    def best_file(self, files: Sequence[Any], pinned: bool) -> Any:
        """The wheel pip would pick on the target, else a usable sdist, else None."""
        usable = [f for f in files if (pinned or not f.yanked) and self.target.python_ok(f.requires_python)]
        wheels = []
        for f in usable:
            if f.is_wheel:
                ranks = [self.rank[t] for t in f.tags if t in self.rank]
                if ranks:
                    wheels.append((min(ranks), f.filename, f))
        if wheels:
            return min(wheels, key=lambda w: (w[0], w[1]))[2]
        sdists = sorted((f for f in usable if not f.is_wheel), key=lambda f: f.filename)
        for f in sdists:
            try:
                self.requires(f)
            except PipMetadataError:
                continue
            return f
        return None

    def direct(self, req: Req) -> Any:
        """The file of a ``name @ URL`` requirement, read once (its metadata cached with it)."""
        from solvent.lockfiles.pip.direct import direct_file

        assert req.url is not None
        if req.url not in self._direct:
            file, meta = direct_file(Requirement(req.text), self.index, req.parent)
            self._direct[req.url] = file
            self._deps[(file.url, file.version)] = [Requirement(t) for t in meta.requires_dist]
        return self._direct[req.url]

    def is_direct(self, file: Any) -> bool:
        return any(file is d for d in self._direct.values())

    def requires(self, file: Any) -> list[Requirement]:
        key = (file.project, file.version)
        if (file.url, file.version) in self._deps:
            return self._deps[(file.url, file.version)]
        if key not in self._deps:
            out = []
            meta = self.index.metadata(file)
            self._requires_python[key] = getattr(meta, "requires_python", None)
            for text in meta.requires_dist:
                try:
                    out.append(Requirement(text))
                except InvalidRequirement as exc:
                    raise PipResolutionError(f"{file.filename}: invalid Requires-Dist {text!r}: {exc}") from None
            self._deps[key] = out
        return self._deps[key]

    # -- resolvelib ------------------------------------------------------------------------------
    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.key

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> Any:
        pinned = any(info.requirement.pinned for info in information[identifier])
        conflicted = any(c.requirement.name == identifier.split("[")[0] for c in backtrack_causes)
        conda = identifier.split("[")[0] in self.conda
        return (not conda, not pinned, not conflicted, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        if identifier == PYTHON:
            python = Version(self.target.python_version)
            fits = python not in bad and all(r.specifier.contains(python, True) for r in reqs)
            return lambda: iter([Candidate(PYTHON, python)] if fits else [])
        name = identifier.split("[")[0]
        extras = reqs[0].extras if reqs else frozenset()
        if name in self.conda:
            provided = self.conda[name]
            version = provided.version
            ok = version is not None and version not in bad and all(r.specifier.contains(version, True) for r in reqs)
            found = [Candidate(name, version, extras, conda=provided)] if ok and version is not None else []
            return lambda: iter(found)
        urls = {r.url for r in reqs if r.url}
        if urls:
            if len(urls) > 1:
                self.empty_reasons[name] = f"{name} is required from different URLs: {', '.join(sorted(urls))}"
                return lambda: iter([])
            file = self.direct(next(r for r in reqs if r.url))
            ok = file.version not in bad and all(r.specifier.contains(file.version, True) for r in reqs)
            direct = [Candidate(name, file.version, extras, file=file)] if ok else []
            return lambda: iter(direct)
        pinned = any(r.pinned for r in reqs)
        versions = self.versions(name)
        matching = [v for v in versions if v not in bad and all(r.specifier.contains(v, True) for r in reqs)]
        wants_pre = any(s.prereleases for r in reqs for s in r.specifier)
        # pre-releases only when a specifier names one, or when nothing else is left (as pip)
        allowed = [v for v in matching if wants_pre or not v.is_prerelease] or matching
        allowed.sort(reverse=True)

        def generate() -> Iterator[Candidate]:
            seen = False
            for v in allowed:
                f = self.best_file(versions[v], pinned)
                if f is not None:
                    seen = True
                    yield Candidate(name, v, extras, file=f)
            if not seen and allowed and name not in self.empty_reasons:
                files = sorted(f.filename for f in versions[allowed[0]])
                listed = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
                self.empty_reasons[name] = (
                    f"no file of {name} {', '.join(str(v) for v in allowed[:5])}"
                    f"{' ...' if len(allowed) > 5 else ''} fits {self.target.describe()}; "
                    f"{name} {allowed[0]} has {listed}"
                )

        return generate

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        if requirement.url and (candidate.file is None or candidate.file.url != requirement.url.split("#")[0]):
            return False
        return requirement.specifier.contains(candidate.version, True)

    def get_dependencies(self, candidate: Candidate) -> Iterable[Req]:
        if candidate.extras:
            base = f"{candidate.name}=={candidate.version}"
            yield Req(candidate.name, frozenset(), SpecifierSet(f"=={candidate.version}"), None, base, base)
        if candidate.conda is not None:
            if candidate.extras:
                yield from self._conda_extras(candidate)
            return
        if candidate.name == PYTHON:
            return
        deps = self.requires(candidate.file)
        requires_python = self._requires_python.get((candidate.file.project, candidate.file.version))
        if requires_python and not self.target.python_ok(requires_python):
            text = f"Requires-Python {requires_python}"
            self.empty_reasons[PYTHON] = f"the target has python {self.target.python_version}"
            yield Req(PYTHON, frozenset(), SpecifierSet(requires_python), None, candidate.describe(), text)
        for dep in deps:
            if self._wanted(dep.marker, candidate.extras):
                yield to_req(dep, f"{candidate.name} {candidate.version}")

    def _wanted(self, marker: Marker | None, extras: frozenset[str]) -> bool:
        if marker is None:
            return not extras  # a base dependency belongs to the base candidate only
        if not extras:
            return self.target.evaluate(marker)
        return any(marker.evaluate(self.target.environment(e)) for e in sorted(extras)) and not self.target.evaluate(
            marker
        )

    def _conda_extras(self, candidate: Candidate) -> Iterator[Req]:
        """``requests[socks]`` with requests from conda: the extra's dependencies still need installing."""
        files = self.versions(candidate.name).get(candidate.version, [])
        f = self.best_file(files, True)
        if f is None:
            return
        for dep in self.requires(f):
            if dep.marker is not None and self._wanted(dep.marker, candidate.extras):
                yield to_req(dep, candidate.describe())


class _ConflictReporter(BaseReporter):
    """Keeps the conflicts met while backtracking: the final causes alone often name only the last
    version tried (``left 0.9 requires shared<1``), not the clash that forced it (left 1.0 against
    right 1.0)."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts: list[Sequence[Any]] = []

    def resolving_conflicts(self, causes: Collection[Any]) -> None:
        self.conflicts.append(list(causes))


def _cause_line(cause: Any, provider: PipProvider) -> str:
    req: Req = cause.requirement
    parent = cause.parent.describe() if cause.parent is not None else req.parent
    line = f"{parent} requires {req.text}"
    if req.name in provider.conda:
        line += f", but conda installs {provider.conda[req.name].describe()}"
    elif req.name in provider.empty_reasons:
        line += f": {provider.empty_reasons[req.name]}"
    return line


def _explain(exc: ResolutionImpossible, provider: PipProvider, reporter: _ConflictReporter) -> str:
    target = provider.target
    lines = [f"pip requirements cannot be met on {target.platform} (python {target.python_version}):"]
    final = list(dict.fromkeys(_cause_line(c, provider) for c in exc.causes))
    lines += [f"  {line}" for line in final]
    earlier: list[str] = []
    for causes in reporter.conflicts:
        names = sorted({c.requirement.name for c in causes})
        text = f"  on {', '.join(names)}: " + "; ".join(dict.fromkeys(_cause_line(c, provider) for c in causes))
        if text not in earlier and not all(_cause_line(c, provider) in final for c in causes):
            earlier.append(text)
    if earlier:
        lines.append("conflicts met while backtracking:")
        lines += earlier[:10] + ([f"  ... {len(earlier) - 10} more"] if len(earlier) > 10 else [])
    return "\n".join(lines)


def check_conda_satisfies(
    requirements: Sequence[PipRequirement], conda: Mapping[str, CondaProvided], target: Target
) -> None:
    """A top-level requirement that conda's version misses: say so plainly before resolving."""
    for pr in requirements:
        req = pr.requirement
        provided = conda.get(pr.name)
        if provided is None or not target.evaluate(req.marker):
            continue
        if req.url:
            raise PipResolutionError(
                f"{pr.source}: pip requirement `{req}` is a direct URL, but conda installs "
                f"{provided.describe()} on {target.platform}: drop one of them"
            )
        if provided.version is None or not req.specifier.contains(provided.version, True):
            raise PipResolutionError(
                f"{pr.source}: pip requirement `{req}` but conda installs {provided.describe()} on "
                f"{target.platform}: change the conda spec or the pip requirement"
            )


def resolve(
    requirements: Sequence[PipRequirement],
    index: PackageIndex,
    target: Target,
    conda: Mapping[str, CondaProvided],
    *,
    max_rounds: int = 2000,
) -> list[LockedPip]:
    """The pip-installed projects for ``target``, sorted by name (conda-installed ones left out)."""
    check_conda_satisfies(requirements, conda, target)
    roots = [to_req(r.requirement, r.source) for r in requirements if target.evaluate(r.requirement.marker)]
    if not roots:
        return []
    provider = PipProvider(index, target, conda)
    try:
        reporter = _ConflictReporter()
        result = Resolver(provider, reporter).resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        for cause in exc.causes:
            reason = provider.empty_reasons.get(cause.requirement.name, "")
            if reason.startswith("no file of") and cause.requirement.name not in provider.conda:
                by = cause.parent.describe() if cause.parent else cause.requirement.parent
                raise PipResolutionError(f"{target.platform}: {reason}\n  (required by {by})") from None
        raise PipResolutionError(_explain(exc, provider, reporter)) from None
    except ResolutionTooDeep:
        raise PipResolutionError(
            f"pip requirements on {target.platform}: no resolution after {max_rounds} rounds of backtracking; "
            "pin some of the requirements"
        ) from None
    extras_of: dict[str, set[str]] = {}
    for cand in result.mapping.values():
        extras_of.setdefault(cand.name, set()).update(cand.extras)
    out = []
    for key, cand in sorted(result.mapping.items()):
        if cand.extras or cand.conda is not None or cand.name == PYTHON:
            continue
        deps: dict[str, list[str]] = {}
        for dep in provider.requires(cand.file):
            if dep.marker is None or target.evaluate(dep.marker, extras_of.get(cand.name, ())):
                deps.setdefault(canonicalize_name(dep.name), []).append(str(dep.specifier))
        f = cand.file
        if not f.sha256:
            raise PipResolutionError(f"{f.filename}: the index gives no sha256 for it, so it cannot be locked")
        out.append(
            LockedPip(
                name=key,
                version=str(cand.version),
                url=f.url.split("#")[0],
                sha256=f.sha256,
                filename=f.filename,
                dependencies={n: ",".join(s for s in specs if s) or "*" for n, specs in sorted(deps.items())},
                direct=provider.is_direct(f),
            )
        )
    return out
