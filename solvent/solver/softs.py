"""The soft side of one objective: what the optimizer assumes, what each assumption costs, and
what takes its place once a core says it must give.

Terms come from :mod:`solvent.solver.objectives` as ``{literal: weight}``. Weights there are
ranks (a record's version rank among its name's records, say), and at most one record per name is
installed, so a name's terms are really one small number per name. This module turns them into
a **ladder** per name: unary literals ``rung(k)`` = "the installed record of this name has rank
at least k", each costing 1. The optimizer assumes the lowest rung it has not relaxed is false;
one assumption per name forbids every costly build of it, and a core names *names*, not the
hundreds of builds (one per python, per version) that the name's candidates are.

Relaxing a rung puts the next one in its place; relaxing a counter output (a
:class:`~solvent.solver.totalizer.Totalizer` over a core) puts its next output there. Both are
the same move, which is what OLL does with its counters: a ladder is a counter that the
structure of the problem gives for free.
"""

from __future__ import annotations

from typing import Protocol

from solvent.solver.encoding import Encoding
from solvent.solver.objectives import Terms
from solvent.solver.sat import SatSolver
from solvent.solver.totalizer import Totalizer


class _Counter(Protocol):
    def output(self, k: int) -> int: ...

    def __len__(self) -> int: ...


class Ladder:
    """Unary rank of one name in one objective: ``output(k)`` is true when the installed record's
    rank is at least ``k``. Rungs are created on demand, the first with its clauses (every build
    of rank >= k implies it), each later one also implying the one below."""

    __slots__ = ("name", "ranks", "rungs", "sat", "top")

    def __init__(self, sat: SatSolver, name: str, ranks: dict[int, int]) -> None:
        self.sat = sat
        self.name = name
        self.ranks = ranks  # candidate variable -> rank (> 0)
        self.top = max(ranks.values())
        self.rungs: list[int] = []

    def __len__(self) -> int:
        return self.top

    def output(self, k: int) -> int:
        sat = self.sat
        while len(self.rungs) < k:
            j = len(self.rungs) + 1
            rung = sat.new_var()
            for var, rank in self.ranks.items():
                if rank >= j:
                    sat.add_binary(-var, rung)
            if self.rungs:
                sat.add_binary(-rung, self.rungs[-1])
            self.rungs.append(rung)
        return self.rungs[k - 1]

    def rank_of(self, true_vars: set[int]) -> int:
        return next((rank for var, rank in self.ranks.items() if var in true_vars), 0)


class SoftSet:
    """The assumptions of one objective and their weights, as OLL reformulates them."""

    def __init__(self, enc: Encoding) -> None:
        self.enc = enc
        self.sat = enc.sat
        self.weights: dict[int, int] = {}  # assumption -> weight
        self.ladders: dict[str, Ladder] = {}
        self.singles: set[int] = set()  # term literals that are not part of a ladder
        # an assumption that stands for "counter output k is false": its counter and k
        self._steps: dict[int, tuple[_Counter, int]] = {}
        self._rung: dict[str, int] = {}  # ladder name -> its rung assumed false now
        self.lower = 0

    # ------------------------------------------------------------------ terms in

    def add_terms(self, terms: Terms) -> list[int]:
        """Take new terms; returns the assumptions added for them (the literals "zero")."""
        by_name: dict[str, dict[int, int]] = {}
        added: list[int] = []
        record_of = self.enc.record_of
        for lit, weight in terms.items():
            record = record_of.get(lit) if lit > 0 else None
            if record is not None and record.name not in self.ladders:
                by_name.setdefault(record.name, {})[lit] = weight
            elif record is None and lit not in self.singles:
                self.singles.add(lit)
                self._put(-lit, weight)
                added.append(-lit)
        for name, ranks in by_name.items():
            ladder = self.ladders[name] = Ladder(self.sat, name, ranks)
            a = -ladder.output(1)
            self._put(a, 1)
            self._steps[a] = (ladder, 1)
            self._rung[name] = a
            added.append(a)
        return added

    def covers(self, terms: Terms) -> bool:
        record_of = self.enc.record_of
        for lit in terms:
            record = record_of.get(lit) if lit > 0 else None
            if (record.name not in self.ladders) if record is not None else (lit not in self.singles):
                return False
        return True

    def _put(self, a: int, w: int) -> None:
        self.weights[a] = self.weights.get(a, 0) + w

    # ------------------------------------------------------------------ cores

    def relax(self, core: list[int]) -> None:
        """OLL's step for a core (assumptions that cannot all hold): pay the cheapest weight,
        charge it again for the next violation of each relaxed counter and of the core itself."""
        weights = self.weights
        w = min(weights[a] for a in core)
        self.lower += w
        for a in core:
            left = weights[a] - w
            if left:
                weights[a] = left
            else:
                del weights[a]
            step = self._steps.get(a)
            if step is not None:
                counter, k = step
                b = 0
                if k < len(counter):
                    b = -counter.output(k + 1)
                    self._put(b, w)
                    self._steps[b] = (counter, k + 1)
                if isinstance(counter, Ladder) and a not in weights:
                    if b:
                        self._rung[counter.name] = b
                    else:
                        del self._rung[counter.name]
        inputs = self._violation_inputs(core)
        if len(inputs) > 1:
            total = Totalizer(self.sat, inputs)
            b = -total.output(2)
            self._put(b, w)
            self._steps[b] = (total, 2)

    def _violation_inputs(self, core: list[int]) -> list[int]:
        """One literal per independent violation: records of one name exclude each other, so a
        core's records of one name count once (through a literal each of them implies)."""
        record_of = self.enc.record_of
        by_name: dict[str, list[int]] = {}
        out: list[int] = []
        for a in core:
            v = -a
            record = record_of.get(v) if v > 0 else None
            if record is None:
                out.append(v)
            else:
                by_name.setdefault(record.name, []).append(v)
        for lits in by_name.values():
            if len(lits) == 1:
                out.append(lits[0])
                continue
            group = self.sat.new_var()
            for lit in lits:
                self.sat.add_binary(-lit, group)
            out.append(group)
        return out

    def climb(self, name: str, rank: int) -> int:
        """The installed record of ``name`` must have rank >= ``rank``: relax every rung below
        (each is a core of its own) at once; the lower bound gained."""
        ladder = self.ladders.get(name)
        if ladder is None:
            return 0
        gained = 0
        while True:
            a = self.current(ladder)
            if a is None or self._steps[a][1] > rank:
                return gained
            before = self.lower
            self.relax([a])
            gained += self.lower - before

    def current(self, ladder: Ladder) -> int | None:
        """The rung of ``ladder`` assumed false now (None once every rung is relaxed)."""
        return self._rung.get(ladder.name)

    def floor(self, name: str) -> tuple[dict[int, int], int] | None:
        """The ranks of ``name``'s ladder and the lowest rank its current assumption rules out
        (None without a ladder or once every rung is relaxed): :meth:`forbids` for a whole name,
        for callers that test thousands of its builds."""
        ladder = self.ladders.get(name)
        if ladder is None:
            return None
        a = self._rung.get(name)
        return None if a is None else (ladder.ranks, self._steps[a][1])

    def forbids(self, var: int) -> bool:
        """Does the current assumption of this record's ladder rule the record out?"""
        record = self.enc.record_of.get(var)
        if record is None:
            return False
        ladder = self.ladders.get(record.name)
        if ladder is None:
            return False
        rank = ladder.ranks.get(var, 0)
        a = self.current(ladder)
        return a is not None and rank >= self._steps[a][1]

    def name_of(self, a: int) -> str | None:
        """The package name an assumption is about, where it is about one."""
        step = self._steps.get(a)
        if step is not None and isinstance(step[0], Ladder):
            return step[0].name
        return self.enc.aux_name.get(-a)

    def paid_by(self, a: int, true_vars: set[int]) -> bool:
        """Does a model with these true variables violate assumption ``a``?"""
        step = self._steps.get(a)
        if step is not None and isinstance(step[0], Ladder):
            return step[0].rank_of(true_vars) >= step[1]
        return (-a in true_vars) if a < 0 else (a not in true_vars)
