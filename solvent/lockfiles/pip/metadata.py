"""Core metadata: parsing it, finding it inside wheels and sdists, and deciding whether to trust it.

solvent never runs a build backend, so an sdist counts only when its PKG-INFO is *static*: Metadata
2.2+ (PEP 643) promises that fields not listed in ``Dynamic`` match what a build would produce.
"""

from __future__ import annotations

import email.parser
import io
import re
import tarfile
import zipfile
from typing import Any, Callable, Mapping

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import PipCorruptFile, PipMetadataError
from .models import CoreMetadata, PypiFile

_parse_email: Callable[[bytes], tuple[Mapping[str, Any], Any]] | None
try:  # packaging >= 23.1; the declared floor is 23.0, which only has the email module to offer
    from packaging.metadata import parse_email as _parse_email
except ImportError:  # pragma: no cover - depends on the installed packaging
    _parse_email = None

MAX_METADATA_SIZE = 16 * 1024 * 1024  # a METADATA bigger than this is an attack, not a description
_DIST_INFO_METADATA = re.compile(r"^([^/]+)\.dist-info/METADATA$")

NO_BUILD_HINT = (
    "solvent reads only static metadata and no build backends are run; pin a version with a wheel "
    "for the target platform, or install the package from conda instead"
)


def parse_fields(data: bytes) -> dict[str, Any]:
    """Header fields of a METADATA / PKG-INFO document as packaging's raw dict spells them."""
    if _parse_email is not None:
        raw, _unparsed = _parse_email(data)
        return dict(raw)
    return parse_fields_email(data)


def parse_fields_email(data: bytes) -> dict[str, Any]:
    """The stdlib fallback of :func:`parse_fields` (same keys, lists for multiple-use fields)."""
    message = email.parser.BytesHeaderParser().parsebytes(data)
    out: dict[str, Any] = {}
    for key, multiple in (
        ("Metadata-Version", False),
        ("Name", False),
        ("Version", False),
        ("Requires-Python", False),
        ("Requires-Dist", True),
        ("Provides-Extra", True),
        ("Dynamic", True),
    ):
        values = [str(v).strip() for v in message.get_all(key) or []]
        if values:
            out[key.lower().replace("-", "_")] = values if multiple else values[0]
    return out


def core_metadata(data: bytes, file: PypiFile) -> CoreMetadata:
    """The CoreMetadata of ``file`` from its METADATA bytes, checked against the file's name and version."""
    fields = parse_fields(data)
    name, version = fields.get("name"), fields.get("version")
    if not name or not version:
        raise PipMetadataError(
            f"the metadata of {file.filename} ({file.project}) has no Name or Version",
            project=file.project,
            filename=file.filename,
        )
    try:
        same_version = Version(version) == file.version
    except InvalidVersion:
        same_version = False
    if canonicalize_name(name) != file.project or not same_version:
        raise PipMetadataError(
            f"the metadata of {file.filename} says {name} {version}, not {file.project} {file.version}",
            project=file.project,
            filename=file.filename,
        )
    return CoreMetadata(
        name=name,
        version=version,
        requires_dist=tuple(fields.get("requires_dist") or ()),
        requires_python=fields.get("requires_python") or None,
        provides_extra=tuple(fields.get("provides_extra") or ()),
    )


def check_static(data: bytes, file: PypiFile) -> None:
    """Refuse sdist metadata whose dependencies a build could change (anything before PEP 643)."""
    fields = parse_fields(data)
    version = str(fields.get("metadata_version") or "1.0")
    try:
        new_enough = Version(version) >= Version("2.2")
    except InvalidVersion:
        new_enough = False
    what = f"{file.project} {file.version}"
    if not new_enough:
        raise PipMetadataError(
            f"cannot read the dependencies of {what} from the sdist {file.filename}: its PKG-INFO is "
            f"Metadata-Version {version} (static metadata needs 2.2 or later); {NO_BUILD_HINT}",
            project=file.project,
            filename=file.filename,
        )
    dynamic = {str(value).strip().lower() for value in fields.get("dynamic") or ()}
    if dynamic & {"requires-dist", "requires-python"}:
        listed = ", ".join(sorted(dynamic & {"requires-dist", "requires-python"}))
        raise PipMetadataError(
            f"cannot read the dependencies of {what} from the sdist {file.filename}: its PKG-INFO "
            f"declares {listed} as Dynamic (computed by a build); {NO_BUILD_HINT}",
            project=file.project,
            filename=file.filename,
        )


def wheel_metadata(archive: zipfile.ZipFile, file: PypiFile) -> bytes:
    """The ``<name>.dist-info/METADATA`` member of a wheel (the one named for the project)."""
    candidates = []
    for info in archive.infolist():
        match = _DIST_INFO_METADATA.match(info.filename)
        if match:
            candidates.append((match.group(1), info))
    named = [info for stem, info in candidates if canonicalize_name(stem.rsplit("-", 1)[0]) == file.project]
    chosen = named or [info for _stem, info in candidates]
    if len(chosen) != 1:
        raise PipMetadataError(
            f"{file.filename} has {len(chosen)} .dist-info/METADATA files; expected one for {file.project}",
            project=file.project,
            filename=file.filename,
        )
    if chosen[0].file_size > MAX_METADATA_SIZE:
        raise PipCorruptFile(f"{file.filename}: METADATA of {chosen[0].file_size} bytes is implausibly large")
    try:
        return archive.read(chosen[0])
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise PipCorruptFile(f"cannot read METADATA from {file.filename}: {exc}") from None


def open_wheel(data: bytes | io.RawIOBase, file: PypiFile) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PipCorruptFile(f"{file.filename} from {file.url} is not a readable wheel: {exc}") from None


def sdist_pkg_info(data: bytes, file: PypiFile) -> bytes:
    """The top-level ``PKG-INFO`` of a .tar.gz or .zip sdist (not one of a vendored subproject)."""
    try:
        if file.filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                found = _top_pkg_info(archive.namelist())
                if found is not None:
                    return archive.read(found)
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                found = _top_pkg_info(archive.getnames())
                if found is not None:
                    member = archive.extractfile(found)
                    if member is not None:
                        return member.read(MAX_METADATA_SIZE)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise PipCorruptFile(f"{file.filename} from {file.url} is not a readable sdist: {exc}") from None
    raise PipMetadataError(
        f"the sdist {file.filename} of {file.project} has no PKG-INFO; {NO_BUILD_HINT}",
        project=file.project,
        filename=file.filename,
    )


def _top_pkg_info(names: list[str]) -> str | None:
    for name in names:
        parts = name.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "PKG-INFO":
            return name
    return None
