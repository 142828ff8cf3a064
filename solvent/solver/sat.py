"""A pure-Python CDCL SAT engine built for lazy, policy-driven package solving.

The package solver creates a variable per candidate record and generates a record's clauses only
when its variable first becomes true (``on_true``); decisions follow the package policy
(``decide``). So clauses arrive in the middle of a search, often already unit or falsified under
the partial assignment, and the engine puts each one at the level where it belongs: a unit is
propagated at the level of its highest false literal (backjumping if needed), a falsified clause
with one literal on its highest level backjumps and propagates, and a falsified clause with two
or more is analysed like any conflict.

Besides clauses it propagates two constraint kinds natively: at-most-one (one watch entry per
literal instead of O(n²) binary clauses: a name can have thousands of builds) and guarded linear
``sum(weight * lit) <= bound`` (the optimizer's objective bounds). Every constraint carries a tag,
learned clauses remember what they were derived from, and after UNSAT ``unsat_core()`` gives the
tags of a refutation and the failed assumptions.

Search: two-watched-literal propagation (binary clauses as implication lists), first-UIP
learning with recursive minimization, EVSIDS decisions with phase saving (default phase False:
"not installed"), restarts when recent conflicts get worse (LBD moving averages), and periodic
halving of the learned-clause database by LBD.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from solvent.solver.sat_search import _KEY_SHIFT, _Search
from solvent.solver.sat_state import SatStats, _AtMostOne, _Expl, _Info, _Linear

__all__ = ["SatSolver", "SatStats"]

_TRUTH = (False, None, True)  # indexed by value + 1


class SatSolver(_Search):
    """Incremental CDCL solver over variables ``1..n`` and literals ``+v`` / ``-v``.

    ``track_core=False`` skips the provenance bookkeeping that ``unsat_core()`` needs, which makes
    conflict analysis a little cheaper (about 8% on random 3-SAT) for callers that never ask why.

    ``stats`` holds cumulative counters; ``backtracks`` counts every undo of assignments, so a
    ``decide`` callback can cache "already settled" state and drop it when the number changes.
    """

    def __init__(self, *, track_core: bool = True) -> None:
        super().__init__(track_core)
        self._solving = False
        self._epoch = 0
        self._model: list[int] | None = None
        self._view: list[int] = self._val
        # restart when the recent LBD average exceeds the long-run one by this margin
        self._restart_min = 50
        self._restart_margin = 1.2

    # ------------------------------------------------------------------ adding constraints

    def _prepare_add(self) -> None:
        """Outside solve() constraints are added at level 0; inside, the current level stays."""
        if self._solving:
            self._epoch += 1
        else:
            self._backtrack(0)

    def add_clause(self, lits: Sequence[int], tag: object = None) -> None:
        """Add the clause ``lits[0] or lits[1] or ...``; allowed before and during ``solve()``.

        An empty clause makes the solver UNSAT for good. Duplicate literals are merged and a
        tautology is dropped.
        """
        self._prepare_add()
        code = self._code
        codes = list(dict.fromkeys(code(lit) for lit in lits))
        if len(codes) > 1:
            s = set(codes)
            if any(c ^ 1 in s for c in codes):
                return
        if not self._ok:
            return
        self._add_codes(codes, _Info(tag))

    def _add_codes(self, lits: list[int], info: _Info) -> None:
        val = self._val
        level = self._level
        best0 = best1 = -1  # indices of the two literals to watch
        k0 = k1 = -1  # their keys: non-false beats false, a higher false level beats a lower
        for i, q in enumerate(lits):
            vq = val[q]
            if vq == 1 and level[q >> 1] == 0:
                return  # satisfied for good
            key = 1 << 40 if vq != -1 else level[q >> 1]
            if key > k0:
                best1, k1 = best0, k0
                best0, k0 = i, key
            elif key > k1:
                best1, k1 = i, key
        n = len(lits)
        if n == 0:
            self._set_final([], info)
            return
        if n == 1:
            q = lits[0]
            self._backtrack(0)
            if val[q] == -1:
                self._set_final([q], info)
            elif val[q] == 0:
                self._cinfo[id(lits)] = info
                self._enqueue(q, lits)
            return
        # move the watches to the front
        a = lits[best0]
        lits[best0] = lits[0]
        lits[0] = a
        if best1 == 0:
            best1 = best0
        b = lits[best1]
        lits[best1] = lits[1]
        lits[1] = b
        reason: Any
        if n == 2:
            self._bimp[a ^ 1].append(b)
            self._bimp[b ^ 1].append(a)
            if self._track_core:
                key = (a << _KEY_SHIFT) | b if a < b else (b << _KEY_SHIFT) | a
                self._bin_info.setdefault(key, info)
            reason = b
        else:
            self._watches[a].append(lits)
            self._watches[b].append(lits)
            self._cinfo[id(lits)] = info
            reason = lits
        va = val[a]
        if val[b] != -1 or va == 1:
            return  # two non-false watches, or satisfied
        if va == 0:  # unit: propagate at the level of the highest false literal
            self._backtrack(level[b >> 1])
            self._enqueue(a, reason)
            return
        self._falsified(lits, info, reason)

    def _falsified(self, lits: list[int], info: _Info | None, reason: Any) -> None:
        """Handle a constraint found false on adding; ``lits[0]``/``lits[1]`` have the top levels."""
        level = self._level
        l1 = level[lits[0] >> 1]
        l2 = level[lits[1] >> 1] if len(lits) > 1 else 0
        if l1 == 0:
            self._set_final(lits, info)
            return
        if l1 > l2:  # one literal on the top level: it becomes a unit after the backjump
            self._backtrack(l2)
            self._enqueue(lits[0], reason)
            return
        self._backtrack(l1)
        self._resolve_conflict(lits, info)

    def add_at_most_one(self, lits: Sequence[int], tag: object = None) -> None:
        """At most one of ``lits`` is true, propagated natively with one entry per literal."""
        self._prepare_add()
        code = self._code
        codes = list(dict.fromkeys(code(lit) for lit in lits))
        if not self._ok or len(codes) < 2:
            return
        s = set(codes)
        pairs = [c for c in codes if c & 1 == 0 and c ^ 1 in s]
        if pairs:
            # x and -x already count one between them: two such pairs, or any other true literal,
            # break the constraint
            if len(pairs) > 1:
                self._add_codes([], _Info(tag))
                return
            rest = [c for c in codes if c >> 1 != pairs[0] >> 1]
            for c in rest:
                if self._ok:
                    self._add_codes([c ^ 1], _Info(tag))
            return
        info = _Info(tag)
        if len(codes) == 2:
            self._add_codes([codes[0] ^ 1, codes[1] ^ 1], info)
            return
        amo = _AtMostOne(codes, info)
        for c in codes:
            self._amo_w[c].append(amo)
        self._settle_amo(amo)

    def _settle_amo(self, amo: _AtMostOne) -> None:
        """Bring a new at-most-one in line with the current assignment."""
        val = self._val
        level = self._level
        while self._ok:
            trues = sorted((q for q in amo.lits if val[q] == 1), key=lambda q: level[q >> 1])
            if len(trues) >= 2:
                p, q = trues[1], trues[0]  # p has the higher (or equal) level
                self._falsified([p ^ 1, q ^ 1], amo.info, q ^ 1)
                continue
            if len(trues) == 1:
                p = trues[0]
                if any(val[q] == 0 for q in amo.lits):
                    self._backtrack(level[p >> 1])
                    for q in amo.lits:
                        if not val[q]:
                            self._enqueue(q ^ 1, p ^ 1)
            return

    def add_linear_le(
        self,
        terms: Sequence[tuple[int, int]],
        bound: int,
        *,
        guard: int | None = None,
        tag: object = None,
    ) -> None:
        """``sum(weight for (weight, lit) in terms if lit is true) <= bound``, while ``guard`` is true.

        Terms are ``(weight, literal)`` pairs with positive integer weights. With a guard the
        constraint only binds while the guard literal is true, and every propagation it makes
        mentions ``-guard`` in its explanation, so learned clauses stay valid once the guard is
        dropped: the way to tighten an objective bound step by step under an assumption.
        """
        self._prepare_add()
        code = self._code
        weights: dict[int, int] = {}
        for w, lit in terms:
            if not isinstance(w, int) or w < 0:
                raise ValueError(f"linear constraint weights must be non-negative integers, got {w!r}")
            if w:
                c = code(lit)
                weights[c] = weights.get(c, 0) + w
        for c in [c for c in weights if c & 1 == 0 and c ^ 1 in weights]:
            wp, wn = weights.pop(c), weights.pop(c ^ 1)
            bound -= min(wp, wn)  # x + -x contribute at least min(wp, wn) together
            if wp != wn:
                weights[c if wp > wn else c ^ 1] = abs(wp - wn)
        if not self._ok:
            return
        g = code(guard) if guard is not None else None
        info = _Info(tag)
        if bound < 0:
            self._add_codes([g ^ 1] if g is not None else [], info)
            return
        if sum(weights.values()) <= bound:
            return
        con = _Linear(sorted(((w, c) for c, w in weights.items()), reverse=True), bound, g, info)
        self._attach_linear(con)

    def _attach_linear(self, con: _Linear) -> None:
        """Register a linear constraint and settle it against the current assignment.

        Only level-0 literals are counted on attaching: if any of its literals is assigned higher,
        the search first backjumps below them, which keeps the undo log ordered by trail position.
        """
        val = self._val
        level = self._level
        g = con.guard
        lits = [c for _, c in con.terms]
        if g is not None:
            lits.append(g)
        assigned = [level[c >> 1] for c in lits if val[c] and level[c >> 1] > 0]
        if assigned:
            self._backtrack(min(assigned) - 1)
        self._linears.append(con)
        lin_w = self._lin_w
        weight_of = {c: w for w, c in con.terms}
        for w, c in con.terms:
            lin_w[c].append((con, w))
        if g is not None:
            lin_w[g].append((con, 0))
        for t in self._trail[: self._qhead]:
            wt = weight_of.get(t)
            if wt is not None:
                con.total += wt
                con.stack.append(t)
        if g is not None and val[g] != 1:
            return
        slack = con.bound - con.total
        if slack >= 0 and con.terms[0][0] <= slack:
            return
        # the explanation would hold only level-0 literals: act at level 0
        self._backtrack(0)
        confl = self._check_linear(con)
        if confl is not None:
            self._set_final(confl.lits, con.info)

    # ------------------------------------------------------------------ solving

    def solve(
        self,
        assumptions: Sequence[int] = (),
        *,
        decide: Callable[[], int | None] | None = None,
        on_true: Callable[[int], None] | None = None,
        max_conflicts: int | None = None,
    ) -> bool | None:
        """True = SAT, False = UNSAT under the assumptions, None = gave up after ``max_conflicts``.

        ``decide()`` is asked for the next decision whenever propagation is complete; it returns
        an unassigned literal, or None to let the engine choose. ``on_true(var)`` runs once per
        variable, the first time it becomes true; it may add constraints (and variables).
        """
        if self._solving:
            raise RuntimeError("SatSolver.solve() is not re-entrant")
        self._model = None
        if not self._ok:
            self._failed = []
            return False
        codes = [self._code(a) for a in assumptions]
        self._backtrack(0)
        self._view = self._val
        self._final_items = None
        self._failed = []
        self._purge_linears()
        self._solving = True
        try:
            result = self._search_loop(codes, decide, on_true, max_conflicts)
        finally:
            self._solving = False
        if result:
            self._model = self._val[:]
            self._view = self._model
        else:
            self._backtrack(0)
        return result

    def _search_loop(
        self,
        assumptions: list[int],
        decide: Callable[[], int | None] | None,
        on_true: Callable[[int], None] | None,
        max_conflicts: int | None,
    ) -> bool | None:
        stats = self.stats
        val = self._val
        trail = self._trail
        trail_lim = self._trail_lim
        limit = None if max_conflicts is None else stats.conflicts + max_conflicts
        n_assumptions = len(assumptions)
        self._notify_head = 0
        notified = self._notified
        while True:
            confl = self._propagate()
            if confl is not None:
                lits = confl.lits if type(confl) is _Expl else confl
                if not self._resolve_conflict(lits, self._conflict_info(confl) if self._track_core else None):
                    return False
                if limit is not None and stats.conflicts >= limit:
                    return None
                continue
            if not self._ok:
                return False
            if on_true is not None and self._notify_head < len(trail):
                while self._notify_head < len(trail):
                    t = trail[self._notify_head]
                    self._notify_head += 1
                    if not t & 1 and not notified[t >> 1]:
                        notified[t >> 1] = True
                        on_true(t >> 1)
                        if not self._ok:
                            return False
                continue  # the callbacks may have added constraints: propagate again
            if limit is not None and stats.conflicts >= limit:
                return None
            if self._since_restart >= self._restart_min and self._ema_fast > self._restart_margin * self._ema_slow:
                self._since_restart = 0
                stats.restarts += 1
                if len(trail_lim) > n_assumptions:
                    self._backtrack(n_assumptions)
            if stats.conflicts >= self._next_reduce:
                self._reduce_db()
            nxt = -1
            while len(trail_lim) < n_assumptions:
                a = assumptions[len(trail_lim)]
                va = val[a]
                if va == 1:
                    trail_lim.append(len(trail))  # an empty level keeps levels and assumptions aligned
                elif va == -1:
                    self._analyze_final(a)
                    return False
                else:
                    nxt = a
                    break
            if nxt < 0:
                if decide is not None:
                    epoch = self._epoch
                    lit = decide()
                    if self._epoch != epoch or not self._ok:
                        continue
                    if lit is not None:
                        nxt = self._code(lit)
                        if val[nxt]:
                            raise ValueError(f"decide() returned the assigned literal {lit}")
                if nxt < 0:
                    nxt = self._pick_branch()
                    if nxt < 0:
                        return True
            stats.decisions += 1
            trail_lim.append(len(trail))
            self._enqueue(nxt, None)

    # ------------------------------------------------------------------ results

    def value(self, lit: int) -> bool | None:
        """The literal's value: during solve() under the current partial assignment, after a SAT
        answer in its model (until the next solve), otherwise as fixed at level 0."""
        try:
            return _TRUTH[self._view[2 * lit if lit > 0 else 1 - 2 * lit] + 1]
        except IndexError:
            return None  # a variable created after the model was taken

    def model(self) -> list[int]:
        """The true variables of the last SAT answer."""
        m = self._model
        if m is None:
            raise RuntimeError("model() needs a preceding solve() that returned True")
        return [v for v in range(1, self._nvars + 1) if 2 * v < len(m) and m[2 * v] == 1]

    def unsat_core(self) -> tuple[set[object], list[int]]:
        """After UNSAT: the tags of the original constraints a refutation used, and the failed
        assumptions. Those constraints plus those assumptions are unsatisfiable on their own;
        constraints added with ``tag=None`` count as background and are not reported."""
        return self._core_tags(), list(self._failed)

    @property
    def ok(self) -> bool:
        """False once the constraints are unsatisfiable without any assumption."""
        return self._ok
