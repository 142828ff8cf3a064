"""Python's cyclic garbage collector, paused while a solve builds its objects.

A solve allocates hundreds of thousands of small objects that live until it returns (the
channel's parsed entries, records, parsed specs, clauses) and next to no reference cycles.
CPython's collector runs a pass every few hundred net allocations and examines the survivors again
as they age: 8-10% of a 950-package solve's time and as much of reading a channel went to passes
that found nothing to free. Reference counting still frees whatever the solve drops; a cycle made
meanwhile (by the solve or by another thread) waits for the first collection after it.

The pause is process-wide, as the collector is: nested and concurrent solves share it, and the
collector comes back when the last of them returns, only if it was running when the first began.
"""

from __future__ import annotations

import gc
import threading
from functools import wraps
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_depth = 0
_resume = False  # whether the collector was enabled when the outermost pause began


class CollectorPaused:
    """``with CollectorPaused(): ...`` runs the block with the cyclic collector off."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _depth, _resume
        with _lock:
            if _depth == 0:
                _resume = gc.isenabled()
                gc.disable()
            _depth += 1

    def __exit__(self, *exc: object) -> None:
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def collector_paused(func: F) -> F:
    """Decorate an entry point (a whole solve) to run with the collector paused."""

    @wraps(func)
    def paused(*args: Any, **kwargs: Any) -> Any:
        with CollectorPaused():
            return func(*args, **kwargs)

    return paused  # type: ignore[return-value]
