"""``PypiIndex``: the files and core metadata of PyPI projects, through solvent's HTTP stack and cache.

What the pip resolver asks for is small (a project's file list, then the METADATA of a few files),
so the client fetches as little as the index allows: PEP 658 ``.metadata`` files when listed, else
HTTP Range reads of a wheel's central directory and METADATA member, and only for sdists the whole
archive. Project pages are cached and revalidated like repodata (ETag / Last-Modified, max-age);
metadata is cached forever, keyed by the file's sha256 (or URL), because a released file never
changes. ``offline=True`` answers from that cache alone.

Cache layout under the solvent cache root::

    pypi/<key of index URL>/<project>.page       the page body as served (JSON or HTML)
    pypi/<key of index URL>/<project>.meta.json  url, content type, etag, last_modified, cache_control,
                                                 sha256 of the page, fetched_at (written last: commit point)
    pypi-metadata/<hh>/<key of file>.metadata    METADATA (or PKG-INFO of an sdist)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from ...channels.cache import atomic_write, default_cache_dir, now, sha256_hex
from ...channels.fetch import conditional_headers, is_fresh, refreshed
from ...channels.http import HttpClient, Response, TruncatedDownload
from ...channels.progress import Progress
from ...channels.redact import redact, register_secret, strip_secrets
from ...errors import FetchError, InvalidInput
from . import metadata as md
from .errors import (
    PipCacheError,
    PipCorruptFile,
    PipIndexError,
    PipMetadataError,
    PipNetworkError,
    PipProjectNotFound,
)
from .models import CoreMetadata, PypiFile, normalize
from .simple import ACCEPT, parse_page
from .wheel import TAIL_SIZE, RangeFile, parse_content_range

__all__ = [
    "CoreMetadata",
    "PipCacheError",
    "PipCorruptFile",
    "PipIndexError",
    "PipMetadataError",
    "PipNetworkError",
    "PipProjectNotFound",
    "PypiFile",
    "PypiIndex",
]

log = logging.getLogger("solvent.pip")

PYPI_SIMPLE = "https://pypi.org/simple/"
PAGE_STATE_VERSION = 1
MISSING = (404, 410)
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


@dataclass(frozen=True)
class _IndexUrl:
    """One index URL: the secret-free form for records and cache keys, and its credentials."""

    raw: str
    url: str  # credentials stripped, ends with "/": for records, cache keys and messages
    request_url: str  # without userinfo but with any ``/t/<token>/`` path: what is requested
    netloc: str  # host[:port] without userinfo
    userinfo: str | None  # "user:password" as written in the URL (percent-encoded)

    @classmethod
    def parse(cls, raw: str) -> _IndexUrl:
        parts = urlsplit(raw.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"pip index URL must be http(s)://host/...: {redact(raw)}")
        userinfo = None
        if "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            user, _, password = userinfo.partition(":")
            for secret in (password, user if not password else ""):
                register_secret(secret)
                register_secret(unquote(secret))
        token = re.search(r"/t/([^/]+)", parts.path)
        if token:  # anaconda.org-style token in the path
            register_secret(token.group(1))
        netloc = parts.netloc.rsplit("@", 1)[-1]
        url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
        return cls(raw=raw, url=strip_secrets(url), request_url=url, netloc=netloc.lower(), userinfo=userinfo)

    def project_url(self, project: str) -> str:
        return self.request_url + project + "/"


class PypiIndex:
    """Files and metadata of PyPI projects over one or more simple-API indexes (first URL first)."""

    def __init__(
        self,
        index_urls: Sequence[str],
        *,
        cache_dir: Path | None = None,
        offline: bool = False,
        http: HttpClient | None = None,
        progress: Progress | None = None,
    ) -> None:
        if isinstance(index_urls, str):
            index_urls = [index_urls]
        self.indexes = [_IndexUrl.parse(url) for url in (index_urls or [PYPI_SIMPLE])]
        self.index_urls = [index.url for index in self.indexes]
        self.cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.offline = offline
        self.http = http if http is not None else HttpClient()
        self.progress = progress
        self._files: dict[str, list[PypiFile]] = {}
        self._metadata: dict[PypiFile, CoreMetadata] = {}
        self._download_urls: dict[str, str] = {}  # secret-free file URL -> URL with its path token
        self.stats: dict[str, int] = {"pages_fetched": 0, "pages_not_modified": 0, "metadata_fetched": 0}

    def __repr__(self) -> str:
        return f"PypiIndex({self.index_urls!r}, offline={self.offline})"

    # --- project pages ----------------------------------------------------------------------------

    def files(self, project: str) -> list[PypiFile]:
        """Every wheel and sdist of ``project`` over all indexes, first index first, page order kept."""
        if not _PROJECT_NAME.match(project or ""):
            raise InvalidInput(f"not a valid pip project name: {project!r}")
        name = normalize(project)
        cached = self._files.get(name)
        if cached is not None:
            return list(cached)
        found: list[PypiFile] = []
        known = False
        for index in self.indexes:
            listed = self._project_files(index, name)
            if listed is not None:
                known = True
                found.extend(listed)
        if not known:
            raise PipProjectNotFound(name, self.index_urls)
        self._files[name] = found
        return list(found)

    def _page_paths(self, index: _IndexUrl, project: str) -> tuple[Path, Path]:
        directory = self.cache_root / "pypi" / hashlib.sha256(index.url.encode("utf-8")).hexdigest()[:24]
        return directory / f"{project}.page", directory / f"{project}.meta.json"

    def _project_files(self, index: _IndexUrl, project: str) -> list[PypiFile] | None:
        """The files ``index`` lists for ``project``; None when the index does not know it."""
        page_path, meta_path = self._page_paths(index, project)
        url = index.project_url(project)
        meta = _read_json(meta_path)
        body = _read_checked(page_path, meta.get("sha256")) if meta.get("status") == 200 else None
        if self.offline:
            if meta.get("status") in MISSING:
                return None
            if body is None:
                raise PipCacheError(
                    f"offline mode: the index page of pip package {project!r} on {index.url} is not "
                    f"cached in {self.cache_root}; run once online to fill the cache"
                )
            return self._parse(body, meta, url, project, index)
        if meta.get("status") in MISSING and is_fresh(meta):
            return None
        if body is not None and is_fresh(meta):
            return self._parse(body, meta, url, project, index)
        headers = {"Accept": ACCEPT}
        if body is not None:
            headers.update(conditional_headers(meta))
        response = self._get(url, headers)
        if response.status == 304 and body is not None:
            self.stats["pages_not_modified"] += 1
            self._write_meta(meta_path, refreshed(meta, response))
            return self._parse(body, meta, url, project, index)
        if response.status == 304:  # unsolicited: ask again without validators
            response = self._get(url, {"Accept": ACCEPT})
        self._step(project)
        if response.status == 200:
            self.stats["pages_fetched"] += 1
            new_meta = _page_meta(response, url)
            files = self._parse(response.content, new_meta, url, project, index)  # raises before writes
            stored = _redacted(response.content)  # links may carry the index's path token
            self._write(page_path, stored)
            self._write_meta(meta_path, dict(new_meta, sha256=sha256_hex(stored)))
            return files
        if response.status in MISSING:
            self._write_meta(meta_path, {"url": url, "status": response.status, "fetched_at": now()})
            return None
        raise self._status_error(response, f"the index page of pip package {project!r}")

    def _parse(self, body: bytes, meta: Mapping[str, Any], url: str, project: str, index: _IndexUrl) -> list[PypiFile]:
        content_type = str(meta.get("content_type") or "")
        return parse_page(body, content_type, url, project, index.url, self._download_urls)

    # --- metadata ---------------------------------------------------------------------------------

    def metadata(self, file: PypiFile) -> CoreMetadata:
        """The core metadata of ``file``: PEP 658 file, else a Range read of a wheel, else a static sdist."""
        cached = self._metadata.get(file)
        if cached is not None:
            return cached
        path = self._metadata_path(file)
        data = _read_bytes(path)
        if data is None:
            if self.offline:
                raise PipCacheError(
                    f"offline mode: the metadata of {file.filename} (pip package {file.project!r}) is not "
                    f"cached in {self.cache_root}; run once online to fill the cache"
                )
            data = self._download_metadata(file)
            self.stats["metadata_fetched"] += 1
            self._step(file.filename)
            result = md.core_metadata(data, file)  # a mismatched name or version is not cached
            self._write(path, data)  # a dynamic sdist is: the refusal below needs no new download
        else:
            result = md.core_metadata(data, file)
        if not file.is_wheel:  # a PEP 658 file of an sdist is its PKG-INFO: Dynamic still applies
            md.check_static(data, file)
        self._metadata[file] = result
        return result

    def _metadata_path(self, file: PypiFile) -> Path:
        key = file.sha256 or sha256_hex(file.url.encode("utf-8"))
        return self.cache_root / "pypi-metadata" / key[:2] / f"{key}.metadata"

    def _download_metadata(self, file: PypiFile) -> bytes:
        if file.has_metadata:
            data = self._pep658(file)
            if data is not None:
                return data
        if file.is_wheel:
            return self._wheel_metadata(file)
        archive = self._download_file(file)
        return md.sdist_pkg_info(archive, file)

    def _pep658(self, file: PypiFile) -> bytes | None:
        url = self.download_url(file) + ".metadata"
        response = self._get(url, {})
        if response.status in MISSING:
            log.info("%s is listed with metadata but %s answered %s", file.filename, redact(url), response.status)
            return None
        if response.status != 200:
            raise self._status_error(response, f"the metadata of {file.filename}")
        if file.metadata_sha256 and sha256_hex(response.content) != file.metadata_sha256:
            raise PipCorruptFile(
                f"the metadata file of {file.filename} ({redact(url)}) does not match the sha256 the "
                f"index lists for it ({file.metadata_sha256})"
            )
        return response.content

    def _wheel_metadata(self, file: PypiFile) -> bytes:
        """METADATA through Range requests; the whole wheel when the server ignores Range."""
        url = self.download_url(file)
        response = self._get(url, {"Range": f"bytes=-{TAIL_SIZE}", "Accept-Encoding": "identity"})
        content_range = parse_content_range(response.headers.get("Content-Range"))
        total = content_range[2] if content_range is not None else None
        if response.status == 206 and content_range is not None and total is not None:
            first = content_range[0]

            def fetch(start: int, last: int) -> bytes:
                part = self._get(url, {"Range": f"bytes={start}-{last}", "Accept-Encoding": "identity"})
                got = parse_content_range(part.headers.get("Content-Range"))
                if part.status == 206 and got is not None and got[0] == start:
                    return part.content
                if part.status == 200:  # the server stopped honouring Range: take our slice
                    return part.content[start : last + 1]
                raise self._status_error(part, f"bytes {start}-{last} of {file.filename}")

            reader = RangeFile(total, fetch, initial=(first, response.content))
            with md.open_wheel(reader, file) as archive:
                data = md.wheel_metadata(archive, file)
            log.debug("read METADATA of %s with %d bytes of ranges", file.filename, reader.bytes_fetched)
            return data
        if response.status == 200:
            body = self._verified(file, response.content)
        elif response.status in (206, 416):  # a range answer we cannot use: take the whole file
            body = self._download_file(file)
        else:
            raise self._status_error(response, file.filename)
        with md.open_wheel(body, file) as archive:
            return md.wheel_metadata(archive, file)

    def _download_file(self, file: PypiFile) -> bytes:
        response = self._get(self.download_url(file), {})
        if response.status != 200:
            raise self._status_error(response, file.filename)
        return self._verified(file, response.content)

    @staticmethod
    def _verified(file: PypiFile, data: bytes) -> bytes:
        if file.sha256 and sha256_hex(data) != file.sha256:
            raise PipCorruptFile(
                f"{file.filename} from {redact(file.url)} does not match the sha256 the index lists "
                f"for it ({file.sha256})"
            )
        return data

    # --- HTTP -------------------------------------------------------------------------------------

    def download_url(self, file: PypiFile) -> str:
        """Where to download ``file`` from: its URL with the index's path token and credentials."""
        url = self._download_urls.get(file.url)
        if url is None:  # a file this instance did not list (e.g. read back from a lockfile)
            url = file.url
            parts = urlsplit(url)
            for index in self.indexes:
                token = re.match(r"/t/[^/]+(?=/)", urlsplit(index.request_url).path)
                if token and parts.netloc.lower() == index.netloc and not parts.path.startswith("/t/"):
                    url = urlunsplit(parts._replace(path=token.group(0) + parts.path))
                    break
        return self.authenticated_url(url)

    def authenticated_url(self, url: str) -> str:
        """``url`` with the credentials of the index on the same host (pip's rule), for downloads."""
        parts = urlsplit(url)
        for index in self.indexes:
            if index.userinfo and parts.netloc.lower() == index.netloc:
                return urlunsplit(parts._replace(netloc=f"{index.userinfo}@{parts.netloc}"))
        return url

    def _get(self, url: str, headers: Mapping[str, str]) -> Response:
        """One GET (retried by HttpClient); network failures become PipNetworkError, redacted."""
        try:
            return self.http.get(self.authenticated_url(url), headers)
        except TruncatedDownload as exc:
            raise PipNetworkError(f"truncated download: {exc}") from None
        except PipIndexError:
            raise
        except FetchError as exc:
            raise PipNetworkError(str(exc)) from None

    @staticmethod
    def _status_error(response: Response, what: str) -> PipIndexError:
        if response.status in (401, 403, 407):
            return PipNetworkError(
                f"HTTP {response.status} fetching {what} ({response.url}): authentication required or "
                "refused; check the credentials in the index URL"
            )
        return PipNetworkError(f"unexpected HTTP {response.status} fetching {what} ({response.url})")

    def _step(self, what: str) -> None:
        if self.progress is not None:
            self.progress.step(what)

    # --- cache files ------------------------------------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        try:
            atomic_write(path, data)
        except OSError as exc:  # a read-only cache costs a refetch, not the lock
            log.info("cannot write %s: %s", path, exc.strerror or exc)

    def _write_meta(self, path: Path, meta: Mapping[str, Any]) -> None:
        text = json.dumps(dict(meta, version=PAGE_STATE_VERSION), indent=1, sort_keys=True)
        self._write(path, redact(text).encode("utf-8"))


def _redacted(data: bytes) -> bytes:
    """``data`` with every known secret replaced, byte for byte elsewhere (surrogateescape)."""
    text = data.decode("utf-8", "surrogateescape")
    cleaned = redact(text)
    return data if cleaned == text else cleaned.encode("utf-8", "surrogateescape")


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _read_json(path: Path) -> dict[str, Any]:
    data = _read_bytes(path)
    try:
        meta = json.loads(data) if data is not None else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) and meta.get("version") == PAGE_STATE_VERSION else {}


def _read_checked(path: Path, sha256: object) -> bytes | None:
    """The cached page if it is the one the meta file committed (a torn update reads as absent)."""
    data = _read_bytes(path)
    return data if data is not None and sha256_hex(data) == sha256 else None


def _page_meta(response: Response, url: str) -> dict[str, Any]:
    return {
        "url": url,
        "status": 200,
        "content_type": response.headers.get("Content-Type") or "",
        "etag": response.headers.get("ETag"),
        "last_modified": response.headers.get("Last-Modified"),
        "cache_control": response.headers.get("Cache-Control"),
        "sha256": sha256_hex(response.content),
        "fetched_at": now(),
    }
