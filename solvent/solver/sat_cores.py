"""Provenance of the CDCL engine's constraints and the refutations built from them.

Every constraint carries a tag; a learned clause remembers the constraints it was derived from.
After an unsatisfiable answer this module traces the refutation back, through learned clauses
already deleted if need be, to the tags of original constraints (what an explanation is built
from) and to the assumptions it used (what an optimizer relaxes).
"""

from __future__ import annotations

from typing import Any

from solvent.solver.sat_state import _Info, _State

_KEY_SHIFT = 32  # binary-clause provenance keys: (low code << 32) | high code


class _Cores(_State):
    def __init__(self, track_core: bool = True) -> None:
        super().__init__()
        self._track_core = track_core
        self._cinfo: dict[int, _Info] = {}  # id(clause list) -> provenance
        self._bin_info: dict[int, _Info] = {}  # binary clause key -> provenance
        self._final_items: list[Any] | None = None
        self._failed: list[int] = []

    def _pair_info(self, a: int, b: int) -> _Info | None:
        """Provenance of the two-literal clause ``a or b``: a binary clause or an at-most-one."""
        key = (a << _KEY_SHIFT) | b if a < b else (b << _KEY_SHIFT) | a
        info = self._bin_info.get(key)
        if info is not None:
            return info
        na, nb = a ^ 1, b ^ 1
        for amo in self._amo_w[na]:
            s = amo.litset
            if s is None:
                s = amo.litset = frozenset(amo.lits)
            if nb in s:
                return amo.info
        return None

    def _reason_info(self, code: int, r: Any) -> _Info | None:
        """Provenance of the reason ``r`` of the true literal ``code``."""
        if type(r) is int:
            return self._pair_info(code, r)
        if type(r) is list:
            return self._cinfo.get(id(r))
        return r.con.info

    def _conflict_info(self, confl: Any) -> _Info | None:
        if type(confl) is list:
            info = self._cinfo.get(id(confl))
            if info is None and len(confl) == 2:
                info = self._pair_info(confl[0], confl[1])
            return info
        return confl.con.info

    @staticmethod
    def _reason_lits(r: Any) -> list[int]:
        """The false literals of a reason (the implied literal excluded)."""
        if type(r) is int:
            return [r]
        if type(r) is list:
            return r[1:]
        return r.lits

    # ------------------------------------------------------------------ refutations

    def _analyze_final(self, code: int) -> None:
        """Explain why assumption ``code`` is false: the assumptions and constraints behind it."""
        self._trace_final([code], None, [self._lit(code)])
        self._fail_level = len(self._trail_lim)

    def _trace_final(self, false_codes: list[int], info: _Info | None, failed: list[int]) -> None:
        """Trace false literals back through their reasons to the assumptions behind them.

        Every literal above level 0 without a reason is an assumption (this runs before any
        decision above the assumption levels can be involved), so what the walk reaches is the
        set of failed assumptions; the reasons met on the way are the core's constraints.
        """
        level = self._level
        reason = self._reason
        seen = self._seen
        track = self._track_core
        items: list[Any] = [info] if info is not None else []
        marked: list[int] = []
        for q in false_codes:
            v = q >> 1
            if level[v] == 0:
                if track:
                    items.append(v)
            elif not seen[v]:
                seen[v] = 1
                marked.append(v)
        if marked:
            trail = self._trail
            pending = len(marked)  # marked and not yet reached: the walk stops when none is left
            for i in range(len(trail) - 1, self._trail_lim[0] - 1, -1):
                t = trail[i]
                u = t >> 1
                if not seen[u]:
                    continue
                pending -= 1
                r = reason[u]
                if r is None:
                    failed.append(self._lit(t))
                    if not pending:
                        break
                    continue
                if track:
                    items.append(self._reason_info(t, r))
                for q in self._reason_lits(r):
                    w = q >> 1
                    if level[w] > 0:
                        if not seen[w]:
                            seen[w] = 1
                            marked.append(w)
                            pending += 1
                    elif track:
                        items.append(w)
                if not pending:
                    break
            for u in marked:
                seen[u] = 0
        self._final_items = items
        self._failed = failed

    def _core_tags(self) -> set[object]:
        """Trace the last refutation back to the tags of the original constraints it used."""
        items = self._final_items
        if items is None:
            raise RuntimeError("unsat_core() needs a preceding solve() that returned False")
        if not self._track_core:
            raise RuntimeError("this SatSolver was created with track_core=False")
        val = self._val
        reason = self._reason
        tags: set[object] = set()
        done_info: set[int] = set()
        done_var: set[int] = set()
        stack = list(items)
        while stack:
            it = stack.pop()
            if it is None:
                continue
            if type(it) is int:
                if it in done_var:
                    continue
                done_var.add(it)
                code = trail_code(val, it)
                r = reason[it]
                stack.append(self._reason_info(code, r))
                stack.extend(q >> 1 for q in self._reason_lits(r))
                continue
            if id(it) in done_info:
                continue
            done_info.add(id(it))
            if it.antecedents is not None:
                stack.extend(it.antecedents)
            elif it.tag is not None:
                tags.add(it.tag)
        return tags


def trail_code(val: list[int], v: int) -> int:
    """The code of variable ``v`` that is currently true."""
    return 2 * v if val[2 * v] == 1 else 2 * v + 1
