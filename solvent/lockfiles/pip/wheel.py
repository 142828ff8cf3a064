"""A seekable file over HTTP Range requests, so zipfile can read one member of a remote wheel.

zipfile reads a wheel's end-of-central-directory record, then the central directory, then the
member it was asked for. Fetching the tail once and each missing span on demand reads METADATA of an
800 MB wheel in two or three requests of a few tens of KiB, which is what an index without PEP 658
metadata files leaves us (devpi, older Artifactory, static mirrors).
"""

from __future__ import annotations

import bisect
import io
import re
from typing import Callable

TAIL_SIZE = 64 * 1024  # usually covers the central directory and METADATA (stored near the end)
MIN_CHUNK = 16 * 1024

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """(first, last, total) of a ``Content-Range: bytes first-last/total`` header."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


class RangeFile(io.RawIOBase):
    """Read-only random access to ``length`` remote bytes; ``fetch(first, last)`` gets a span.

    Fetched spans are kept (sorted, non-overlapping), so zipfile's many small reads cost one request
    per region of the file, not per read.
    """

    def __init__(
        self,
        length: int,
        fetch: Callable[[int, int], bytes],
        *,
        initial: tuple[int, bytes] | None = None,
        min_chunk: int = MIN_CHUNK,
    ) -> None:
        super().__init__()
        self.length = length
        self._fetch = fetch
        self._min_chunk = min_chunk
        self._starts: list[int] = []
        self._spans: list[bytes] = []
        self._pos = 0
        self.bytes_fetched = 0
        if initial is not None:
            self._add(*initial)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.length}[whence]
        position = base + offset
        if position < 0:
            raise OSError("negative seek position")
        self._pos = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        end = self.length if size is None or size < 0 else min(self.length, self._pos + size)
        if end <= self._pos:
            return b""
        self._ensure(self._pos, end)
        data = self._slice(self._pos, end)
        self._pos = end
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    # --- spans ------------------------------------------------------------------------------------

    def _add(self, start: int, data: bytes) -> None:
        """Insert a span, dropping the parts already held (spans never overlap)."""
        end = start + len(data)
        for gap_start, gap_end in self._gaps(start, end):
            piece = data[gap_start - start : gap_end - start]
            index = bisect.bisect_left(self._starts, gap_start)
            self._starts.insert(index, gap_start)
            self._spans.insert(index, piece)

    def _gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        gaps: list[tuple[int, int]] = []
        cursor = start
        index = max(0, bisect.bisect_right(self._starts, start) - 1)
        while cursor < end and index < len(self._starts):
            span_start = self._starts[index]
            span_end = span_start + len(self._spans[index])
            if span_end <= cursor:
                index += 1
                continue
            if span_start > cursor:
                gaps.append((cursor, min(span_start, end)))
            cursor = max(cursor, span_end)
            index += 1
        if cursor < end:
            gaps.append((cursor, end))
        return gaps

    def _ensure(self, start: int, end: int) -> None:
        for gap_start, gap_end in self._gaps(start, end):
            # Read ahead a little: zipfile reads a local header, then the name, then the data.
            last = min(self.length, max(gap_end, gap_start + self._min_chunk)) - 1
            data = self._fetch(gap_start, last)
            if len(data) < gap_end - gap_start:
                raise OSError(f"range request for bytes {gap_start}-{last} returned {len(data)} bytes")
            self.bytes_fetched += len(data)
            self._add(gap_start, data)

    def _slice(self, start: int, end: int) -> bytes:
        out = bytearray()
        index = max(0, bisect.bisect_right(self._starts, start) - 1)
        cursor = start
        while cursor < end:
            span_start, span = self._starts[index], self._spans[index]
            if span_start + len(span) > cursor:
                out += span[cursor - span_start : end - span_start]
                cursor = min(end, span_start + len(span))
            index += 1
        return bytes(out)
