"""A loopback HTTP server that behaves like a conda channel host, for tests.

It serves a directory (``<channel>/<subdir>/repodata.json`` ...) plus in-memory files, answers
conditional requests (ETag / Last-Modified -> 304), gzips JSON when asked, can require an anaconda.org
style ``/t/<token>/`` prefix, logs every request, and injects failures (an HTTP status, a truncated
body, a dropped connection) a given number of times. Other test modules may reuse it::

    with ChannelServer(tmp_path) as server:
        server.add_file("chan/noarch/repodata.json", b"{}")
        server.fail("chan/noarch/repodata.json", status=500, times=1)
        url = server.channel_url("chan")
"""

from __future__ import annotations

import email.utils
import fnmatch
import gzip
import hashlib
import http.server
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LoggedRequest:
    path: str  # without the token prefix and query
    raw_path: str  # as requested
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Fault:
    pattern: str
    mode: str  # status | truncate | close
    status: int
    times: int  # remaining; negative = forever


@dataclass
class _State:
    root: Path | None
    files: dict[str, bytes] = field(default_factory=dict)
    log: list[LoggedRequest] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    token: str | None = None
    cache_control: str | None = None
    gzip: bool = True
    etags: bool = True
    hidden: list[str] = field(default_factory=list)
    mtime: float = field(default_factory=lambda: time.time() - 3600)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state
        raw_path = self.path
        path = raw_path.split("?", 1)[0].lstrip("/")
        entry = LoggedRequest(path=path, raw_path=raw_path, headers=dict(self.headers.items()))
        with state.lock:
            state.log.append(entry)
        if state.token is not None:
            prefix = f"t/{state.token}/"
            if not path.startswith(prefix):
                return self._send(entry, 403 if path.startswith("t/") else 401, b"token required")
            path = path[len(prefix) :]
            entry.path = path
        if state.delay:
            time.sleep(state.delay)
        fault = self._take_fault(path)
        if fault is not None and fault.mode == "status":
            return self._send(entry, fault.status, b"injected failure")
        if fault is not None and fault.mode == "close":
            entry.status = -1
            self.close_connection = True
            self.connection.close()
            return None
        data = self._lookup(path)
        if data is None:
            return self._send(entry, 404, b"not found")
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        last_modified = email.utils.formatdate(state.mtime, usegmt=True)
        headers = {"Last-Modified": last_modified}
        if state.etags:
            headers["ETag"] = etag
        if state.cache_control:
            headers["Cache-Control"] = state.cache_control
        if state.etags and self.headers.get("If-None-Match") == etag:
            return self._send(entry, 304, b"", headers)
        if not state.etags and self.headers.get("If-Modified-Since") == last_modified:
            return self._send(entry, 304, b"", headers)
        body = data
        if state.gzip and path.endswith(".json") and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(data, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        if fault is not None and fault.mode == "truncate":
            entry.status = 200
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        return self._send(entry, 200, body, headers)

    def _take_fault(self, path: str) -> _Fault | None:
        state = self.server.state
        with state.lock:
            for fault in state.faults:
                if fault.times != 0 and fnmatch.fnmatchcase(path, fault.pattern):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def _lookup(self, path: str) -> bytes | None:
        state = self.server.state
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in state.hidden):
            return None
        if path in state.files:
            return state.files[path]
        if state.root is None or ".." in path.split("/"):
            return None
        file = state.root / path
        return file.read_bytes() if file.is_file() else None

    def _send(self, entry: LoggedRequest, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        entry.status = status
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up on injected faults are expected, not worth a traceback


class ChannelServer:
    """Start with ``with ChannelServer(root) as server:``; ``server.url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, root: Path | str | None = None, *, token: str | None = None) -> None:
        self.state = _State(root=Path(root) if root is not None else None, token=token)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> ChannelServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.state = self.state
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ChannelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses
    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def channel_url(self, channel: str, *, token: str | None = None) -> str:
        """The channel's URL, with the server's token (or ``token``) in anaconda.org form."""
        token = token if token is not None else self.state.token
        prefix = f"/t/{token}" if token else ""
        return f"{self.url}{prefix}/{channel}"

    # content
    def add_file(self, path: str, data: bytes | str) -> None:
        with self.state.lock:
            self.state.files[path.lstrip("/")] = data.encode() if isinstance(data, str) else data

    def hide(self, pattern: str) -> None:
        """Answer 404 for paths matching the glob (e.g. ``*.zst`` for a server without zst)."""
        with self.state.lock:
            self.state.hidden.append(pattern)

    def set_cache_control(self, value: str | None) -> None:
        self.state.cache_control = value

    def set_etags(self, enabled: bool) -> None:
        """Without ETags the server revalidates by Last-Modified only."""
        self.state.etags = enabled

    def set_delay(self, seconds: float) -> None:
        self.state.delay = seconds

    def fail(self, pattern: str, *, status: int = 500, times: int = 1, mode: str = "status") -> None:
        """Misbehave for the next ``times`` requests matching ``pattern`` (-1: forever).

        ``mode``: ``status`` answers ``status``; ``truncate`` sends half of the body with the full
        Content-Length and closes; ``close`` drops the connection without answering.
        """
        with self.state.lock:
            self.state.faults.append(_Fault(pattern.lstrip("/"), mode, status, times))

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    # request log
    @property
    def log(self) -> list[LoggedRequest]:
        with self.state.lock:
            return list(self.state.log)

    def paths(self) -> list[str]:
        return [entry.path for entry in self.log]

    def count(self, pattern: str = "*") -> int:
        return sum(1 for path in self.paths() if fnmatch.fnmatchcase(path, pattern))

    def clear_log(self) -> None:
        with self.state.lock:
            self.state.log.clear()


# --- synthetic repodata ---------------------------------------------------------------------------


def entry(
    name: str,
    version: str = "1.0",
    build: str = "0",
    *,
    depends: list[str] | None = None,
    subdir: str = "noarch",
    timestamp: int | None = None,
    build_number: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """One repodata entry with the fields conda writes."""
    out: dict[str, Any] = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": build_number,
        "depends": list(depends or []),
        "subdir": subdir,
        "md5": hashlib.md5(f"{name}-{version}-{build}".encode()).hexdigest(),
        "size": 1000,
    }
    if timestamp is not None:
        out["timestamp"] = timestamp
    out.update(extra)
    return out


def repodata(
    subdir: str,
    entries: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    conda_entries: list[dict[str, Any]] = (),  # type: ignore[assignment]
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A repodata.json document: ``entries`` as .tar.bz2, ``conda_entries`` as .conda."""
    doc: dict[str, Any] = {
        "info": {"subdir": subdir, **(info or {})},
        "packages": {},
        "packages.conda": {},
        "repodata_version": 1,
    }
    for item in entries:
        doc["packages"][f"{item['name']}-{item['version']}-{item['build']}.tar.bz2"] = item
    for item in conda_entries:
        doc["packages.conda"][f"{item['name']}-{item['version']}-{item['build']}.conda"] = item
    return doc
