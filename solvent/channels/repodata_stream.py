"""Reading a repodata.json document one package entry at a time.

``json.loads`` of conda-forge's linux-64 repodata (about 250 MB) builds every entry as Python
objects at once: well over a gigabyte of memory, more than conda's own solver needs. The index
builder only ever needs one entry at a time (it re-encodes each as msgpack straight away), so this
walks the two package maps with the C decoder, entry by entry, and decodes every other top-level
value whole. Any irregularity raises :class:`ValueError` with the character offset; the caller
then falls back to ``json.loads`` for a precise error message.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, Iterator, Tuple

#: The keys whose values are maps of file name to package entry.
PACKAGE_KEYS = ("packages", "packages.conda")

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

#: (package key or None, file name or top-level key, entry or top-level value)
Item = Tuple["str | None", str, Any]


def iter_repodata(text: str) -> Iterator[Item]:
    """Yield ``(key, fn, entry)`` for each package entry and ``(None, key, value)`` for every other
    top-level member, in document order."""
    i = _skip(text, _expect(text, 0, "{"))
    if text[i : i + 1] == "}":
        i += 1
    else:
        while True:
            key, i = _key(text, i)
            i = _skip(text, i)
            if key in PACKAGE_KEYS and text[i : i + 1] == "{":
                i = _skip(text, i + 1)
                if text[i : i + 1] == "}":
                    i += 1
                else:
                    while True:
                        fn, i = _key(text, i)
                        entry, i = _DECODER.raw_decode(text, _skip(text, i))
                        yield key, fn, entry
                        i = _next_member(text, i)
                        if i < 0:
                            i = -i
                            break
            else:
                value, i = _DECODER.raw_decode(text, i)
                yield None, key, value
            i = _next_member(text, i)
            if i < 0:
                i = -i
                break
    if _skip(text, i) != len(text):
        raise ValueError(f"extra data at char {_skip(text, i)}")


def _next_member(text: str, i: int) -> int:
    """After a member: the start of the next one, or minus the index past the closing brace."""
    i = _skip(text, i)
    c = text[i : i + 1]
    if c == ",":
        return i + 1
    if c == "}":
        return -(i + 1)
    raise ValueError(f"expected ',' or '}}' at char {i}")


def _skip(text: str, i: int) -> int:
    match = _WS.match(text, i)
    return match.end() if match else i


def _expect(text: str, i: int, char: str) -> int:
    i = _skip(text, i)
    if text[i : i + 1] != char:
        raise ValueError(f"expected {char!r} at char {i}")
    return i + 1


def _key(text: str, i: int) -> tuple[str, int]:
    """An object key and the index just past the ':' that follows it."""
    i = _skip(text, i)
    if text[i : i + 1] != '"':
        raise ValueError(f"expected a string key at char {i}")
    key, i = scanstring(text, i + 1, True)
    return key, _expect(text, i, ":")
