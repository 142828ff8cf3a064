"""The ``pip:`` entries of environment.yml, read the way ``conda env create`` hands them to pip.

conda writes the entries to a temporary requirements file next to environment.yml and runs
``pip install -r`` on it, so an entry may be a PEP 508 requirement or one of the options a
requirements file accepts. Only the options that still mean something in a lock are taken:
``-r``/``--requirement`` (relative to the environment file, as pip resolves them against the
temporary file there) and the index options. Anything else (``-e``, ``--find-links``,
``--no-binary``, ...) changes what gets installed in ways a hash-pinned lock cannot record, so it
is refused by name rather than silently dropped.

Index URLs, strongest first: ``--pypi-url`` on the command line (first = index, the rest extra
indexes), ``--index-url`` in the file, ``PIP_INDEX_URL``, then https://pypi.org/simple. Extra
indexes from every source are added up (command line, file, ``PIP_EXTRA_INDEX_URL``), as pip adds
the environment's and the file's.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from solvent.channels.redact import strip_secrets
from solvent.errors import InvalidInput

DEFAULT_INDEX = "https://pypi.org/simple"
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


@dataclass(frozen=True)
class PipRequirement:
    """One requirement and where it was written, so errors can point at the line."""

    requirement: Requirement
    source: str
    written: str = ""  # the line as written: what the content hash covers (a local path stays relative)

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    def __str__(self) -> str:
        return str(self.requirement)


@dataclass
class PipInputs:
    """Everything the pip lock depends on: requirements in file order and the index URLs."""

    requirements: list[PipRequirement] = field(default_factory=list)
    index_url: str = DEFAULT_INDEX
    extra_index_urls: list[str] = field(default_factory=list)

    @property
    def index_urls(self) -> list[str]:
        return list(dict.fromkeys([self.index_url, *self.extra_index_urls]))

    def hash_document(self) -> dict[str, object]:
        """What ``content_hash`` covers: a lock is stale when a requirement or an index changes.

        Requirements count as written, not as resolved paths, so a checkout in another folder has
        the same hash; a local archive counts by its content too, so rebuilding it makes the lock stale.
        """
        reqs = []
        for r in self.requirements:
            text = r.written or str(r.requirement)
            url = r.requirement.url or ""
            if url.startswith("file:"):
                text += " sha256=" + _file_sha256(url)
            reqs.append(text)
        # credentials are not part of what was locked: a rotated token must not make the lock stale
        return {"requirements": sorted(reqs), "index_urls": [strip_secrets(u) for u in self.index_urls]}


def _file_sha256(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    try:
        return hashlib.sha256(Path(unquote(urlsplit(url).path)).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def is_path_requirement(text: str) -> bool:
    """A bare path or file: URL rather than a PEP 508 requirement (pip tells them apart the same way)."""
    return text.startswith((".", "/", "file:")) or (text.endswith(_ARCHIVE_SUFFIXES) and "@" not in text)


def _path_requirement(text: str, where: str, base: Path) -> Requirement | None:
    """``./dist/pkg-1.0-py3-none-any.whl`` or ``file:///...``: a local archive, as pip accepts it."""
    if not is_path_requirement(text):
        return None
    raw = text[len("file://") :] if text.startswith("file://") else text
    path = (base / raw).resolve()
    name = path.name
    if name.endswith(".whl"):
        project = name.split("-", 1)[0]
    elif name.endswith(_ARCHIVE_SUFFIXES):
        project = name.rsplit("-", 1)[0] if "-" in name else ""
    else:
        raise InvalidInput(
            f"{where}: {text!r} is a source directory: it has no hash to lock; build a wheel and name it"
        )
    if not project:
        raise InvalidInput(f"{where}: cannot tell the project name from {text!r}; write 'name @ {path.as_uri()}'")
    return Requirement(f"{project} @ {path.as_uri()}")


def _option(line: str) -> tuple[str, str] | None:
    """``--index-url=X``, ``--index-url X``, ``-iX``, ``-i X`` -> (option, value)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        words = line.split()
    if not words:
        return None
    head = words[0]
    if head.startswith("--") and "=" in head:
        opt, value = head.split("=", 1)
        return opt, " ".join([value, *words[1:]]).strip()
    if head in ("-r", "-i", "-e", "-f", "-c") or head.startswith("--"):
        return head, " ".join(words[1:]).strip()
    if head[:2] in ("-r", "-i", "-e", "-f", "-c"):
        return head[:2], head[2:] + (" " + " ".join(words[1:]) if len(words) > 1 else "")
    return head, " ".join(words[1:]).strip()


def _split_urls(value: str | None) -> list[str]:
    return [u for u in (value or "").split() if u]


class _Reader:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.out = PipInputs()
        self.file_index: str | None = None
        self.seen_files: set[Path] = set()

    def line(self, text: str, where: str, base: Path) -> None:
        text = text.strip()
        if not text or text.startswith("#"):
            return
        if text.startswith("-"):
            self._option(text, where, base)
            return
        req = _path_requirement(text, where, base)
        if req is None:
            try:
                req = Requirement(text)
            except InvalidRequirement as exc:
                raise InvalidInput(f"{where}: invalid pip requirement {text!r}: {exc}") from None
        if req.url and req.url.startswith("file:") and not req.url.startswith("file:///"):
            raise InvalidInput(f"{where}: {text!r}: use an absolute file:/// URL or a relative path")
        self.out.requirements.append(PipRequirement(req, where, text))

    def _option(self, text: str, where: str, base: Path) -> None:
        parsed = _option(text)
        opt, value = parsed if parsed else (text, "")
        if opt in ("-r", "--requirement"):
            self.file(base / value, where)
        elif opt in ("-i", "--index-url"):
            if not value:
                raise InvalidInput(f"{where}: {opt} needs a URL")
            self.file_index = value.rstrip("/")
        elif opt == "--extra-index-url":
            if not value:
                raise InvalidInput(f"{where}: {opt} needs a URL")
            self.out.extra_index_urls.append(value.rstrip("/"))
        else:
            raise InvalidInput(
                f"{where}: pip option {text!r} cannot be locked (solvent locks requirements, -r/--requirement, "
                "--index-url and --extra-index-url)"
            )

    def file(self, path: Path, where: str) -> None:
        resolved = path.resolve()
        if resolved in self.seen_files:
            raise InvalidInput(f"{where}: {path} is included twice (a -r cycle?)")
        self.seen_files.add(resolved)
        try:
            text = resolved.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"{where}: cannot read requirements file {path}: {exc.strerror}") from None
        joined = text.replace("\\\n", "")  # pip joins continuation lines before reading
        for lineno, raw in enumerate(joined.splitlines(), 1):
            line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
            self.line(line, f"{path}:{lineno}", resolved.parent)


def read_pip_section(
    lines: Sequence[tuple[str, str]],
    base: Path,
    *,
    cli_urls: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> PipInputs:
    """``lines`` are (entry, "file:line") pairs from environment.yml; ``base`` is its folder."""
    env = os.environ if environ is None else environ
    reader = _Reader(base)
    for text, where in lines:
        reader.line(text, where, base)
    out = reader.out
    cli = [u.rstrip("/") for u in cli_urls]
    out.index_url = (
        (cli[:1] or [reader.file_index or ""])[0] or env.get("PIP_INDEX_URL", "").rstrip("/") or DEFAULT_INDEX
    )
    extras = [*cli[1:], *out.extra_index_urls, *(u.rstrip("/") for u in _split_urls(env.get("PIP_EXTRA_INDEX_URL")))]
    out.extra_index_urls = [u for u in dict.fromkeys(extras) if u != out.index_url]
    return out
