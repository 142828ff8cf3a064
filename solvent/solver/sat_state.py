"""Assignment state of the CDCL engine: variables, trail, levels and the decision queue.

The engine is split over three modules so that each stays readable: this one owns the data
(flat lists indexed by literal code or variable) and the operations every other part needs
(assigning, backtracking, choosing a branch variable); ``sat_search`` adds propagation and
conflict analysis; ``sat`` is the public API.

Literal codes: variable ``v`` has the codes ``2v`` (positive) and ``2v + 1`` (negative), so the
negation of a code is ``code ^ 1`` and its variable is ``code >> 1``. Codes index flat lists with
no hashing and no sign juggling in the hot loops; the public API speaks DIMACS-style ``+v``/``-v``.

Reasons (why a literal was assigned), by type, so propagation never allocates for the common cases:

* ``None``: a decision (or an assumption);
* ``int``: a two-literal implication; the code is the other, false literal of the clause. Binary
  clauses and at-most-one constraints both produce these;
* ``list``: a clause of three or more literals whose first element is the implied literal (the
  watch scheme never moves a true watched literal, so this holds for as long as it is assigned);
  a unit clause is a one-element list;
* ``_Expl``: the explanation of a linear-constraint propagation (all its literals are false).
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any

from solvent.slots import SlotValue

_DECAY = 1 / 0.95


class SatStats(SlotValue):
    """Counters of the search, cumulative over every ``solve()`` call."""

    __slots__ = ("conflicts", "decisions", "deleted", "learned", "propagations", "reductions", "restarts")

    def __init__(self) -> None:
        self.conflicts = 0
        self.decisions = 0
        self.propagations = 0
        self.learned = 0
        self.restarts = 0
        self.reductions = 0
        self.deleted = 0


class _Info:
    """Provenance of a constraint: the user's tag, or, for a learned clause, its antecedents.

    Antecedents are the ``_Info`` of every constraint resolved to derive the clause plus the
    variables fixed at level 0 that the derivation dropped (their own reasons are traced later),
    so an unsatisfiable core can be traced back to original tags after learned clauses are gone.
    """

    __slots__ = ("antecedents", "lbd", "tag")

    def __init__(self, tag: object = None, antecedents: list[Any] | None = None, lbd: int = 0) -> None:
        self.tag = tag
        self.antecedents = antecedents
        self.lbd = lbd


class _AtMostOne:
    """A native at-most-one constraint: one list of codes shared by every literal's watch entry."""

    __slots__ = ("info", "lits", "litset")

    def __init__(self, lits: list[int], info: _Info) -> None:
        self.lits = lits
        self.info = info
        self.litset: frozenset[int] | None = None  # built on demand, for unsat-core lookups


class _Linear:
    """``sum(weight * lit) <= bound`` while ``guard`` holds.

    ``total`` and ``stack`` count only literals the propagation loop has already processed, so
    a literal is never counted twice; the engine's undo log takes them back on backtracking.
    ``terms`` is sorted by decreasing weight so a check stops at the first weight that still fits.
    """

    __slots__ = ("bound", "guard", "info", "stack", "terms", "total")

    def __init__(self, terms: list[tuple[int, int]], bound: int, guard: int | None, info: _Info) -> None:
        self.terms = terms
        self.bound = bound
        self.guard = guard
        self.info = info
        self.total = 0
        self.stack: list[int] = []


class _Expl:
    """Reason (or conflict) from a linear constraint: literals that are all false, and the source."""

    __slots__ = ("con", "lits")

    def __init__(self, lits: list[int], con: _Linear) -> None:
        self.lits = lits
        self.con = con


class _State:
    """Flat per-literal and per-variable arrays, the trail, and the decision heap.

    The decision heuristic is EVSIDS with phase saving. Its heap is ``heapq`` with lazy entries
    rather than a hand-written indexed heap: pushing a fresh ``(-activity, var)`` tuple runs in C,
    while a Python sift loop per bumped or unassigned variable would dominate backjumps. (VMTF,
    tried first, is cheaper per operation but needed about twice the conflicts on random 3-SAT.)
    """

    def __init__(self) -> None:
        self._nvars = 0
        # per literal code (index 0 and 1 belong to the unused variable 0)
        self._val: list[int] = [0, 0]  # 1 true, -1 false, 0 unassigned
        self._watches: list[list[list[int]]] = [[], []]  # clauses watching the code
        self._bimp: list[list[int]] = [[], []]  # code true => these codes true
        self._amo_w: list[list[_AtMostOne]] = [[], []]
        self._lin_w: list[list[tuple[_Linear, int]]] = [[], []]  # weight 0 marks the guard
        # per variable
        self._level: list[int] = [0]
        self._reason: list[Any] = [None]
        self._phase: list[int] = [1]  # the code to decide; default negative ("not installed")
        self._seen: list[int] = [0]
        self._notified: list[bool] = [False]
        # EVSIDS: activities, a lazy max-heap of (-activity, var) and whether var has a live entry
        self._act: list[float] = [0.0]
        self._act_inc = 1.0
        self._heap: list[tuple[float, int]] = []
        self._in_heap: list[bool] = [False]
        # trail
        self._trail: list[int] = []
        self._trail_lim: list[int] = []
        self._qhead = 0
        self._notify_head = 0
        self._lin_undo: list[tuple[int, _Linear, int]] = []
        self.backtracks = 0
        # Low-water marks since a decision policy last looked (it resets them): the shortest the
        # trail has been and the smallest variable unassigned, so the policy can update its own
        # incremental state instead of rescanning.
        self.low_trail = 0
        self.low_var = 0
        # every variable below this one is assigned (where a batch of "not installed" decisions
        # starts looking), and the decision level holding such a batch (0: none)
        self._low_free = 1
        self._batch_level = 0
        # the assumption groups on levels 1, 2, ... (as codes), reusable while those levels stand
        self._live: list[list[int]] = []
        self.stats = SatStats()

    @property
    def num_vars(self) -> int:
        return self._nvars

    def new_var(self) -> int:
        """Allocate the next variable (1, 2, ...); allowed at any time, also inside callbacks."""
        self._nvars += 1
        v = self._nvars
        self._val += (0, 0)
        self._watches += ([], [])
        self._bimp += ([], [])
        self._amo_w += ([], [])
        self._lin_w += ([], [])
        self._level.append(0)
        self._reason.append(None)
        self._phase.append(2 * v + 1)
        self._seen.append(0)
        self._notified.append(False)
        self._act.append(0.0)
        self._in_heap.append(True)
        heappush(self._heap, (-0.0, v))
        return v

    def _code(self, lit: int) -> int:
        """Public literal to code, rejecting 0 and unknown variables (a caller bug)."""
        if lit > 0:
            if lit > self._nvars:
                raise ValueError(f"literal {lit} refers to an unknown variable")
            return 2 * lit
        if lit == 0 or -lit > self._nvars:
            raise ValueError(f"literal {lit} is not a valid literal")
        return -2 * lit + 1

    @staticmethod
    def _lit(code: int) -> int:
        return -(code >> 1) if code & 1 else code >> 1

    def _enqueue(self, code: int, reason: Any, level: int = -1) -> None:
        """Assign ``code`` true; a ``level`` below the current one puts it on the trail out of
        order (chronological backtracking: it is implied there, but nothing above is undone)."""
        self._val[code] = 1
        self._val[code ^ 1] = -1
        v = code >> 1
        self._level[v] = len(self._trail_lim) if level < 0 else level
        self._reason[v] = reason
        self._trail.append(code)

    def _backtrack(self, level: int) -> None:
        """Undo every assignment above ``level``, saving phases and re-queueing the variables.

        The trail is ordered by time, not strictly by level: a literal implied by lower levels
        may have been put on it later, with its lower level (chronological backtracking). Such
        literals survive; they move down to where the undone part began and are propagated
        again, so that what they imply is re-derived on the levels that remain.
        """
        lim = self._trail_lim
        if len(lim) <= level:
            return
        trail = self._trail
        val = self._val
        lvl = self._level
        phase = self._phase
        in_heap = self._in_heap
        heap = self._heap
        act = self._act
        pos = lim[level]
        kept: list[int] = []
        low = self._nvars + 1
        for code in trail[pos:]:
            v = code >> 1
            if lvl[v] <= level:
                kept.append(code)
                continue
            val[code] = 0
            val[code ^ 1] = 0
            phase[v] = code
            if v < low:
                low = v
            if not in_heap[v]:
                in_heap[v] = True
                heappush(heap, (-act[v], v))
        if low < self.low_var:
            self.low_var = low
        if low < self._low_free:
            self._low_free = low
        if level < self._batch_level:
            self._batch_level = 0
        if level < len(self._live):
            del self._live[level:]
        if pos < self.low_trail:
            self.low_trail = pos
        del trail[pos:]
        if kept:
            trail.extend(kept)
        del lim[level:]
        if self._qhead > pos:
            self._qhead = pos
        if self._notify_head > pos:
            self._notify_head = pos
        undo = self._lin_undo
        while undo and undo[-1][0] >= pos:
            _, con, w = undo.pop()
            con.total -= w
            con.stack.pop()
        self.backtracks += 1

    def _bump(self, variables: list[int]) -> None:
        """Raise the activity of a conflict's variables (EVSIDS: the increment grows instead of
        every activity decaying). Heap entries are lazy: a bumped variable gets a fresh entry and
        its old ones are recognised as stale when popped."""
        act = self._act
        inc = self._act_inc
        heap = self._heap
        in_heap = self._in_heap
        for v in variables:
            a = act[v] + inc
            act[v] = a
            in_heap[v] = True
            heappush(heap, (-a, v))
        self._act_inc = inc * _DECAY
        if self._act_inc > 1e100:
            for v in range(1, self._nvars + 1):
                act[v] *= 1e-100
            self._act_inc *= 1e-100
            self._rebuild_heap()
        elif len(heap) > 4 * self._nvars + 1000:
            self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        """Drop stale entries: one live entry per unassigned variable."""
        val = self._val
        act = self._act
        in_heap = self._in_heap
        heap = []
        for v in range(1, self._nvars + 1):
            free = not val[2 * v]
            in_heap[v] = free
            if free:
                heap.append((-act[v], v))
        heapify(heap)
        self._heap = heap

    def _pick_branch(self) -> int:
        """The saved phase of the most active unassigned variable, or -1 if none is left."""
        heap = self._heap
        act = self._act
        val = self._val
        in_heap = self._in_heap
        while heap:
            na, v = heappop(heap)
            if -na != act[v]:
                continue  # stale: a newer entry exists
            in_heap[v] = False
            if not val[2 * v]:
                return self._phase[v]
        return -1
