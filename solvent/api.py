"""``solvent.solve()``: channels, virtual packages and the solver joined in one call.

This is the only module that imports both :mod:`solvent.channels` and :mod:`solvent.solver`; the
solver itself talks to a :class:`~solvent.solver.provider.RecordSource` and knows nothing of HTTP.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterable, Sequence, Union

from solvent.collector import collector_paused
from solvent.errors import InvalidInput
from solvent.match_spec import MatchSpec, parse_match_spec
from solvent.record import PackageRecord
from solvent.slots import SlotValue
from solvent.solver.provider import Provider, RecordSource, requested_features
from solvent.solver.resolver import UPDATE_MODIFIERS, ResolveStats

if TYPE_CHECKING:
    from datetime import datetime

SpecLike = Union[str, MatchSpec]
BACKENDS = ("cdcl", "pycosat", "resolvelib")


class Solution(SlotValue):
    """The records to install for a request, and how long finding them took."""

    __slots__ = ("packages", "platform", "specs", "stats", "timings", "virtual_packages")

    def __init__(
        self,
        packages: list[PackageRecord],
        specs: list[MatchSpec],
        platform: str,
        virtual_packages: list[PackageRecord],
        timings: dict[str, float] | None = None,
        stats: ResolveStats | None = None,
    ) -> None:
        self.packages = packages
        self.specs = specs
        self.platform = platform
        self.virtual_packages = virtual_packages
        self.timings: dict[str, float] = {} if timings is None else timings
        self.stats = stats

    def names(self) -> list[str]:
        return [r.name for r in self.packages]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form: stable keys, packages sorted by name."""
        return {
            "ok": True,
            "platform": self.platform,
            "specs": [str(s) for s in self.specs],
            "virtual_packages": [f"{r.name}={r.version}={r.build}" for r in self.virtual_packages],
            "packages": [package_dict(r) for r in self.packages],
            "timings": {k: round(v, 6) for k, v in sorted(self.timings.items())},
            # False when the optimizer's conflict budget ran out: a valid environment, possibly
            # not conda's exact choice (the default back-end only; the others always finish).
            "optimal": self.stats.optimal if self.stats is not None else True,
        }


def package_dict(record: PackageRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "version": record.version,
        "build": record.build,
        "build_number": record.build_number,
        "channel": record.channel,
        "subdir": record.subdir,
        "fn": record.fn,
        "url": record.url,
        "md5": record.md5,
        "sha256": record.sha256,
        "depends": list(record.depends),
        "constrains": list(record.constrains),
    }


def parse_specs(specs: Iterable[SpecLike]) -> list[MatchSpec]:
    return [s if isinstance(s, MatchSpec) else parse_match_spec(s) for s in specs]


def to_epoch_ms(value: datetime | str | int | float | None) -> int | None:
    """``exclude_newer`` as milliseconds since the epoch (repodata timestamps are in ms): an ISO
    date string parsed here, the rest converted as :class:`ChannelIndex` converts its cutoff."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    from solvent.channels.index import to_epoch_ms as cutoff_ms  # only a date needs it

    if isinstance(value, str):
        from datetime import datetime

        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f"invalid date {value!r}: expected an ISO date such as 2024-05-01 or 2024-05-01T12:00:00Z"
            ) from None
    return cutoff_ms(value)


class _WithInstalled:
    """A record source that also offers the installed records, even if no channel has them."""

    def __init__(self, source: RecordSource, installed: Sequence[PackageRecord]) -> None:
        self.source = source
        self.installed: dict[str, list[PackageRecord]] = {}
        for record in installed:
            self.installed.setdefault(record.name, []).append(record)

    def records(self, name: str) -> Sequence[PackageRecord]:
        base = list(self.source.records(name))
        extra = [r for r in self.installed.get(name, ()) if r not in set(base)]
        return base + extra

    def channel_rank(self, record: PackageRecord) -> int:
        return self.source.channel_rank(record)

    def names(self) -> set[str]:
        names = getattr(self.source, "names", None)
        return (set(names()) if names else set()) | set(self.installed)


def _virtual_packages(platform: str, given: Sequence[str | PackageRecord] | None) -> list[PackageRecord]:
    """``None``: what the machine (or a typical machine of ``platform``) has; a list: exactly that."""
    from solvent.virtual_packages import parse_virtual_package, resolve_virtual_packages

    if given is None:
        return list(resolve_virtual_packages(platform, None))
    out: dict[str, PackageRecord] = {}
    for item in given:
        record = item if isinstance(item, PackageRecord) else parse_virtual_package(item)
        out[record.name] = record
    return [out[name] for name in sorted(out)]


def _dependency_closure(installed: Sequence[PackageRecord], roots: Iterable[str]) -> set[str]:
    by_name = {r.name: r for r in installed}
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        record = by_name.get(name)
        if record is not None:
            stack.extend(s.name for s in record.depends_specs)
    return seen


def _python_within_minor(live: Sequence[PackageRecord]) -> MatchSpec | None:
    """``python X.Y.*`` for the installed python, None when there is none."""
    python = next((r for r in live if r.name == "python"), None)
    if python is None:
        return None
    return parse_match_spec(f"python {'.'.join(python.version.split('.')[:2])}.*")


def _all_satisfied(specs: Sequence[MatchSpec], live: Sequence[PackageRecord], pins: Sequence[MatchSpec]) -> bool:
    by_name = {r.name: r for r in live}
    for spec in (*specs, *pins):
        record = by_name.get(spec.name)
        if record is None:
            if spec in pins:
                continue  # a pin only constrains a name that is there
            return False
        if not spec.match(record):
            return False
    return True


@collector_paused
def solve(
    specs: Iterable[SpecLike],
    channels: Sequence[str] = (),
    platform: str | None = None,
    *,
    virtual_packages: Sequence[str | PackageRecord] | None = None,
    channel_priority: str = "flexible",
    backend: str = "cdcl",
    policy: str = "classic",
    installed: Sequence[PackageRecord] = (),
    history: Iterable[SpecLike] = (),
    pins: Iterable[SpecLike] = (),
    update_modifier: str = "update-specs",
    offline: bool = False,
    cache_dir: str | None = None,
    exclude_newer: datetime | str | int | None = None,
    source: RecordSource | None = None,
    quiet: bool = True,
    add_pip_as_python_dependency: bool = False,
) -> Solution:
    """Solve ``specs`` against ``channels`` for ``platform`` as conda would.

    ``source`` replaces the channels with any record source (tests, lockfiles). Virtual packages:
    ``None`` detects them for the running machine's platform (with ``CONDA_OVERRIDE_*``), or uses
    a typical machine's set for another platform; a list (``["__cuda=12.2", "__glibc=2.28"]``) is
    taken as exactly the target's virtual packages (the CLI merges ``--virtual-package`` flags
    into the detected set before calling this).
    """
    from solvent.platforms import native_platform, validate_platform

    t0 = time.perf_counter()
    platform = validate_platform(platform or native_platform())
    if backend not in BACKENDS:
        raise InvalidInput(f"unknown back-end {backend!r}: expected one of {', '.join(BACKENDS)}")
    if update_modifier not in UPDATE_MODIFIERS:
        raise InvalidInput(
            f"unknown update modifier {update_modifier!r}: expected one of {', '.join(UPDATE_MODIFIERS)}"
        )
    requested = parse_specs(specs)
    if not requested:
        raise InvalidInput("nothing to solve: give at least one spec")
    # A spec asked for now replaces what was asked for the same name earlier (conda's specs_map).
    asked_now = {s.name for s in requested}
    history_specs = [s for s in parse_specs(history) if s.name not in asked_now]
    pin_specs = parse_specs(pins)
    virtual = _virtual_packages(platform, virtual_packages)
    cutoff = to_epoch_ms(exclude_newer)

    if source is None:
        if not channels:
            raise InvalidInput("no channels given: pass at least one channel (e.g. conda-forge)")
        from solvent.channels.index import ChannelIndex

        # exclude_newer is applied by the provider (for every source), not by the index.
        source = ChannelIndex(channels, platform, cache_dir=cache_dir, offline=offline, quiet=quiet)
    prefetch = getattr(source, "prefetch", None)
    if prefetch is not None:
        prefetch([*requested, *history_specs])
    live = [r for r in installed if not r.is_virtual]
    if update_modifier == "update-deps" and live:
        # conda solves twice: first as update-specs, then with every dependency of the requested
        # specs in that answer asked for by name (their history constraints and targets dropped,
        # pins kept, python held to its minor version), as if the user had typed them.
        same: dict[str, Any] = dict(
            virtual_packages=virtual,
            channel_priority=channel_priority,
            backend=backend,
            policy=policy,
            installed=installed,
            history=history,
            pins=pins,
            update_modifier="update-specs",
            offline=offline,
            cache_dir=cache_dir,
            exclude_newer=exclude_newer,
            source=source,
            quiet=quiet,
            add_pip_as_python_dependency=add_pip_as_python_dependency,
        )
        first = solve(requested, channels, platform, **same)
        pinned = {s.name for s in pin_specs}
        deps = _dependency_closure(first.packages, asked_now) - asked_now
        widened = [
            _python_within_minor(live) or parse_match_spec("python") if name == "python" else parse_match_spec(name)
            for name in sorted(deps)
            if name not in pinned and not name.startswith("__")
        ]
        again = solve([*widened, *requested], channels, platform, **same)
        again.specs = requested
        again.timings = {
            "load_s": first.timings["load_s"] + again.timings["load_s"],
            "solve_s": first.timings["solve_s"] + again.timings["solve_s"],
        }
        return again
    if installed:
        source = _WithInstalled(source, installed)

    if update_modifier == "specs-satisfied-skip-solve" and live and _all_satisfied(requested, live, pin_specs):
        # conda's fast path: every requested spec already holds in the environment, so it stays
        # exactly as it is (no solve, no updates of anything).
        return Solution(
            packages=sorted(live, key=lambda r: r.name),
            specs=requested,
            platform=platform,
            virtual_packages=list(virtual),
            timings={"load_s": time.perf_counter() - t0, "solve_s": 0.0},
            stats=None,
        )
    requested_names = {s.name for s in requested}
    required = list(history_specs)
    targets: list[PackageRecord] = []
    keep_free: set[str] = set(requested_names)
    if update_modifier == "update-all":
        # conda drops the version constraints of everything the user asked for earlier so all
        # of it can float to the newest versions (pins still hold, through the provider), and
        # keeps only those names: a dependency nobody asked for may leave the environment.
        # Without any history every installed name is kept, unconstrained.
        required = [parse_match_spec(s.name) for s in history_specs if s.name not in requested_names]
        if not history_specs:
            required = [parse_match_spec(r.name) for r in live if r.name not in requested_names]
    else:
        for record in live:
            if record.name in requested_names:
                continue
            required.append(parse_match_spec(record.name))
            if record.name not in keep_free:
                targets.append(record)
    if update_modifier != "freeze-installed" and "python" not in requested_names:
        # conda's business rule: python is never moved past its installed minor version unless it
        # is asked for (a python spec that already names a version is left as it is).
        held = _python_within_minor(live)
        current = next((spec for spec in required if spec.name == "python"), None)
        if held is not None and (current is None or current.version is None):
            required = [spec for spec in required if spec.name != "python"]
            required.append(held if current is None else MatchSpec(current, version=held.get("version")))
    target_set = set(targets)

    provider = Provider(
        source,
        platform=platform,
        virtual_packages=virtual,
        channel_priority=channel_priority,
        pins=pin_specs,
        exclude_newer_ms=cutoff,
        prefer=(target_set.__contains__) if target_set else None,
        add_pip_as_python_dependency=add_pip_as_python_dependency,
        features=requested_features(requested),
    )
    t1 = time.perf_counter()
    stats: ResolveStats | None = None
    if backend == "cdcl":
        from solvent.solver.resolver import Resolver

        resolver = Resolver(provider, policy=policy)
        packages = resolver.resolve(
            requested, required=required, targets=targets, freeze=update_modifier == "freeze-installed"
        )
        stats = resolver.stats
    else:
        from solvent.solver.backends import solve_with_backend

        packages = solve_with_backend(
            backend,
            provider,
            requested,
            required=required,
            policy=policy,
            targets=targets,
            freeze=update_modifier == "freeze-installed",
        )
    t2 = time.perf_counter()
    return Solution(
        packages=packages,
        specs=requested,
        platform=platform,
        virtual_packages=list(virtual),
        timings={"load_s": t1 - t0, "solve_s": t2 - t1},
        stats=stats,
    )
