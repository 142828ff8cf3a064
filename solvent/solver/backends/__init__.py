"""Alternative search back-ends over the same provider and policy.

``cdcl`` (the default, :mod:`solvent.solver.resolver`) is always available; ``pycosat`` and
``resolvelib`` import their optional dependency only when asked for.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from solvent.errors import InvalidInput
from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.provider import Provider


def solve_with_backend(
    backend: str,
    provider: Provider,
    specs: Sequence[MatchSpec],
    *,
    required: Iterable[MatchSpec] = (),
    policy: str = "classic",
    targets: Sequence[PackageRecord] = (),
    freeze: bool = False,
) -> list[PackageRecord]:
    """``targets`` (installed records to keep) and ``freeze`` shape the objectives of the
    optimizing back-ends; resolvelib has no objectives and answers greedily."""
    if backend == "pycosat":
        from solvent.solver.backends.pycosat_backend import solve_pycosat

        return solve_pycosat(provider, specs, required, policy=policy, targets=targets, freeze=freeze)
    if backend == "resolvelib":
        from solvent.solver.backends.resolvelib_backend import solve_resolvelib

        return solve_resolvelib(provider, specs, required)
    if backend == "cdcl":
        from solvent.solver.resolver import Resolver

        return Resolver(provider, policy=policy).resolve(
            specs, required=list(required), targets=list(targets), freeze=freeze
        )
    raise InvalidInput(f"unknown back-end {backend!r}: expected cdcl, pycosat or resolvelib")
