"""The greedy decision rule: what the search tries next.

Requirements are kept in the order they were generated: the requested specs first, then the
dependencies of each chosen record in the order records were chosen (breadth-first). The rule
finds the first requirement that is active (its trigger is installed, or it is a requested spec)
and not yet satisfied, and installs its best unassigned candidate. So the requested names are
decided first, each to its best feasible candidate, then their dependencies, and so on: the first
solution is the greedy-preferred one, as in libsolv and resolvo.

A requirement whose trigger is undecided (after a backjump) is settled last, by deciding its
trigger "not installed", which is the default for every package.

Scanning all requirements on every decision would be quadratic, so the rule keeps a cursor before
which every requirement is known to be settled; the cursor is valid until the engine backtracks.
"""

from __future__ import annotations

from solvent.solver.encoding import Encoding


class GreedyDecider:
    """A ``decide`` callback for :meth:`SatSolver.solve` following the candidate policy."""

    def __init__(self, encoding: Encoding) -> None:
        self.encoding = encoding
        self._cursor = 0
        self._backtracks = -1

    def __call__(self) -> int | None:
        sat = self.encoding.sat
        value = sat.value
        if sat.backtracks != self._backtracks:
            self._backtracks = sat.backtracks
            self._cursor = 0
        requirements = self.encoding.requirements
        cursor = self._cursor
        advancing = True
        fallback = 0
        for i in range(cursor, len(requirements)):
            req = requirements[i]
            trigger = req.trigger
            trig_value = value(trigger) if trigger else True
            if trig_value is False:
                if advancing:
                    cursor = i + 1
                continue
            if req.satisfier and value(req.satisfier):
                if advancing:
                    cursor = i + 1
                continue
            satisfied = False
            best = 0
            for var in req.candidates:
                v = value(var)
                if v:
                    req.satisfier = var
                    satisfied = True
                    break
                if v is None and not best:
                    best = var
            if satisfied:
                if advancing:
                    cursor = i + 1
                continue
            if trig_value is True:
                self._cursor = cursor
                if best:
                    return best
                # every candidate is false: propagation reports the conflict; let the engine go on
                return None
            advancing = False
            if not fallback:
                fallback = -trigger
        self._cursor = cursor
        return fallback or None
