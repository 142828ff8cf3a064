"""An independent checker of solutions (deliberately sharing no code with the search)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from solvent.match_spec import MatchSpec, parse_match_spec
from solvent.record import PackageRecord


@dataclass(frozen=True)
class Violation:
    kind: str
    package: str | None
    spec: str | None
    message: str

    def __str__(self) -> str:
        return self.message


def _spec(s: str | MatchSpec) -> MatchSpec:
    return s if isinstance(s, MatchSpec) else parse_match_spec(s)


def verify_solution(
    packages: Sequence[PackageRecord],
    specs: Iterable[str | MatchSpec],
    *,
    virtual_packages: Sequence[PackageRecord] = (),
    platform: str | None = None,
) -> list[Violation]:
    out: list[Violation] = []
    by_name: dict[str, list[PackageRecord]] = {}
    for r in packages:
        by_name.setdefault(r.name, []).append(r)
        if r.is_virtual:
            out.append(Violation("virtual-installed", r.dist_str(), None, f"{r.dist_str()} is a virtual package"))
        if platform is not None and r.subdir not in (platform, "noarch"):
            out.append(
                Violation("wrong-subdir", r.dist_str(), None, f"{r.dist_str()} is for {r.subdir}, not {platform}")
            )
    for name, recs in by_name.items():
        if len(recs) > 1:
            out.append(Violation("duplicate-name", name, None, f"{len(recs)} records of {name}"))
    present = dict(by_name)
    for v in virtual_packages:
        present.setdefault(v.name, []).append(v)
    everything = [r for rs in present.values() for r in rs]

    def satisfied(spec: MatchSpec) -> bool:
        pool = present.get(spec.name, ()) if "*" not in spec.name else everything
        return any(spec.match(r) for r in pool)

    for s in specs:
        spec = _spec(s)
        if not satisfied(spec):
            out.append(Violation("request", None, str(spec), f"requested {spec} is not satisfied"))
    for r in packages:
        for d in r.depends_specs:
            if not satisfied(d):
                out.append(Violation("depends", r.dist_str(), str(d), f"{r.dist_str()} depends on {d}, not satisfied"))
        for c in r.constrains_specs:
            for other in present.get(c.name, ()):
                if not c.match(other):
                    out.append(
                        Violation(
                            "constrains",
                            r.dist_str(),
                            str(c),
                            f"{r.dist_str()} constrains {c}, but {other.dist_str()} is present",
                        )
                    )
        for f in r.features:
            if not any(f in o.track_features for o in everything):
                out.append(
                    Violation("feature", r.dist_str(), f, f"{r.dist_str()} needs feature {f}, which nothing tracks")
                )
    return out


def assert_valid_solution(
    packages: Sequence[PackageRecord],
    specs: Iterable[str | MatchSpec],
    *,
    virtual_packages: Sequence[PackageRecord] = (),
    platform: str | None = None,
) -> None:
    violations = verify_solution(packages, specs, virtual_packages=virtual_packages, platform=platform)
    if violations:
        raise AssertionError("invalid solution:\n" + "\n".join(f"  - {v}" for v in violations))
