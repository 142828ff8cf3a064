"""Channel names and URLs the way conda understands them.

A user writes ``conda-forge``, ``defaults``, ``conda-forge/label/dev``,
``https://user:pw@host/t/<token>/chan/linux-64``, ``file:///srv/chan`` or ``./local-chan``; solvent needs
one normalized :class:`Channel` per location: where to download from (with credentials), the
secret-free base URL records and lockfiles may show, and the canonical name conda would print
(``conda-forge`` for the alias form, ``pkgs/main`` for Anaconda's defaults, the redacted URL otherwise).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote, unquote, urlsplit

from ..errors import ChannelError
from ..platforms import KNOWN_PLATFORMS
from ..slots import SlotValue
from .redact import PASSWORD_PLACEHOLDER, TOKEN_PLACEHOLDER, redact, register_secret


def url2pathname(path: str) -> str:
    """``urllib.request.url2pathname`` without importing http.client and email (13 ms a process)."""
    if os.name == "nt":
        from nturl2path import url2pathname as nt_url2pathname

        return nt_url2pathname(path)
    return unquote(path)


DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
DEFAULTS_LOCATION = "https://repo.anaconda.com/pkgs"
DEFAULTS_NAME = "defaults"

KNOWN_SUBDIRS = frozenset(KNOWN_PLATFORMS)

_NAME_RE = re.compile(r"^[A-Za-z0-9_.+\-]+(/[A-Za-z0-9_.+\-]+)*$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS_PATH_RE = re.compile(r"^[A-Za-z]:[\\/]|^\\\\")


class Channel(SlotValue):
    """One channel location. Secrets live only in ``token``/``auth`` and never in ``str()``/``repr()``.

    Immutable and hashable: channels key the index's priorities and the cache."""

    __slots__ = ("auth", "base_url", "canonical_name", "platform", "token", "token_location")
    _hidden = frozenset({"token", "auth", "token_location"})
    _uncompared = frozenset({"token_location"})

    canonical_name: str
    base_url: str  # no credentials, no trailing slash
    token: str | None
    auth: str | None  # "user:password"
    platform: str | None  # a subdir written into the channel URL itself
    # Where ``/t/<token>`` goes back in: the alias or host part of the URL (None: right after the host).
    token_location: str | None

    def __init__(
        self,
        canonical_name: str,
        base_url: str,
        token: str | None = None,
        auth: str | None = None,
        platform: str | None = None,
        token_location: str | None = None,
    ) -> None:
        setter = object.__setattr__
        setter(self, "canonical_name", canonical_name)
        setter(self, "base_url", base_url)
        setter(self, "token", token)
        setter(self, "auth", auth)
        setter(self, "platform", platform)
        setter(self, "token_location", token_location)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Channel is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Channel is immutable")

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type[Channel], tuple[str | None, ...]]:
        # pickle and copy would restore the slots through __setattr__, which refuses
        return (
            Channel,
            (self.canonical_name, self.base_url, self.token, self.auth, self.platform, self.token_location),
        )

    def __str__(self) -> str:
        return self.canonical_name

    @property
    def is_local(self) -> bool:
        """``file://`` channels are read in place: no HTTP, no payload copy, allowed offline."""
        return self.base_url.startswith("file://")

    @property
    def redacted_url(self) -> str:
        """The channel URL showing that credentials exist without revealing them."""
        return redact(self.authenticated_url())

    def subdirs(self, platform: str) -> tuple[str, ...]:
        """The subdirs a solve for ``platform`` reads: the platform (or the one in the URL), then noarch."""
        target = self.platform or platform
        if target == "noarch":
            return ("noarch",)
        return (target, "noarch")

    def authenticated_url(self, url: str | None = None) -> str:
        """``url`` (default: the channel base) with this channel's token and credentials put back.

        Only URLs under this channel's base get credentials, so a CEP-15 ``base_url`` that points to
        another host never receives the token.
        """
        target = self.base_url if url is None else url
        if not (target == self.base_url or target.startswith(self.base_url + "/")):
            return target
        if self.token:
            location = self.token_location
            if not location or not target.startswith(location):
                location = target.split("://", 1)[0] + "://" + target.split("://", 1)[1].split("/", 1)[0]
            target = f"{location}/t/{self.token}{target[len(location) :]}"
        scheme, rest = target.split("://", 1)
        if self.auth:
            rest = f"{self.auth}@{rest}"
        return f"{scheme}://{rest}"

    def subdir_url(self, subdir: str, *, with_credentials: bool = False) -> str:
        """``<base>/<subdir>/``; the trailing slash makes relative joins (CEP-15/16) correct."""
        url = f"{self.base_url}/{subdir}/"
        return self.authenticated_url(url) if with_credentials else url

    def local_path(self, subdir: str | None = None) -> Path:
        """The directory of a ``file://`` channel (or of one of its subdirs)."""
        path = Path(url2pathname(urlsplit(self.base_url).path))
        return path / subdir if subdir else path


def _split_subdir(path: str) -> tuple[str, str | None]:
    """Split a trailing known subdir (``.../conda-forge/linux-64``) off a channel path."""
    stripped = path.rstrip("/")
    head, _, last = stripped.rpartition("/")
    if last in KNOWN_SUBDIRS and head:
        return head, last
    return stripped, None


def _path_to_channel(value: str) -> Channel:
    path = Path(os.path.expanduser(value)).resolve()
    return _file_url_to_channel(path.as_uri())


def _file_url_to_channel(url: str) -> Channel:
    parts = urlsplit(url)
    path, platform = _split_subdir(unquote(parts.path))
    if parts.netloc and parts.netloc != "localhost":
        # file://server/share (UNC) keeps the host in the path.
        path = f"//{parts.netloc}{path}"
    base = "file://" + quote(path or "/", safe="/:~._-+")
    return Channel(canonical_name=base, base_url=base.rstrip("/") or "file:///", platform=platform)


def _parse_url(value: str, alias: Channel) -> Channel:
    if value.lower().startswith("file:"):
        return _file_url_to_channel(value)
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ChannelError(f"channel URL must not carry a query or fragment: {redact(value)}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ChannelError(f"unsupported channel URL scheme {scheme!r}: {redact(value)}")
    auth = None
    netloc = parts.netloc
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        auth = unquote(auth)
        if ":" in auth:
            register_secret(auth.split(":", 1)[1])
    if not netloc:
        raise ChannelError(f"channel URL has no host: {redact(value)}")
    path = parts.path
    token = None
    token_location = None
    match = re.match(r"^(.*?)/t/([^/]+)(/.*)?$", path)
    if match:
        token = unquote(match.group(2))
        register_secret(token)
        token_location = f"{scheme}://{netloc}{match.group(1)}"
        path = match.group(1) + (match.group(3) or "")
    path, platform = _split_subdir(path)
    if path.endswith((".json", ".zst", ".conda", ".bz2")):
        raise ChannelError(f"expected a channel URL, got a file URL: {redact(value)}")
    base_url = f"{scheme}://{netloc}{path}".rstrip("/")
    if base_url.startswith(alias.base_url + "/"):
        name = base_url[len(alias.base_url) + 1 :]
        canonical = name
        if not token and alias.token:
            token, token_location = alias.token, alias.token_location
        auth = auth or alias.auth
    elif base_url.startswith(DEFAULTS_LOCATION + "/"):
        canonical = "pkgs/" + base_url[len(DEFAULTS_LOCATION) + 1 :]
    else:
        canonical = base_url
    return Channel(
        canonical_name=canonical,
        base_url=base_url,
        token=token,
        auth=auth,
        platform=platform,
        token_location=token_location,
    )


def env_channel_alias() -> str:
    """Where bare channel names live: ``SOLVENT_CHANNEL_ALIAS`` or conda's ``CONDA_CHANNEL_ALIAS``.

    conda reads ``channel_alias`` from its configuration, and mirrors, air-gapped sites and test
    set-ups point it at their own server (or a ``file://`` directory); the environment variable is
    how conda's own configuration reaches solvent without a condarc parser.
    """
    return os.environ.get("SOLVENT_CHANNEL_ALIAS") or os.environ.get("CONDA_CHANNEL_ALIAS") or DEFAULT_CHANNEL_ALIAS


def parse_channel_alias(alias: str) -> Channel:
    """The alias as a channel-like location (it may carry its own token and credentials)."""
    alias = alias.strip().rstrip("/")
    if not _SCHEME_RE.match(alias):
        raise ChannelError(f"channel alias must be a URL: {redact(alias)}")
    sentinel = Channel(canonical_name="", base_url="\0")  # parse without alias matching
    channel = _parse_url(alias, sentinel)
    return Channel(
        canonical_name=channel.base_url,
        base_url=channel.base_url,
        token=channel.token,
        auth=channel.auth,
        token_location=channel.token_location or channel.base_url,
    )


def parse_channel(value: str | Channel, *, channel_alias: str | Channel = DEFAULT_CHANNEL_ALIAS) -> Channel:
    """One channel from a name, URL or path; ``defaults`` needs :func:`expand_channels`."""
    if isinstance(value, Channel):
        return value
    if not isinstance(value, str):
        raise ChannelError(f"a channel must be a string, got {type(value).__name__}")
    alias = channel_alias if isinstance(channel_alias, Channel) else parse_channel_alias(channel_alias)
    text = value.strip()
    if not text:
        raise ChannelError("empty channel name")
    if text == DEFAULTS_NAME:
        raise ChannelError("'defaults' stands for several channels; use expand_channels()")
    if _SCHEME_RE.match(text) or text.lower().startswith("file:"):
        return _parse_url(text, alias)
    if text.startswith(("/", "./", "../", "~", ".\\", "..\\")) or text in (".", "..") or _WINDOWS_PATH_RE.match(text):
        return _path_to_channel(text)
    _refuse_local_lookalike(text, alias)
    name, platform = _split_subdir(text.strip("/"))
    if not _NAME_RE.match(name):
        raise ChannelError(f"invalid channel name: {redact(value)!r}")
    if name.startswith("pkgs/"):
        return Channel(canonical_name=name, base_url=f"{DEFAULTS_LOCATION}/{name[5:]}", platform=platform)
    return Channel(
        canonical_name=name,
        base_url=f"{alias.base_url}/{name}",
        token=alias.token,
        auth=alias.auth,
        platform=platform,
        token_location=alias.token_location,
    )


def _refuse_local_lookalike(text: str, alias: Channel) -> None:
    """A relative path without ``./`` is a channel name (as in conda), but almost always meant as a path.

    conda sends ``shared/data/channels/x`` to the channel host and fails on the network after its
    retries; when a local directory of that name exists, saying so at once is kinder. A bare name
    (``conda-forge``) is left alone: a directory of that name beside the user is no sign of intent.
    """
    if "/" in text.strip("/") and os.path.isdir(text):
        raise ChannelError(
            f"channel {redact(text)!r} is read as a channel name on {redact(alias.base_url)}, but a local "
            f"directory of that name exists: did you mean ./{text.strip('/')} ?"
        )


def defaults_channels(platform: str) -> list[Channel]:
    """What ``defaults`` means: Anaconda's main and r, plus msys2 for Windows targets."""
    names = ["main", "r"]
    if platform.startswith("win-"):
        names.append("msys2")
    return [Channel(canonical_name=f"pkgs/{n}", base_url=f"{DEFAULTS_LOCATION}/{n}") for n in names]


def expand_channels(
    values: Iterable[str | Channel] | str,
    platform: str,
    *,
    channel_alias: str | Channel = DEFAULT_CHANNEL_ALIAS,
) -> list[tuple[Channel, int]]:
    """The channels in priority order, each with the rank of the user entry it came from.

    The channels of ``defaults`` share one rank, as in conda, so strict priority treats them as one
    channel. A channel listed twice keeps its first (higher) position.
    """
    if isinstance(values, (str, Channel)):
        values = [values]
    alias = channel_alias if isinstance(channel_alias, Channel) else parse_channel_alias(channel_alias)
    out: list[tuple[Channel, int]] = []
    seen: set[tuple[str, str | None]] = set()
    rank = 0
    for value in values:
        if isinstance(value, str) and value.strip() == DEFAULTS_NAME:
            expanded: Sequence[Channel] = defaults_channels(platform)
        else:
            expanded = [parse_channel(value, channel_alias=alias)]
        added = False
        for channel in expanded:
            key = (channel.base_url, channel.platform)
            if key in seen:
                continue
            seen.add(key)
            out.append((channel, rank))
            added = True
        if added:
            rank += 1
    if not out:
        raise ChannelError("no channels given")
    return out


__all__ = [
    "DEFAULTS_LOCATION",
    "DEFAULT_CHANNEL_ALIAS",
    "KNOWN_SUBDIRS",
    "PASSWORD_PLACEHOLDER",
    "TOKEN_PLACEHOLDER",
    "Channel",
    "defaults_channels",
    "env_channel_alias",
    "expand_channels",
    "parse_channel",
    "parse_channel_alias",
]
