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

from typing import Callable, Iterable, Sequence

from solvent.solver.sat_constraints import _Constraints
from solvent.solver.sat_state import SatStats, _Expl

__all__ = ["COMPLETE", "SatSolver", "SatStats"]

#: What a ``decide`` callback returns to set every unassigned variable false in one step.
COMPLETE = 0

_TRUTH = (False, None, True)  # indexed by value + 1


class SatSolver(_Constraints):
    """Incremental CDCL solver over variables ``1..n`` and literals ``+v`` / ``-v``.

    ``track_core=False`` skips the provenance bookkeeping that ``unsat_core()`` needs, which makes
    conflict analysis a little cheaper (about 8% on random 3-SAT) for callers that never ask why.

    ``stats`` holds cumulative counters; ``backtracks`` counts every undo of assignments, so a
    ``decide`` callback can cache "already settled" state and drop it when the number changes.
    """

    def __init__(self, *, track_core: bool = True) -> None:
        super().__init__(track_core)
        self._model: list[int] | None = None
        self._view: list[int] = self._val
        # restart when the recent LBD average exceeds the long-run one by this margin
        self._restart_min = 50
        self._restart_margin = 1.2
        self.restart_with_decide = False

    # ------------------------------------------------------------------ solving

    def solve(
        self,
        assumptions: Sequence[int] = (),
        *,
        context: Sequence[int] = (),
        decide: Callable[[], int | None] | None = None,
        on_true: Callable[[int], None] | None = None,
        max_conflicts: int | None = None,
        level_each: bool = False,
    ) -> bool | None:
        """True = SAT, False = UNSAT under the assumptions, None = gave up after ``max_conflicts``.

        ``context`` and ``assumptions`` are both assumed; each group is put on one decision level
        of its own (context first), so thousands of assumptions cost one propagation rather than
        a level each, and a conflict among them is traced back to the ones it used
        (``unsat_core()``). The context level is fully propagated before the assumptions are
        placed, so an assumption the context already refutes fails alone.

        ``level_each`` puts every assumption on a level of its own instead, in the order given.
        A caller that asks many questions whose assumptions share a prefix (an optimizer
        relaxing a few of them at a time, see :meth:`retract`) then re-propagates only from the
        first one that changed: the levels of the unchanged prefix are reused.

        ``decide()`` is asked for the next decision whenever propagation is complete; it returns
        an unassigned literal, ``COMPLETE`` (0) to set every unassigned variable false at once
        (when the caller knows that this satisfies every constraint it made; if it does not, the
        batch is undone and ``no_batch`` is set for the rest of this solve), or None to let the
        engine choose. ``on_true(var)`` runs once per variable, the first time it becomes true;
        it may add constraints (and variables).
        """
        result = self._run(assumptions, context, decide, on_true, max_conflicts, stop=False, level_each=level_each)
        if result:
            self._model = self._val[:]
            self._view = self._model
        else:
            self._settle_failed(result)
        return result

    def implied(
        self,
        assumptions: Sequence[int] = (),
        *,
        context: Sequence[int] = (),
        on_true: Callable[[int], None] | None = None,
    ) -> bool:
        """Propagate the assumptions (and what ``on_true`` adds) without deciding anything.

        False when they are contradictory (``unsat_core()`` says why); otherwise ``value()`` gives
        what they imply until the next call that changes the solver.
        """
        if self._run(assumptions, context, None, on_true, None, stop=True) is False:
            self._settle_failed(False)
            return False
        return True

    def _settle_failed(self, result: bool | None) -> None:
        """Keep only the assumption levels that are complete and consistent after a failed call."""
        if result is False:
            self._backtrack(max(0, self._fail_level - 1) if self._ok else 0)
        else:
            self._backtrack(min(len(self._live), len(self._trail_lim)))
        self._view = self._val

    def retract(self, lits: Iterable[int]) -> None:
        """After a failed ``solve(level_each=True)``: undo the assumption levels from the first
        one holding any of ``lits`` (assumptions about to change) and keep those below, which the
        next call reuses if its assumptions start the same way."""
        live = self._live
        where = {group[0]: i for i, group in enumerate(live) if len(group) == 1}
        lowest = len(live)
        for lit in lits:
            i = where.get(2 * lit if lit > 0 else 1 - 2 * lit, lowest)
            if i < lowest:
                lowest = i
        self._backtrack(lowest)

    def probe(self, lit: int) -> bool:
        """After :meth:`implied`: would ``lit`` lead to a conflict by propagation alone?

        True means the implied assumptions and ``lit`` cannot hold together (a failed literal),
        for certain; False proves nothing. No callbacks run, so lazily generated constraints are
        not consulted, and nothing stays assigned.
        """
        c = self._code(lit)
        v = self._val[c]
        if v:
            return v < 0
        lim = self._trail_lim
        base = len(lim)
        lim.append(len(self._trail))
        self._enqueue(c, None)
        confl = self._propagate()
        self._backtrack(base)
        return confl is not None

    def _run(
        self,
        assumptions: Sequence[int],
        context: Sequence[int],
        decide: Callable[[], int | None] | None,
        on_true: Callable[[int], None] | None,
        max_conflicts: int | None,
        stop: bool,
        level_each: bool = False,
    ) -> bool | None:
        if self._solving:
            raise RuntimeError("SatSolver.solve() is not re-entrant")
        self._model = None
        if not self._ok:
            self._failed = []
            return False
        n = self._nvars
        groups: list[list[int]] = []
        for group in (context, assumptions):
            if group:
                codes = [2 * a if a > 0 else 1 - 2 * a for a in group]
                if max(codes) > 2 * n + 1 or min(codes) < 2:
                    raise ValueError(f"assumptions refer to unknown variables (there are {n})")
                if level_each and group is assumptions:
                    groups.extend([c] for c in codes)
                else:
                    groups.append(codes)
        # Keep the levels of leading groups that are still in place from the last call (the
        # optimizer asks many questions under one context).
        live = self._live
        keep = 0
        while keep < len(groups) and keep < len(live) and live[keep] == groups[keep]:
            keep += 1
        if keep == 0 and groups and live and self._extends(groups[0], live[0]):
            keep = 1  # the first group grew (a context the caller appends to): extend its level
        self._backtrack(keep)
        self._live = list(groups)  # a copy: backtracking truncates it
        self._view = self._val
        self._final_items = None
        self._failed = []
        self._purge_linears()
        self._asm_levels = len(groups)
        self._asm_failed = False
        self._fail_level = 0
        self.no_batch = False
        self._solving = True
        try:
            return self._search_loop(groups, decide, on_true, max_conflicts, stop)
        finally:
            self._solving = False
            self._asm_levels = 0

    def _extends(self, group: list[int], placed: list[int]) -> bool:
        """Put the literals ``group`` adds to ``placed`` (level 1) on level 1 too, if ``placed``
        is a prefix of ``group`` and none of the additions is already false."""
        n = len(placed)
        if len(group) <= n or group[:n] != placed or not self._trail_lim:
            return False
        self._backtrack(1)
        val = self._val
        tail = group[n:]
        if any(val[a] == -1 for a in tail):
            return False
        for a in tail:
            if not val[a]:
                self._enqueue(a, None)
        return True

    def _search_loop(
        self,
        groups: list[list[int]],
        decide: Callable[[], int | None] | None,
        on_true: Callable[[int], None] | None,
        max_conflicts: int | None,
        stop: bool,
    ) -> bool | None:
        stats = self.stats
        val = self._val
        trail = self._trail
        trail_lim = self._trail_lim
        limit = None if max_conflicts is None else stats.conflicts + max_conflicts
        n_groups = len(groups)
        # A decide callback that follows a fixed policy makes the same decisions again after a
        # restart, so a restart would only repeat work: restarts are for the engine's own choices.
        restarts = decide is None or self.restart_with_decide
        # _notify_head persists between calls: everything before it was seen by a callback (or
        # is marked notified), backtracking lowers it, and without a callback it stays put.
        # Rewinding it here walked the whole trail again on every one of the optimizer's calls.
        notified = self._notified
        while True:
            if self._asm_failed:
                return False
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
                        if not self._ok or self._asm_failed:
                            return False
                continue  # the callbacks may have added constraints: propagate again
            if len(trail_lim) < n_groups:
                # place the next assumption group on a level of its own, then propagate it
                group = groups[len(trail_lim)]
                trail_lim.append(len(trail))
                lv = len(trail_lim)
                level = self._level
                reason = self._reason
                push = trail.append
                for a in group:
                    va = val[a]
                    if va == -1:
                        self._analyze_final(a)
                        return False
                    if va == 0:
                        val[a] = 1
                        val[a ^ 1] = -1
                        level[a >> 1] = lv
                        reason[a >> 1] = None
                        push(a)
                continue
            if stop:
                return None
            if limit is not None and stats.conflicts >= limit:
                return None
            if (
                restarts
                and self._since_restart >= self._restart_min
                and self._ema_fast > self._restart_margin * self._ema_slow
            ):
                self._since_restart = 0
                stats.restarts += 1
                if len(trail_lim) > n_groups:
                    self._backtrack(n_groups)
                    continue
            if stats.conflicts >= self._next_reduce:
                self._reduce_db()
            nxt = -1
            if decide is not None:
                epoch = self._epoch
                lit = decide()
                if self._epoch != epoch or not self._ok:
                    continue
                if lit == COMPLETE:
                    if self.no_batch:
                        lit = None
                    elif self._decide_rest_false():
                        continue
                    else:
                        return True  # nothing left to assign and nothing to propagate
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

    def _decide_rest_false(self) -> bool:
        """One decision level setting every unassigned variable false; False if none is left."""
        val = self._val
        n = self._nvars
        v = self._low_free
        while v <= n and val[2 * v]:
            v += 1
        self._low_free = v
        if v > n:
            return False
        self.stats.decisions += 1
        self._trail_lim.append(len(self._trail))
        self._batch_level = len(self._trail_lim)
        enqueue = self._enqueue
        for u in range(v, n + 1):
            if not val[2 * u]:
                enqueue(2 * u + 1, None)
        self._low_free = n + 1
        return True

    # ------------------------------------------------------------------ results

    def value(self, lit: int) -> bool | None:
        """The literal's value: during solve() under the current partial assignment, after a SAT
        answer in its model (until the next solve), otherwise as fixed at level 0."""
        try:
            return _TRUTH[self._view[2 * lit if lit > 0 else 1 - 2 * lit] + 1]
        except IndexError:
            return None  # a variable created after the model was taken

    def falsified(self, lits: Iterable[int]) -> list[int]:
        """The literals among ``lits`` that are false, as :meth:`value` sees them."""
        view = self._view
        n = len(view)
        out = []
        for lit in lits:
            c = 2 * lit if lit > 0 else 1 - 2 * lit
            if c < n and view[c] == -1:
                out.append(lit)
        return out

    def in_conflicts(self, var: int) -> bool:
        """Has ``var`` taken part in a conflict analysis (its activity was ever raised)? What
        other parts of the solver use to look only where the search has struggled."""
        return self._act[var] > 0.0

    def binary_implications(self, lit: int) -> list[int]:
        """Codes implied by ``lit`` through binary clauses (``2v`` for ``v``, ``2v+1`` for ``-v``):
        what other parts of the solver read to find structure in the clauses."""
        return self._bimp[self._code(lit)]

    def assignment(self) -> list[int]:
        """The current values by literal code (``2v`` for ``v``, ``2v+1`` for ``-v``; 1 true,
        -1 false, 0 unassigned), read-only: for callers that scan thousands of literals."""
        return self._view

    def trail_size(self) -> int:
        """How many literals are assigned: it grows whenever something new is implied."""
        return len(self._trail)

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

    def failed_assumptions(self) -> list[int]:
        """After UNSAT under assumptions: the ones the refutation used (without tracing the
        constraints behind them, which :meth:`unsat_core` does and which costs far more)."""
        return list(self._failed)

    def stop_tracking_cores(self) -> None:
        """From now on skip the provenance bookkeeping :meth:`unsat_core` needs: for a caller
        that has its explanations and only asks for failed assumptions any more."""
        self._track_core = False

    @property
    def ok(self) -> bool:
        """False once the constraints are unsatisfiable without any assumption."""
        return self._ok
