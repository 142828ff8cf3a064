"""The records the index client hands to the resolver: one per listed file, one per metadata read.

Kept apart from the HTTP code so the resolver and the lockfile writer can import them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class PypiFile:
    """One distribution file listed by an index."""

    project: str  # PEP 503 normalized project name
    filename: str
    url: str  # absolute, fragment removed, without credentials
    sha256: str | None
    requires_python: str | None
    yanked: bool
    has_metadata: bool  # PEP 658/714: the index serves ``url + ".metadata"``
    metadata_sha256: str | None
    version: Version
    is_wheel: bool
    tags: frozenset[Tag] = field(default_factory=frozenset)  # empty for sdists
    index_url: str = ""  # which index listed it (without credentials)
    yanked_reason: str | None = None

    def __repr__(self) -> str:  # the dataclass repr would list every tag of a manylinux wheel
        return f"PypiFile({self.filename!r}, index={self.index_url!r})"


@dataclass(frozen=True)
class CoreMetadata:
    """The parts of a distribution's core metadata a resolver needs."""

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()  # raw PEP 508 strings
    requires_python: str | None = None
    provides_extra: tuple[str, ...] = ()


SDIST_SUFFIXES = (".tar.gz", ".zip")


def parse_filename(filename: str, project: str) -> tuple[Version, bool, frozenset[Tag]] | None:
    """(version, is_wheel, tags) of a wheel or sdist of ``project``; None for anything else.

    Eggs, .exe installers, .tar.bz2 sdists and files named for another project are skipped rather
    than rejected: old projects list all of them, and none can be installed by a modern pip anyway.
    """
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return (version, True, frozenset(tags)) if name == project else None
        if filename.endswith(SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return (version, False, frozenset()) if name == project else None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def normalize(project: str) -> str:
    return canonicalize_name(project)
