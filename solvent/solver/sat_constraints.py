"""Adding constraints to the CDCL engine, before or in the middle of a search.

The package solver generates a record's clauses when the search first installs it, so clauses
arrive under a partial assignment, often already unit or false there. Each is put where it
belongs: a unit is implied on the level of its highest false literal, out of order if that is
below the current one (chronological backtracking, no backjump); a clause false with one literal
on its highest level undoes that level only and implies the literal below; one false with two or
more there is analysed like any conflict. At-most-one and linear constraints settle the same way.
"""

from __future__ import annotations

from typing import Any, Sequence

from solvent.solver.sat_cores import _KEY_SHIFT
from solvent.solver.sat_search import _Search
from solvent.solver.sat_state import _AtMostOne, _Info, _Linear


class _Constraints(_Search):
    def __init__(self, track_core: bool = True) -> None:
        super().__init__(track_core)
        self._solving = False
        self._epoch = 0  # counts constraints added during a search (a decide callback's cue)

    def _prepare_add(self, clause: bool = False) -> None:
        """Inside solve() the current levels stay. Outside, a clause keeps the assumption levels
        the last call left (the next call with the same context reuses them) unless it is unit
        or false under them (``_add_codes`` then backtracks); other constraints start at level 0."""
        if self._solving:
            self._epoch += 1
        elif not clause:
            self._backtrack(0)

    def add_clause(self, lits: Sequence[int], tag: object = None) -> None:
        """Add the clause ``lits[0] or lits[1] or ...``; allowed before and during ``solve()``.

        An empty clause makes the solver UNSAT for good. Duplicate literals are merged and a
        tautology is dropped.
        """
        self._prepare_add(clause=True)
        codes = [2 * lit if lit > 0 else 1 - 2 * lit for lit in lits]
        if codes:
            if min(codes) < 2 or max(codes) > 2 * self._nvars + 1:
                bad = next(lit for lit in lits if lit == 0 or abs(lit) > self._nvars)
                raise ValueError(f"literal {bad} refers to an unknown variable")
            if len(codes) > 1:
                s = set(codes)
                if len(s) != len(codes):
                    codes = list(dict.fromkeys(codes))
                if len(codes) > 1 and any(c ^ 1 in s for c in codes):
                    return
        if not self._ok:
            return
        self._add_codes(codes, _Info(tag))

    def add_binary(self, a: int, b: int, tag: object = None) -> None:
        """The clause ``a or b``: what the package encoding adds most (a record needs a shared
        dependency variable, excludes a build), without :meth:`add_clause`'s general checks."""
        ca = 2 * a if a > 0 else 1 - 2 * a
        cb = 2 * b if b > 0 else 1 - 2 * b
        top = 2 * self._nvars + 1
        if ca < 2 or cb < 2 or ca > top or cb > top or ca >> 1 == cb >> 1:
            self.add_clause((a, b), tag)  # unknown variables, a repeated or tautological pair
            return
        if self._solving:
            self._epoch += 1
        if not self._ok:
            return
        val = self._val
        va = val[ca]
        vb = val[cb]
        if va != -1 and vb != -1:
            self._watch([ca, cb], _Info(tag))  # neither literal false: nothing to settle
            return
        if self._solving:
            # A record's clauses arrive when it becomes true, so "record implies x" nearly always
            # has a false literal: satisfied, or unit on the level of that literal (as _add_codes
            # would settle it, without its general search for the two literals to watch).
            if va == 1 or vb == 1:
                self._watch([ca, cb], _Info(tag))
                return
            if vb == 0:
                self._enqueue(cb, self._watch([cb, ca], _Info(tag)), self._level[ca >> 1])
                return
            if va == 0:
                self._enqueue(ca, self._watch([ca, cb], _Info(tag)), self._level[cb >> 1])
                return
        self._add_codes([ca, cb], _Info(tag))

    def _add_codes(self, lits: list[int], info: _Info) -> None:
        val = self._val
        n = len(lits)
        if n >= 2:
            # the common case: two literals that are not false to watch, found near the front
            first = -1
            for i in range(n):
                if val[lits[i]] != -1:
                    if first < 0:
                        first = i
                        continue
                    a = lits[first]
                    lits[first] = lits[0]
                    lits[0] = a
                    b = lits[i]
                    lits[i] = lits[1]
                    lits[1] = b
                    self._watch(lits, info)
                    return
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
        if k1 < 1 << 40 and self._trail_lim and not self._solving:
            # unit or false under levels kept from the last call: settle it on level 0 instead
            self._backtrack(0)
            self._add_codes(lits, info)
            return
        if n == 0:
            self._set_final([], info)
            return
        if n == 1:
            q = lits[0]
            if val[q] == -1:
                self._backtrack(0)
                if val[q] == -1:
                    self._set_final([q], info)
                    return
            if val[q] == 1 and level[q >> 1] > 0:
                self._backtrack(level[q >> 1] - 1)  # it must hold on level 0, not only above
            if val[q] == 0:
                self._cinfo[id(lits)] = info
                self._enqueue(q, lits, 0)
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
        reason = self._watch(lits, info)
        va = val[a]
        if val[b] != -1 or va == 1:
            return  # two non-false watches, or satisfied
        if va == 0:  # unit: implied on the level of the highest false literal (out of order)
            self._enqueue(a, reason, level[b >> 1])
            return
        self._falsified(lits, info, reason)

    def _watch(self, lits: list[int], info: _Info) -> Any:
        """Attach a clause on its first two literals; the reason it gives the first one."""
        a = lits[0]
        b = lits[1]
        if len(lits) == 2:
            self._bimp[a ^ 1].append(b)
            self._bimp[b ^ 1].append(a)
            if self._track_core:
                key = (a << _KEY_SHIFT) | b if a < b else (b << _KEY_SHIFT) | a
                self._bin_info.setdefault(key, info)
            return b
        self._watches[a].append(lits)
        self._watches[b].append(lits)
        self._cinfo[id(lits)] = info
        return lits

    def _falsified(self, lits: list[int], info: _Info | None, reason: Any) -> None:
        """Handle a constraint found false on adding; ``lits[0]``/``lits[1]`` have the top levels."""
        level = self._level
        l1 = level[lits[0] >> 1]
        l2 = level[lits[1] >> 1] if len(lits) > 1 else 0
        if l1 == 0:
            self._set_final(lits, info)
            return
        if l1 > l2:  # one literal on the top level: undo that level, the literal is implied below
            self._backtrack(l1 - 1)
            self._enqueue(lits[0], reason, l2)
            return
        self._backtrack(l1)
        self._resolve_conflict(lits, info)

    def add_implication(self, trigger: int, options: Sequence[int], tag: object = None) -> None:
        """The clause "``trigger`` (a variable) implies one of ``options`` (distinct variables)":
        a package's dependency, without the general clause's checks for repeated literals."""
        n = self._nvars
        if not 0 < trigger <= n or (options and (min(options) < 1 or max(options) > n)):
            raise ValueError(f"add_implication over unknown variables (there are {n})")
        if trigger in options:
            return  # a record that satisfies its own dependency
        self._prepare_add(clause=True)
        if not self._ok:
            return
        codes = [2 * trigger + 1]
        codes += [2 * v for v in options]
        self._add_codes(codes, _Info(tag))

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
                lp = level[p >> 1]
                for q in amo.lits:
                    if not val[q]:
                        self._enqueue(q ^ 1, p ^ 1, lp)
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
