"""The optimizer's soft constraints: a name's rank ladder and what its current rung forbids."""

from __future__ import annotations

from solvent.solver.encoding import Encoding
from solvent.solver.provider import Provider, RecordSet
from solvent.solver.softs import SoftSet
from tests.helpers import rec


def _encoding() -> tuple[Encoding, tuple[int, ...]]:
    records = [rec("a", v) for v in ("1", "2", "3", "4")] + [rec("b", "1")]
    enc = Encoding(Provider(RecordSet(records, ["test"]), platform="linux-64"))
    return enc, enc.touch("a")


def test_floor_agrees_with_forbids_as_the_rungs_are_relaxed() -> None:
    enc, variables = _encoding()
    ranks = {var: rank for rank, var in enumerate(variables) if rank}  # the newest build is free
    softs = SoftSet(enc)
    softs.add_terms(ranks)
    assert softs.floor("b") is None  # no ladder
    floors = []
    while True:
        got = softs.floor("a")
        for var in variables:
            expected = softs.forbids(var)
            assert (got is not None and got[0].get(var, 0) >= got[1]) == expected
        if got is None:
            break
        floors.append(got[1])
        rung = softs.current(softs.ladders["a"])
        assert rung is not None
        softs.relax([rung])
    assert floors == [1, 2, 3]  # each relaxation lets one more rank in, then nothing is forbidden
    assert softs.lower == 3
