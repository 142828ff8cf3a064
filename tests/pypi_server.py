"""A loopback PyPI-style index serving real, tiny wheels and sdists built at test time.

Declare releases, start the server, point the client at ``server.url`` (the ``/simple/`` URL)::

    releases = [
        Release("demo", "1.0", requires_dist=["dep>=2"], tags=["py3-none-any"]),
        Release("demo", "1.1", tags=["cp39-cp39-manylinux_2_17_x86_64", "cp39-cp39-win_amd64"]),
        Release("dep", "2.0", sdist=True, tags=[], dynamic=["Requires-Dist"]),
    ]
    with PypiServer.start(releases, tmp_path, json_api=True, metadata_files=True, ranges=True) as server:
        index = PypiIndex([server.url], cache_dir=tmp_path / "cache")
        ...
        assert server.count("/files/*.whl") == 0

or through the ``servers()`` factory / ``pypi_server`` fixture, which stop every server they started.

Layout: ``/simple/<project>/`` (JSON with PEP 691 content negotiation, or HTML when ``json_api`` is
off or the client does not ask for JSON), ``/files/<filename>`` (Range requests when ``ranges``),
``/files/<filename>.metadata`` (PEP 658, when ``metadata_files`` and the release's
``metadata_file`` allow). Pages carry ETags and answer ``If-None-Match`` with 304. The switches are
attributes and may be flipped while the server runs. ``server.requests`` logs every request with
its headers, status and the number of body bytes sent. ``auth=(user, password)`` requires basic
auth, ``path_token`` an anaconda.org-style ``/t/<token>`` prefix. ``fail(glob, status, times)`` and
``override(path, body)`` inject misbehaviour.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import html
import http.server
import io
import json
import random
import re
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest


@dataclass
class Release:
    """One version of a project: one wheel per tag in ``tags``, plus an sdist when ``sdist``."""

    name: str
    version: str
    requires_dist: Sequence[str] = ()
    requires_python: str | None = None
    provides_extra: Sequence[str] = ()
    tags: Sequence[str] = ("py3-none-any",)
    sdist: bool = False
    sdist_format: str = "tar.gz"  # or "zip"
    dynamic: Sequence[str] = ()  # Dynamic: fields of the sdist's PKG-INFO
    sdist_metadata_version: str = "2.2"
    payload_size: int = 0  # bytes of incompressible data in each wheel (to make range reads visible)
    yanked: bool | str = False  # True, or the reason
    metadata_file: bool = True  # PEP 658 file for this release's files (if the server serves them)


Project = Release  # the name the pip-lock tests know it by


@dataclass
class LoggedRequest:
    method: str
    path: str  # without the query string
    headers: dict[str, str]
    status: int = 0
    bytes_sent: int = 0


@dataclass
class ServedFile:
    filename: str
    data: bytes
    metadata: bytes  # METADATA or PKG-INFO
    release: Release

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def metadata_sha256(self) -> str:
        return hashlib.sha256(self.metadata).hexdigest()


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_text(release: Release, *, metadata_version: str = "2.1", dynamic: Sequence[str] = ()) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {release.name}", f"Version: {release.version}"]
    lines += [f"Dynamic: {field_}" for field_ in dynamic]
    if release.requires_python:
        lines.append(f"Requires-Python: {release.requires_python}")
    lines += [f"Requires-Dist: {req}" for req in release.requires_dist]
    lines += [f"Provides-Extra: {extra}" for extra in release.provides_extra]
    return "\n".join(lines) + "\n\nA test package.\n"


def build_wheel(release: Release, tag: str) -> ServedFile:
    """A real wheel: module, optional payload, METADATA, WHEEL and RECORD (written last, as tools do)."""
    stem = f"{_dist_name(release.name)}-{release.version}"
    filename = f"{stem}-{tag}.whl"
    metadata = metadata_text(release).encode()
    module = _dist_name(release.name)
    members: list[tuple[str, bytes]] = [(f"{module}/__init__.py", f"__version__ = {release.version!r}\n".encode())]
    if release.payload_size:
        members.append((f"{module}/payload.bin", random.Random(filename).randbytes(release.payload_size)))
    wheel = f"Wheel-Version: 1.0\nGenerator: pypi_server\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()
    members += [(f"{stem}.dist-info/METADATA", metadata), (f"{stem}.dist-info/WHEEL", wheel)]
    record = "".join(f"{path},sha256={hashlib.sha256(data).hexdigest()},{len(data)}\n" for path, data in members)
    members.append((f"{stem}.dist-info/RECORD", (record + f"{stem}.dist-info/RECORD,,\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            stored = path.endswith("payload.bin")  # incompressible anyway; keep the build fast
            archive.writestr(info, data, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return ServedFile(filename, buffer.getvalue(), metadata, release)


def build_sdist(release: Release) -> ServedFile:
    """A real sdist with PKG-INFO (Metadata-Version and Dynamic as the release says)."""
    stem = f"{_dist_name(release.name)}-{release.version}"
    pkg_info = metadata_text(release, metadata_version=release.sdist_metadata_version, dynamic=release.dynamic).encode()
    pyproject = f'[project]\nname = "{release.name}"\nversion = "{release.version}"\n'.encode()
    members = [(f"{stem}/PKG-INFO", pkg_info), (f"{stem}/pyproject.toml", pyproject)]
    buffer = io.BytesIO()
    if release.sdist_format == "zip":
        filename = f"{stem}.zip"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in members:
                archive.writestr(path, data)
    else:
        filename = f"{stem}.tar.gz"
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path, data in members:
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mtime = 1_700_000_000
                archive.addfile(info, io.BytesIO(data))
    return ServedFile(filename, buffer.getvalue(), pkg_info, release)


def build_files(releases: Sequence[Release]) -> dict[str, list[ServedFile]]:
    """Normalized project name -> its files, in declaration order."""
    out: dict[str, list[ServedFile]] = {}
    for release in releases:
        files = out.setdefault(normalize(release.name), [])
        files += [build_wheel(release, tag) for tag in release.tags]
        if release.sdist:
            files.append(build_sdist(release))
    return out


# --- the server -----------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def _handle(self, *, head: bool) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        entry = LoggedRequest(self.command, path, dict(self.headers.items()))
        with owner.lock:
            owner.requests.append(entry)
        if owner.auth is not None:
            user, password = owner.auth
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self._send(entry, 401, b"unauthorized", {"WWW-Authenticate": 'Basic realm="pypi"'}, head)
        if owner.path_token is not None:  # anaconda.org style: /t/<token>/simple/...
            prefix = f"/t/{owner.path_token}"
            if not path.startswith(prefix + "/"):
                return self._send(entry, 403, b"token required", {}, head)
            path = entry.path = path[len(prefix) :]
        fault = owner._take_fault(path)
        if fault is not None:
            return self._send(entry, fault, b"injected failure", {}, head)
        if path in owner.overrides:
            return self._send(entry, 200, owner.overrides[path], {}, head)
        match = re.fullmatch(r"/simple/([^/]+)/", path)
        if match:
            return self._page(entry, match.group(1), head)
        match = re.fullmatch(r"/files/([^/]+)", path)
        if match:
            return self._file(entry, match.group(1), head)
        return self._send(entry, 404, b"not found", {}, head)

    def _page(self, entry: LoggedRequest, project: str, head: bool) -> None:
        owner = self.server.owner
        files = owner.projects.get(project)
        if files is None:
            return self._send(entry, 404, b"not found", {}, head)
        wants_json = "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", "")
        if owner.json_api and wants_json:
            body, ctype = owner.json_page(project), "application/vnd.pypi.simple.v1+json"
        else:
            body, ctype = owner.html_page(project), "text/html; charset=utf-8"
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"Content-Type": ctype, "ETag": etag}
        if owner.cache_control:
            headers["Cache-Control"] = owner.cache_control
        if self.headers.get("If-None-Match") == etag:
            return self._send(entry, 304, b"", headers, head)
        return self._send(entry, 200, body, headers, head)

    def _file(self, entry: LoggedRequest, name: str, head: bool) -> None:
        owner = self.server.owner
        is_metadata = name.endswith(".metadata")
        served = owner.file(name[: -len(".metadata")] if is_metadata else name)
        if served is None:
            return self._send(entry, 404, b"not found", {}, head)
        if is_metadata:
            if not owner.serves_metadata(served):
                return self._send(entry, 404, b"not found", {}, head)
            return self._send(entry, 200, served.metadata, {}, head)
        data = served.data
        headers = {"Content-Type": "application/octet-stream"}
        if owner.ranges:
            headers["Accept-Ranges"] = "bytes"
            wanted = _parse_range(self.headers.get("Range"), len(data))
            if wanted == "invalid":
                headers["Content-Range"] = f"bytes */{len(data)}"
                return self._send(entry, 416, b"", headers, head)
            if isinstance(wanted, tuple):
                first, last = wanted
                headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
                return self._send(entry, 206, data[first : last + 1], headers, head)
        return self._send(entry, 200, data, headers, head)

    def _send(self, entry: LoggedRequest, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        entry.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)
            entry.bytes_sent = len(body)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) of a single-range ``Range`` header; "invalid" when unsatisfiable; None if absent."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or not (match.group(1) or match.group(2)):
        return None  # multiple ranges or garbage: answer with the whole file, as servers may
    if not match.group(1):
        length = int(match.group(2))
        return (max(0, size - length), size - 1) if length and size else "invalid"
    first = int(match.group(1))
    last = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    return (first, last) if first <= last else "invalid"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: PypiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class PypiServer:
    """A running loopback index; build it with :meth:`start`."""

    projects: dict[str, list[ServedFile]]
    json_api: bool = True
    metadata_files: bool = True
    ranges: bool = True
    auth: tuple[str, str] | None = None
    path_token: str | None = None
    cache_control: str | None = None
    requests: list[LoggedRequest] = field(default_factory=list)
    overrides: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _faults: list[list[Any]] = field(default_factory=list)
    _httpd: _Server | None = None

    @classmethod
    def start(
        cls,
        releases: Sequence[Release],
        directory: Path | None = None,
        *,
        json_api: bool = True,
        metadata_files: bool = True,
        ranges: bool = True,
        auth: tuple[str, str] | None = None,
        path_token: str | None = None,
    ) -> PypiServer:
        """Build the files of ``releases`` (also written to ``directory`` when given) and serve them."""
        server = cls(build_files(releases), json_api=json_api, metadata_files=metadata_files, ranges=ranges)
        server.auth, server.path_token = auth, path_token
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for served in server.all_files():
                (directory / served.filename).write_bytes(served.data)
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = server
        server._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> PypiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses and content --------------------------------------------------------------------

    @property
    def base(self) -> str:
        assert self._httpd is not None, "server not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The index URL (``.../simple/``), with the credentials and path token the server requires."""
        base = self.base + (f"/t/{self.path_token}" if self.path_token else "")
        if self.auth is None:
            return base + "/simple/"
        user, password = self.auth
        return base.replace("http://", f"http://{user}:{password}@") + "/simple/"

    def all_files(self) -> list[ServedFile]:
        return [served for files in self.projects.values() for served in files]

    def file(self, filename: str) -> ServedFile | None:
        return next((s for s in self.all_files() if s.filename == filename), None)

    def file_url(self, filename: str) -> str:
        return f"{self.base}/files/{filename}"

    def serves_metadata(self, served: ServedFile) -> bool:
        return self.metadata_files and served.release.metadata_file

    def override(self, path: str, body: bytes) -> None:
        """Serve ``body`` with 200 at ``path`` (e.g. a corrupt ``/files/x.whl.metadata``)."""
        self.overrides[path] = body

    def fail(self, pattern: str, status: int = 500, times: int = 1) -> None:
        """Answer ``status`` to the next ``times`` requests whose path matches the glob (-1: always)."""
        with self.lock:
            self._faults.append([pattern, status, times])

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> int | None:
        with self.lock:
            for fault in self._faults:
                if fault[2] != 0 and fnmatch.fnmatchcase(path, fault[0]):
                    fault[2] -= 1
                    return int(fault[1])
        return None

    # --- pages ------------------------------------------------------------------------------------

    def _entries(self, project: str) -> Iterator[tuple[ServedFile, dict[str, Any]]]:
        for served in self.projects[project]:
            release = served.release
            info: dict[str, Any] = {"yanked": release.yanked, "requires-python": release.requires_python}
            if self.serves_metadata(served):
                info["core-metadata"] = {"sha256": served.metadata_sha256}
            yield served, info

    def json_page(self, project: str) -> bytes:
        prefix = f"/t/{self.path_token}" if self.path_token else ""
        files = []
        for served, info in self._entries(project):
            item = {
                "filename": served.filename,
                "url": f"{prefix}/files/{served.filename}",  # root-relative: the client must resolve it
                "hashes": {"sha256": served.sha256},
                "requires-python": info["requires-python"],
                "yanked": info["yanked"],
            }
            if "core-metadata" in info:
                item["core-metadata"] = item["dist-info-metadata"] = info["core-metadata"]
            files.append(item)
        doc = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
        return json.dumps(doc).encode()

    def html_page(self, project: str) -> bytes:
        lines = ["<!DOCTYPE html>", "<html><body>", f"<h1>Links for {html.escape(project)}</h1>"]
        for served, info in self._entries(project):
            attrs = f'href="../../files/{served.filename}#sha256={served.sha256}"'
            if info["requires-python"]:
                attrs += f' data-requires-python="{html.escape(info["requires-python"])}"'
            if info["yanked"]:
                reason = info["yanked"] if isinstance(info["yanked"], str) else ""
                attrs += f' data-yanked="{html.escape(reason)}"'
            if "core-metadata" in info:
                value = f"sha256={info['core-metadata']['sha256']}"
                attrs += f' data-dist-info-metadata="{value}" data-core-metadata="{value}"'
            lines.append(f"<a {attrs}>{html.escape(served.filename)}</a><br/>")
        lines.append("</body></html>")
        return "\n".join(lines).encode()

    # --- request log ------------------------------------------------------------------------------

    def log(self, pattern: str = "*") -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.requests if fnmatch.fnmatchcase(r.path, pattern)]

    def count(self, pattern: str = "*") -> int:
        return len(self.log(pattern))

    def bytes_sent(self, pattern: str = "*") -> int:
        return sum(r.bytes_sent for r in self.log(pattern))

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()


@contextlib.contextmanager
def servers() -> Iterator[Callable[..., PypiServer]]:
    """A factory ``start(releases, **switches) -> PypiServer`` whose servers stop on exit."""
    started: list[PypiServer] = []

    def start(releases: Sequence[Release], **switches: Any) -> PypiServer:
        server = PypiServer.start(releases, **switches)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def pypi_server() -> Iterator[Callable[..., PypiServer]]:
    """:func:`servers` as a fixture; register it with ``from tests.pypi_server import pypi_server`` in
    a conftest, or write a two-line fixture around :func:`servers` in the test module."""
    with servers() as start:
        yield start
