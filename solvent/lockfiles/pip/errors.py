"""Errors of the PyPI index client, placed in solvent's hierarchy so the CLI maps them to exit codes.

Network trouble subclasses :class:`~solvent.errors.FetchError` and a missing offline cache
:class:`~solvent.errors.CacheError`, so code (and the CLI's exit code 3) treats an index like a
channel. Every message is built from redacted URLs: callers may print them as they are.
"""

from __future__ import annotations

from typing import Sequence

from ...channels.redact import redact
from ...errors import CacheError, FetchError, SolventError


class PipIndexError(SolventError):
    """Anything that went wrong reading a PyPI-style index (exit code 3 unless a subclass says)."""

    kind = "pip-index"
    exit_code = 3

    def __init__(self, message: object) -> None:
        super().__init__(redact(message))


class PipNetworkError(PipIndexError, FetchError):
    """The index could not be reached or answered with an error status (exit code 3)."""

    kind = "network"
    exit_code = 3


class PipCacheError(PipIndexError, CacheError):
    """Offline mode and the page or metadata was never cached (exit code 3)."""

    kind = "cache"
    exit_code = 3


class PipCorruptFile(PipIndexError):
    """A download does not match the hash the index announced, or is not a readable archive."""

    kind = "pip-corrupt"
    exit_code = 3


class PipProjectNotFound(PipIndexError):
    """No index knows the project: a user typo or a missing extra index (exit code 2)."""

    kind = "pip-project-not-found"
    exit_code = 2

    def __init__(self, project: str, index_urls: Sequence[str]) -> None:
        self.project = project
        self.index_urls = tuple(redact(url) for url in index_urls)
        where = ", ".join(self.index_urls) or "(no index URL)"
        super().__init__(f"pip package {project!r} was not found on any index: {where}")


class PipMetadataError(PipIndexError):
    """A file's dependencies cannot be known without running a build backend, or its metadata is bad.

    Exit code 2: the fix is on the user's side (pin a version with a wheel, or use conda for it).
    """

    kind = "pip-metadata"
    exit_code = 2

    def __init__(self, message: object, *, project: str = "", filename: str = "") -> None:
        self.project = project
        self.filename = filename
        super().__init__(message)
