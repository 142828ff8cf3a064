"""HTTP GETs with one pooled session, bounded retries, timeouts and complete-body checks.

Kept apart from the repodata logic so retries, truncation detection and error wording are decided in
one place, and every message that leaves this module is already redacted.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Mapping, Union

from ..errors import FetchError
from ..slots import SlotValue
from .log import log
from .redact import install_log_filters, redact

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# 206 answers the Range requests that read a wheel's METADATA without downloading the wheel.
BODY_STATUS = frozenset({200, 206})
Timeout = Union[float, "tuple[float, float]"]


class TruncatedDownload(Exception):
    """The body ended before the announced length (or the connection broke mid-body)."""


class Response(SlotValue):
    """What the repodata layer needs from an HTTP answer (requests' object stays internal)."""

    __slots__ = ("content", "headers", "status", "url")

    def __init__(self, url: str, status: int, content: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.url = url  # redacted
        self.status = status
        self.content = content
        # case-insensitive, as HTTP header names are (servers differ in spelling: ETag, etag)
        self.headers: Mapping[str, str] = {} if headers is None else headers


def make_session(pool_size: int = 16) -> requests.Session:
    import requests  # imported on first HTTP use: local channels never pay for it
    from requests.adapters import HTTPAdapter

    """A session whose pool fits our thread pool; proxies and CA bundles come from the environment."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "solvent/0.1 (+conda repodata)"
    return session


if TYPE_CHECKING:
    import requests


class HttpClient:
    """GET with retries on connection errors, 5xx/429 and truncated bodies; counts requests."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: Timeout = (10.0, 60.0),
        pool_size: int = 16,
    ) -> None:
        self._session = session
        self._pool_size = pool_size
        self.retries = max(0, retries)
        self.backoff = backoff
        self.timeout = timeout
        self.requests_made = 0
        self._count_lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        install_log_filters()  # on first use: a solve from local channels never imports logging
        if self._session is None:
            self._session = make_session(self._pool_size)
        return self._session

    def _once(self, url: str, headers: Mapping[str, str]) -> Response:
        import requests

        with self._count_lock:
            self.requests_made += 1
        with self.session.get(url, headers=dict(headers), timeout=self.timeout, stream=True) as resp:
            if resp.status_code not in BODY_STATUS:
                return Response(redact(url), resp.status_code, b"", resp.headers.copy())
            try:
                content = resp.content
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
                raise TruncatedDownload(f"connection broke mid-body ({type(exc).__name__})") from None
            except requests.exceptions.ContentDecodingError as exc:
                raise TruncatedDownload(f"undecodable transfer encoding ({type(exc).__name__})") from None
            expected = resp.headers.get("Content-Length")
            raw_read = getattr(resp.raw, "tell", lambda: None)()
            if expected and expected.isdigit() and isinstance(raw_read, int) and raw_read != int(expected):
                raise TruncatedDownload(f"got {raw_read} of {expected} bytes announced by Content-Length")
            return Response(redact(url), resp.status_code, content, resp.headers.copy())

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """The answer for ``url`` (credentials included); 4xx are returned, not raised.

        Raises FetchError once the retries for connection errors and 5xx are spent, and
        TruncatedDownload when every attempt ended in an incomplete body.
        """
        import requests

        shown = redact(url)
        attempt = 0
        while True:
            try:
                response = self._once(url, headers or {})
            except TruncatedDownload as exc:
                if attempt >= self.retries:
                    raise TruncatedDownload(f"{shown}: {exc}") from None
                reason = str(exc)
            except requests.exceptions.SSLError as exc:
                raise FetchError(f"TLS error fetching {shown}: {redact(exc)}") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if attempt >= self.retries:
                    raise FetchError(f"could not fetch {shown} after {attempt + 1} attempts: {redact(exc)}") from None
                reason = type(exc).__name__
            except requests.exceptions.RequestException as exc:
                raise FetchError(f"could not fetch {shown}: {redact(exc)}") from None
            else:
                if response.status not in RETRY_STATUS:
                    return response
                if attempt >= self.retries:
                    raise FetchError(f"HTTP {response.status} fetching {shown} (gave up after {attempt + 1} attempts)")
                reason = f"HTTP {response.status}"
            delay = self.backoff * (2**attempt)
            log.info("retrying %s in %.2fs (%s)", shown, delay, redact(reason))
            time.sleep(delay)
            attempt += 1
