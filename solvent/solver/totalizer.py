"""Counting true literals in clauses: the totalizer, built only as far as it is asked.

The optimizer (:mod:`solvent.solver.optimize`) relaxes an unsatisfiable core by allowing one of its
literals to be violated, then needs a literal meaning "at least two of them are violated" to charge
for the next one, and later "at least three", and so on. A totalizer gives exactly those: a binary
tree over the inputs whose every node holds unary outputs ``out[k-1]`` = "at least k of my inputs
are true". Only the upward direction is encoded (inputs force outputs), which is all that
assuming an output false needs. Outputs are created on demand, so a core of fifty literals whose
optimum allows one violation costs clauses for "at least two", not for all fifty counts.
"""

from __future__ import annotations

from typing import Sequence

from solvent.solver.sat import SatSolver


class _Node:
    __slots__ = ("left", "outs", "right", "size")

    def __init__(self, size: int, left: _Node | None = None, right: _Node | None = None) -> None:
        self.size = size
        self.left = left
        self.right = right
        self.outs: list[int] = []


class Totalizer:
    """``output(k)`` is a literal forced true whenever at least ``k`` of ``inputs`` are true."""

    def __init__(self, sat: SatSolver, inputs: Sequence[int]) -> None:
        if not inputs:
            raise ValueError("a totalizer needs at least one input")
        self.sat = sat
        self.inputs = list(inputs)
        self._root = self._build(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def _build(self, lits: list[int]) -> _Node:
        if len(lits) == 1:
            leaf = _Node(1)
            leaf.outs = [lits[0]]
            return leaf
        mid = len(lits) // 2
        return _Node(len(lits), self._build(lits[:mid]), self._build(lits[mid:]))

    def output(self, k: int) -> int:
        """The literal "at least ``k`` inputs are true" (1 <= k <= number of inputs)."""
        if not 1 <= k <= len(self.inputs):
            raise ValueError(f"a totalizer over {len(self.inputs)} inputs has no output {k}")
        self._extend(self._root, k)
        return self._root.outs[k - 1]

    def _extend(self, node: _Node, k: int) -> None:
        k = min(k, node.size)
        old = len(node.outs)
        if old >= k:
            return
        left, right = node.left, node.right
        assert left is not None and right is not None
        self._extend(left, k)
        self._extend(right, k)
        sat = self.sat
        node.outs.extend(sat.new_var() for _ in range(k - old))
        outs = node.outs
        lo, ro = left.outs, right.outs
        # out[s] <- left >= i and right >= j for every i + j = s, each side's ">= 0" being true
        for s in range(old + 1, k + 1):
            out = outs[s - 1]
            for i in range(max(0, s - len(ro)), min(s, len(lo)) + 1):
                j = s - i
                clause = [out]
                if i:
                    clause.append(-lo[i - 1])
                if j:
                    clause.append(-ro[j - 1])
                sat.add_clause(clause)
