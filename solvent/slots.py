"""Field-wise ``repr`` and equality for the small value classes a solve creates.

Those classes (a solution, its statistics, a channel, an HTTP answer) were dataclasses. Importing
``dataclasses`` (which imports ``inspect``, ``ast`` and ``dis``) and generating eight classes cost
about 8 ms of every ``solvent`` process: 8% of a cold solve of a small environment, where the
whole process takes about 0.1 s. Each class now declares ``__slots__`` and an ``__init__`` and
gets the rest from :class:`SlotValue`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SlotValue:
    """``repr`` and ``==`` over the fields named in the class's ``__slots__``.

    ``_hidden`` fields stay out of ``repr`` (a channel's token), ``_uncompared`` ones out of
    equality. Defining ``__eq__`` makes the class unhashable (Python sets ``__hash__`` to None),
    as a dataclass that is not frozen is, unless a subclass defines ``__hash__``.
    """

    __slots__ = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()
    _uncompared: ClassVar[frozenset[str]] = frozenset()

    def _values(self) -> tuple[Any, ...]:
        skip = self._uncompared
        fields: tuple[str, ...] = self.__slots__
        return tuple(getattr(self, f) for f in fields if f not in skip)

    def __repr__(self) -> str:
        hidden = self._hidden
        fields: tuple[str, ...] = self.__slots__
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in fields if f not in hidden)
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()
