"""Reading a project page of the simple repository API, in its JSON (PEP 691) or HTML (PEP 503) form.

Both forms become the same :class:`PypiFile` list, so the resolver never knows which one an index
served. URLs are resolved against the page URL *without* credentials: a PypiFile's URL goes into
lockfiles, and the index client adds the credentials back only when it downloads.
"""

from __future__ import annotations

import json
import logging
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from ...channels.redact import PASSWORD_PLACEHOLDER, TOKEN_PLACEHOLDER, strip_secrets
from .errors import PipIndexError
from .models import PypiFile, parse_filename

log = logging.getLogger("solvent.pip")

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


def parse_page(
    body: bytes,
    content_type: str,
    page_url: str,
    project: str,
    index_url: str,
    download_urls: dict[str, str] | None = None,
) -> list[PypiFile]:
    """The installable files a project page lists, in page order.

    ``page_url`` may carry a ``/t/<token>/`` path; the files' URLs never do. When a URL lost a secret
    that way, ``download_urls`` (if given) maps the secret-free URL to the one to download from.
    """
    mime = content_type.split(";", 1)[0].strip().lower()
    urls = download_urls if download_urls is not None else {}
    if mime == JSON_TYPE or mime.endswith("+json") or mime == "application/json":
        return _parse_json(body, page_url, project, index_url, urls)
    return _parse_html(body, page_url, project, index_url, urls)


def _resolve(base: str, href: str, urls: dict[str, str]) -> tuple[str, str]:
    """(secret-free absolute URL, fragment) of a link, remembering the secret-bearing form."""
    full, fragment = urldefrag(urljoin(base, href))
    url = strip_secrets(full)
    # A page read back from the cache has its secrets redacted: such a URL is no download URL.
    if url != full and TOKEN_PLACEHOLDER not in full and PASSWORD_PLACEHOLDER not in full:
        urls[url] = full
    return url, fragment


def _hash_of(value: Any) -> str | None:
    """The sha256 of a PEP 691 ``hashes`` dict or of a PEP 714 ``core-metadata`` value."""
    if isinstance(value, dict):
        digest = value.get("sha256")
        return digest.lower() if isinstance(digest, str) and digest else None
    return None


def _parse_json(body: bytes, page_url: str, project: str, index_url: str, urls: dict[str, str]) -> list[PypiFile]:
    try:
        doc = json.loads(body)
        entries = doc["files"]
        if not isinstance(entries, list):
            raise TypeError("files is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise PipIndexError(f"unreadable JSON project page {page_url}: {exc}") from None
    out: list[PypiFile] = []
    for item in entries:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        url, fragment = _resolve(page_url, item["url"], urls)
        given = item.get("filename")
        filename = given if isinstance(given, str) and given else _basename(url)
        metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
        yanked = item.get("yanked", False)
        requires_python = item.get("requires-python")
        made = _make(
            project,
            index_url,
            filename=filename,
            url=url,
            sha256=_hash_of(item.get("hashes")) or _fragment_hash(fragment),
            requires_python=requires_python if isinstance(requires_python, str) and requires_python else None,
            yanked=bool(yanked),
            yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
            has_metadata=bool(metadata),
            metadata_sha256=_hash_of(metadata),
        )
        if made is not None:
            out.append(made)
    return out


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")


def _parse_html(body: bytes, page_url: str, project: str, index_url: str, urls: dict[str, str]) -> list[PypiFile]:
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    out: list[PypiFile] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = _resolve(base, href, urls)
        # PEP 714 renamed data-dist-info-metadata to data-core-metadata; indexes may send either.
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        has_metadata = "data-core-metadata" in attrs or "data-dist-info-metadata" in attrs
        yanked = attrs.get("data-yanked")
        requires_python = attrs.get("data-requires-python")
        made = _make(
            project,
            index_url,
            filename=_basename(url),
            url=url,
            sha256=_fragment_hash(fragment),
            requires_python=requires_python or None,
            yanked="data-yanked" in attrs,
            yanked_reason=yanked or None,
            has_metadata=has_metadata and metadata != "false",
            metadata_sha256=_fragment_hash(metadata or ""),
        )
        if made is not None:
            out.append(made)
    return out


def _basename(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _fragment_hash(fragment: str) -> str | None:
    """The sha256 of a ``sha256=<hex>`` fragment or attribute value (other algorithms are ignored)."""
    name, _, value = fragment.partition("=")
    return value.lower() if name.strip().lower() == "sha256" and value else None


def _make(project: str, index_url: str, *, filename: str, **fields: Any) -> PypiFile | None:
    parsed = parse_filename(filename, project)
    if parsed is None:
        log.debug("skipping %s on %s: not a wheel or sdist of %s", filename, index_url, project)
        return None
    version, is_wheel, tags = parsed
    return PypiFile(
        project=project,
        filename=filename,
        version=version,
        is_wheel=is_wheel,
        tags=tags,
        index_url=index_url,
        **fields,
    )
