"""The error hierarchy.

Every error solvent raises on bad input derives from :class:`SolventError`, so a program (and the
CLI) can catch one type and show a clean message instead of a traceback. Each error knows its
``kind`` (used as the JSON ``error.kind``) and the exit code the CLI uses for it.
"""

from __future__ import annotations


class SolventError(Exception):
    """Base of every error solvent raises on purpose."""

    kind = "error"
    exit_code = 2


class InvalidInput(SolventError, ValueError):
    """Bad user input of any sort (exit code 2)."""

    kind = "invalid-input"


class InvalidVersion(InvalidInput):
    """A version string conda would refuse."""

    kind = "invalid-version"


class InvalidVersionSpec(InvalidInput):
    """A version constraint such as ``>=1.2,,<2`` that cannot be parsed."""

    kind = "invalid-version-spec"


class InvalidMatchSpec(InvalidInput):
    """A MatchSpec string that cannot be parsed."""

    kind = "invalid-spec"


class InvalidRecord(InvalidInput):
    """A repodata entry that cannot become a PackageRecord (missing name, bad version, ...)."""

    kind = "invalid-record"


class ChannelError(SolventError):
    """A channel name or URL that cannot be resolved, or a channel that does not exist."""

    kind = "unknown-channel"
    exit_code = 2


class FetchError(SolventError):
    """Network or HTTP failure while fetching repodata (exit code 3)."""

    kind = "network"
    exit_code = 3


class CacheError(SolventError):
    """The local repodata cache is missing (offline) or unusable (exit code 3)."""

    kind = "cache"
    exit_code = 3


class RepodataError(SolventError):
    """Truncated, corrupt or otherwise unreadable repodata (exit code 3)."""

    kind = "corrupt-repodata"
    exit_code = 3


class Unsatisfiable(SolventError):
    """No environment satisfies the request; carries a structured explanation (exit code 1).

    ``conflict`` is the structured form (see ``solvent.solver.explain.Conflict``: ``to_dict()``
    for JSON, ``render()`` for people); ``str()`` of the error is the rendered tree.
    """

    kind = "unsatisfiable"
    exit_code = 1

    def __init__(self, message: object, conflict: object = None) -> None:
        super().__init__(str(message))
        self.conflict = conflict if conflict is not None else message


class LockfileError(SolventError):
    """A lockfile that cannot be read, or ``--check`` found it stale (exit code 1)."""

    kind = "lockfile"
    exit_code = 1


class BackendUnavailable(SolventError):
    """A requested solver back-end cannot run (missing optional dependency, limits exceeded)."""

    kind = "backend"
    exit_code = 2
