"""Removing secrets (anaconda.org tokens, basic-auth passwords) from anything a user can see.

Every log line, error message and file this package writes goes through :func:`redact`, because a
token leaked into a CI log or a shared cache directory is as good as published. Two layers: URL
patterns catch secrets in any URL-shaped text, and a registry of the secrets seen while parsing
channels catches them in shapes the patterns miss (percent-encoded, inside a library's message).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

TOKEN_PLACEHOLDER = "<TOKEN>"
PASSWORD_PLACEHOLDER = "<PASSWORD>"

# /t/<token>/ as anaconda.org and conda use it; tokens are URL-safe strings.
_TOKEN_RE = re.compile(r"/t/(?!<TOKEN>)[^/\s?#]+(?=/|$|\s|[?#])")
# scheme://user:password@host
_USERINFO_RE = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+):(?P<pw>[^/\s@]+)@")
# ?token=... or &access_token=... query parameters some mirrors use
_QUERY_RE = re.compile(r"(?P<key>[?&](?:access_)?token=)[^&\s#]+", re.IGNORECASE)

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Remember a secret so :func:`redact` removes it wherever it appears, not only in URLs."""
    # Very short strings would redact ordinary words; real tokens and passwords are longer.
    if secret and len(secret) >= 4 and secret not in (TOKEN_PLACEHOLDER, PASSWORD_PLACEHOLDER):
        with _lock:
            _secrets.add(secret)


def redact(text: Any) -> str:
    """``text`` as a string with every token and password replaced by a placeholder."""
    out = str(text)
    if "/t/" in out:
        out = _TOKEN_RE.sub("/t/" + TOKEN_PLACEHOLDER, out)
    if "@" in out:
        out = _USERINFO_RE.sub(lambda m: f"{m.group('pre')}:{PASSWORD_PLACEHOLDER}@", out)
    if "token=" in out.lower():
        out = _QUERY_RE.sub(lambda m: m.group("key") + TOKEN_PLACEHOLDER, out)
    if _secrets:
        with _lock:
            secrets = sorted(_secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in out:
                out = out.replace(secret, TOKEN_PLACEHOLDER)
    return out


def strip_secrets(url: str) -> str:
    """``url`` without any token path segment or userinfo: a usable anonymous URL for records."""
    out = re.sub(r"/t/[^/\s?#]+(?=/|$)", "", url, count=1)
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@", r"\1", out)


def _redact_record(record: logging.LogRecord) -> bool:
    """Redacts records of loggers we do not own (urllib3 logs request lines, tokens included)."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed third-party record: leave it to logging's own handling
        return True
    cleaned = redact(message)
    if cleaned != message:
        record.msg = cleaned
        record.args = None
    return True


_installed = False


def install_log_filters() -> None:
    """Attach the redacting filter to the HTTP loggers once per process. Called when an HTTP
    session is first used, before any request, so a solve that never goes online never imports
    :mod:`logging` for it."""
    global _installed
    if _installed:
        return
    _installed = True
    import logging

    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
        logging.getLogger(name).addFilter(_redact_record)
