"""solvent: a pure-Python conda dependency solver.

The public names are imported lazily so that ``import solvent`` stays cheap: a CLI call that only
prints the cache location should not pay for the solver, and the solver should not pay for HTTP.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "VersionOrder": "solvent.version",
    "VersionSpec": "solvent.version_spec",
    "MatchSpec": "solvent.match_spec",
    "PackageRecord": "solvent.record",
    "SolventError": "solvent.errors",
    "InvalidVersion": "solvent.errors",
    "InvalidVersionSpec": "solvent.errors",
    "InvalidMatchSpec": "solvent.errors",
    "InvalidRecord": "solvent.errors",
    "Unsatisfiable": "solvent.errors",
    "solve": "solvent.api",
    "Solution": "solvent.api",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'solvent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
