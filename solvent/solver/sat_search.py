"""Propagation and conflict analysis of the CDCL engine.

Everything here runs once per assignment or once per conflict, so the code is written for
CPython: state is cached in locals before each loop, the common reasons (binary implications,
clause lists) are plain ints and lists, and nothing is allocated per propagated literal except
when a linear constraint explains itself.
"""

from __future__ import annotations

from typing import Any

from solvent.solver.sat_cores import _KEY_SHIFT, _Cores, trail_code
from solvent.solver.sat_state import _Expl, _Info, _Linear


class _Search(_Cores):
    def __init__(self, track_core: bool = True) -> None:
        super().__init__(track_core)
        self._ok = True
        self._learned: list[list[int]] = []
        self._linears: list[_Linear] = []
        self._asm_levels = 0  # decision levels 1..n hold the current solve's assumption groups
        self._asm_failed = False  # a conflict on an assumption level ended the current solve
        self._fail_level = 0  # the assumption level where the last solve failed (levels below hold)
        self.no_batch = False  # a batch of "not installed" decisions failed in this solve
        # backjumps longer than this many levels undo only the conflict level (chronological)
        self.chrono_levels = 8
        # restart and reduction schedule
        self._ema_fast = 0.0
        self._ema_slow = 0.0
        self._since_restart = 0
        self._next_reduce = 2000
        self._reduce_inc = 300

    # ------------------------------------------------------------------ propagation

    def _propagate(self) -> Any:
        """Propagate the trail to a fixpoint; return a conflict (list of false codes, or an
        ``_Expl``) or None."""
        trail = self._trail
        val = self._val
        level = self._level
        reason = self._reason
        watches = self._watches
        bimp = self._bimp
        amo_w = self._amo_w
        lin_w = self._lin_w
        push = trail.append
        dl = len(self._trail_lim)
        qhead = start = self._qhead
        confl: Any = None
        while qhead < len(trail):
            p = trail[qhead]
            qhead += 1
            np = p ^ 1
            for q in bimp[p]:
                vq = val[q]
                if not vq:
                    val[q] = 1
                    val[q ^ 1] = -1
                    v = q >> 1
                    level[v] = dl
                    reason[v] = np
                    push(q)
                elif vq < 0:
                    confl = [q, np]
                    break
            if confl is not None:
                break
            ws = watches[np]
            if ws:
                keep: list[list[int]] = []
                watches[np] = keep
                kept = keep.append
                it = iter(ws)
                for c in it:
                    a = c[0]
                    if a == np:
                        a = c[1]
                        c[0] = a
                        c[1] = np
                    va = val[a]
                    if va == 1:
                        kept(c)
                        continue
                    for k in range(2, len(c)):
                        b = c[k]
                        if val[b] != -1:
                            c[1] = b
                            c[k] = np
                            watches[b].append(c)
                            break
                    else:
                        kept(c)
                        if va == 0:
                            val[a] = 1
                            val[a ^ 1] = -1
                            v = a >> 1
                            level[v] = dl
                            reason[v] = c
                            push(a)
                        else:
                            confl = c
                            keep.extend(it)
                            break
                if confl is not None:
                    break
            amos = amo_w[p]
            if amos:
                for amo in amos:
                    for q in amo.lits:
                        if q == p:
                            continue
                        vq = val[q]
                        if not vq:
                            nq = q ^ 1
                            val[nq] = 1
                            val[q] = -1
                            v = q >> 1
                            level[v] = dl
                            reason[v] = np
                            push(nq)
                        elif vq > 0:
                            confl = [q ^ 1, np]
                            break
                    if confl is not None:
                        break
                if confl is not None:
                    break
            lins = lin_w[p]
            if lins:
                confl = self._propagate_linear(p, qhead - 1, lins)
                if confl is not None:
                    break
        self._qhead = qhead
        self.stats.propagations += qhead - start
        return confl

    def _propagate_linear(self, p: int, idx: int, entries: list[tuple[_Linear, int]]) -> _Expl | None:
        """Count ``p`` in its linear constraints and force out every literal that no longer fits."""
        val = self._val
        undo = self._lin_undo
        for con, w in entries:
            if w:
                con.total += w
                con.stack.append(p)
                undo.append((idx, con, w))
            g = con.guard
            if g is not None and val[g] != 1:
                continue
            confl = self._check_linear(con)
            if confl is not None:
                return confl
        return None

    def _check_linear(self, con: _Linear) -> _Expl | None:
        """Conflict if the counted weight exceeds the bound, else force too-heavy literals false."""
        slack = con.bound - con.total
        g = con.guard
        if slack < 0:
            lits = [t ^ 1 for t in con.stack]
            if g is not None:
                lits.append(g ^ 1)
            return _Expl(lits, con)
        terms = con.terms
        if terms[0][0] <= slack:
            return None
        val = self._val
        expl: _Expl | None = None
        for w, q in terms:
            if w <= slack:
                break
            if not val[q]:
                if expl is None:
                    lits = [t ^ 1 for t in con.stack]
                    if g is not None:
                        lits.append(g ^ 1)
                    expl = _Expl(lits, con)
                self._enqueue(q ^ 1, expl)
        return None

    # ------------------------------------------------------------------ conflicts

    def _resolve_conflict(self, lits: list[int], info: _Info | None) -> bool:
        """Learn from a conflict at the current level and backjump.

        False when no search can get past it: at level 0 the constraints are unsatisfiable; on an
        assumption level they are unsatisfiable under the assumptions (``_final_conflict`` traces
        which ones). A conflict on the level of a batch of "not installed" decisions is not
        analysed (first-UIP needs one decision per level): the batch is undone and the search goes
        on deciding one variable at a time.
        """
        level = self._level
        cl = 0  # the conflict's level: with out-of-order literals it can be below the current one
        for q in lits:
            lv = level[q >> 1]
            if lv > cl:
                cl = lv
        if not cl:
            self._set_final(lits, info)
            return False
        if cl <= self._asm_levels:
            self._trace_final(lits, info, [])
            self._asm_failed = True
            self._fail_level = cl
            return False
        if cl < len(self._trail_lim):
            self._backtrack(cl)
        if cl == self._batch_level:
            self._backtrack(cl - 1)
            self.no_batch = True
            return True
        self.stats.conflicts += 1
        learnt, bt, lbd, ante = self._analyze(lits, info)
        # Chronological backtracking: a long backjump would throw away hundreds of decisions the
        # conflict has nothing to do with; undo only the conflict level and assert the learned
        # literal out of order, at the level where it is implied.
        self._backtrack(bt if cl - bt <= self.chrono_levels else cl - 1)
        self._learn(learnt, lbd, ante, bt)
        self._ema_fast += (lbd - self._ema_fast) * 0.03125
        slow_rate = 1.0 / self.stats.conflicts if self.stats.conflicts < 4096 else 1.0 / 4096
        self._ema_slow += (lbd - self._ema_slow) * slow_rate
        self._since_restart += 1
        return True

    def _set_final(self, lits: list[int], info: _Info | None) -> None:
        """Record a refutation without assumptions: the conflict and the level-0 literals under it."""
        self._ok = False
        items: list[Any] = [info]
        items.extend(q >> 1 for q in lits)
        self._final_items = items
        self._failed = []

    def _analyze(self, lits: list[int], confl_info: _Info | None) -> tuple[list[int], int, int, Any]:
        """First-UIP learning with recursive minimization.

        Returns the learned clause (asserting literal first, a literal of the backjump level
        second), the backjump level, its LBD and its antecedents (None unless cores are tracked).
        """
        seen = self._seen
        level = self._level
        reason = self._reason
        trail = self._trail
        cinfo = self._cinfo
        track = self._track_core
        dl = len(self._trail_lim)
        ante: list[Any] | None = [confl_info] if track else None
        zeros: list[int] = []
        touched: list[int] = []
        learnt = [0]
        path = 0
        idx = len(trail) - 1
        resolved = 0
        one = [0]
        p = 0
        while True:
            for q in lits:
                v = q >> 1
                if seen[v]:
                    continue
                lv = level[v]
                if lv == 0:
                    if track:
                        seen[v] = 4
                        zeros.append(v)
                    continue
                seen[v] = 1
                touched.append(v)
                if lv == dl:
                    path += 1
                else:
                    learnt.append(q)
            if resolved:
                seen[resolved] = 0
            while not seen[trail[idx] >> 1] or level[trail[idx] >> 1] != dl:
                idx -= 1
            p = trail[idx]
            idx -= 1
            path -= 1
            if path <= 0:
                break
            resolved = p >> 1
            r = reason[resolved]
            tr = type(r)
            if tr is int:
                one[0] = r
                lits = one
                if ante is not None:
                    ante.append(self._pair_info(p, r))
            elif tr is list:
                lits = r
                if ante is not None:
                    ante.append(cinfo.get(id(r)))
            else:
                lits = r.lits
                if ante is not None:
                    ante.append(r.con.info)
        learnt[0] = p ^ 1
        bumped = touched[:]

        # recursive minimization: drop literals implied by the rest of the clause
        if len(learnt) > 2:
            abstract = 0
            for q in learnt[1:]:
                abstract |= 1 << (level[q >> 1] & 63)
            removed: list[int] = []
            j = 1
            for i in range(1, len(learnt)):
                q = learnt[i]
                v = q >> 1
                if reason[v] is None or not self._redundant(v, abstract, touched, zeros):
                    learnt[j] = q
                    j += 1
                else:
                    removed.append(v)
            del learnt[j:]
            if ante is not None and removed:
                for v in removed:
                    ante.append(self._reason_info(trail_code(self._val, v), reason[v]))
                for v in touched:
                    if seen[v] == 2:
                        ante.append(self._reason_info(trail_code(self._val, v), reason[v]))

        # backjump level: the highest level among the other literals, moved to position 1
        bt = 0
        if len(learnt) > 1:
            best = 1
            for i in range(1, len(learnt)):
                lv = level[learnt[i] >> 1]
                if lv > bt:
                    bt = lv
                    best = i
            learnt[1], learnt[best] = learnt[best], learnt[1]
        lbd = len({level[q >> 1] for q in learnt})

        for v in touched:
            seen[v] = 0
        for v in zeros:
            seen[v] = 0
        if ante is not None:
            ante.extend(zeros)
        self._bump(bumped)
        return learnt, bt, lbd, ante

    def _redundant(self, v: int, abstract: int, touched: list[int], zeros: list[int]) -> bool:
        """Is the clause literal of ``v`` implied by the other literals (via reasons)?"""
        seen = self._seen
        level = self._level
        reason = self._reason
        track = self._track_core
        stack = [v]
        top = len(touched)
        while stack:
            u = stack.pop()
            r = reason[u]
            tr = type(r)
            if tr is int:
                rl: list[int] = [r]
            elif tr is list:
                rl = r
            else:
                rl = r.lits
            for q in rl:
                w = q >> 1
                if seen[w]:
                    continue
                lv = level[w]
                if lv == 0:
                    if track:
                        seen[w] = 4
                        zeros.append(w)
                    continue
                if reason[w] is not None and (1 << (lv & 63)) & abstract:
                    seen[w] = 2
                    stack.append(w)
                    touched.append(w)
                else:
                    for x in touched[top:]:
                        seen[x] = 0
                    del touched[top:]
                    return False
        return True

    def _learn(self, learnt: list[int], lbd: int, ante: Any, level: int) -> None:
        """Store a learned clause (after the backjump) and assert its first literal on ``level``."""
        self.stats.learned += 1
        info = _Info(None, ante if ante is not None else [], lbd)
        n = len(learnt)
        a = learnt[0]
        if n == 1:
            self._cinfo[id(learnt)] = info
            self._enqueue(a, learnt, level)
        elif n == 2:
            b = learnt[1]
            self._bimp[a ^ 1].append(b)
            self._bimp[b ^ 1].append(a)
            if self._track_core:
                key = (a << _KEY_SHIFT) | b if a < b else (b << _KEY_SHIFT) | a
                self._bin_info.setdefault(key, info)
            self._enqueue(a, b, level)
        else:
            self._watches[a].append(learnt)
            self._watches[learnt[1]].append(learnt)
            self._cinfo[id(learnt)] = info
            self._learned.append(learnt)
            self._enqueue(a, learnt, level)

    # ------------------------------------------------------------------ clause database

    def _reduce_db(self) -> None:
        """Delete the less useful half of the learned clauses (glue clauses and reasons are kept)."""
        self.stats.reductions += 1
        self._next_reduce = self.stats.conflicts + 2000 + self._reduce_inc * self.stats.reductions
        val = self._val
        reason = self._reason
        cinfo = self._cinfo
        keep: list[list[int]] = []
        candidates: list[tuple[int, int, list[int]]] = []
        for age, c in enumerate(self._learned):
            lbd = cinfo[id(c)].lbd
            a = c[0]
            if lbd <= 2 or (val[a] == 1 and reason[a >> 1] is c):
                keep.append(c)
            else:
                candidates.append((lbd, -age, c))
        candidates.sort(key=lambda t: (t[0], t[1]))
        half = len(candidates) // 2
        dead: set[int] = set()
        for _, _, c in candidates[half:]:
            dead.add(id(c))
            del cinfo[id(c)]
        keep.extend(c for _, _, c in candidates[:half])
        self._learned = keep
        self.stats.deleted += len(dead)
        if dead:
            for ws in self._watches:
                if ws:
                    ws[:] = [c for c in ws if id(c) not in dead]

    def _purge_linears(self) -> None:
        """Drop linear constraints whose guard is false for good (an optimizer's spent probes)."""
        val = self._val
        level = self._level
        dead = [c for c in self._linears if c.guard is not None and val[c.guard] == -1 and level[c.guard >> 1] == 0]
        if not dead:
            return
        ids = {id(c) for c in dead}
        self._linears = [c for c in self._linears if id(c) not in ids]
        lin_w = self._lin_w
        for con in dead:
            for _, q in con.terms:
                lin_w[q] = [e for e in lin_w[q] if id(e[0]) not in ids]
            if con.guard is not None:
                g = con.guard
                lin_w[g] = [e for e in lin_w[g] if id(e[0]) not in ids]
