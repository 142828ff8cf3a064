"""Direct requirements: ``name @ https://.../x.whl#sha256=...`` and local archives (``./dist/x.whl``).

They are locked as written, with their own dependencies resolved from the index like any other.
A local file is read here (hash and metadata); a remote one must carry a ``#sha256=`` fragment,
because a lock is only as good as its hash and downloading a whole archive just to hash it would
make the lock depend on what the server happens to send today. Its metadata then comes through
the index client (PEP 658 is not available for a bare URL, so it range-reads the wheel, or
downloads the sdist and checks it against that hash).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from solvent.lockfiles.pip import metadata as md
from solvent.lockfiles.pip.errors import PipIndexError
from solvent.lockfiles.pip.models import CoreMetadata, PypiFile


class DirectRequirementError(PipIndexError):
    """A direct URL or path that cannot be locked (exit code 2: the fix is in the environment file)."""

    kind = "pip-direct"
    exit_code = 2


def _file_for(url: str, sha256: str | None, project: str, where: str) -> PypiFile:
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    try:
        if filename.endswith(".whl"):
            name, version, _, tags = parse_wheel_filename(filename)
            is_wheel = True
        else:
            name, version = parse_sdist_filename(filename)
            tags, is_wheel = frozenset(), False
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise DirectRequirementError(f"{where}: {url} is not a wheel or sdist file name: {exc}") from None
    if name != project:
        raise DirectRequirementError(f"{where}: {filename} is a file of {name}, not of {project}")
    return PypiFile(project, filename, url, sha256, None, False, False, None, version, is_wheel, frozenset(tags))


def local_file(requirement: Requirement, where: str) -> tuple[PypiFile, CoreMetadata]:
    """A ``file:///`` archive: its sha256 and core metadata, read from the file itself."""
    assert requirement.url is not None
    path = Path(unquote(urlsplit(requirement.url).path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DirectRequirementError(f"{where}: cannot read {path}: {exc.strerror}") from None
    file = _file_for(requirement.url, hashlib.sha256(data).hexdigest(), canonicalize_name(requirement.name), where)
    try:
        if file.is_wheel:
            with zipfile.ZipFile(path) as archive:
                raw = md.wheel_metadata(archive, file)
        else:
            raw = md.sdist_pkg_info(data, file)
            md.check_static(raw, file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DirectRequirementError(f"{where}: {path} is not a readable archive: {exc}") from None
    return file, md.core_metadata(raw, file)


def remote_file(requirement: Requirement, index: Any, where: str) -> tuple[PypiFile, CoreMetadata]:
    """An http(s) archive with a ``#sha256=`` fragment; metadata through the index client."""
    assert requirement.url is not None
    url, _, fragment = requirement.url.partition("#")
    algo, _, digest = fragment.partition("=")
    if algo != "sha256" or len(digest) != 64:
        raise DirectRequirementError(
            f"{where}: `{requirement}` needs a #sha256=<hex> fragment: a direct URL is locked by its hash"
        )
    file = _file_for(url, digest.lower(), canonicalize_name(requirement.name), where)
    return file, index.metadata(file)


def direct_file(requirement: Requirement, index: Any, where: str) -> tuple[PypiFile, CoreMetadata]:
    assert requirement.url is not None
    if requirement.url.startswith("file:"):
        return local_file(requirement, where)
    if requirement.url.startswith(("http://", "https://")):
        return remote_file(requirement, index, where)
    raise DirectRequirementError(f"{where}: `{requirement}`: only https://, http:// and file:// archives can be locked")
