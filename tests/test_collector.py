"""The cyclic collector's pause around a solve: on during nothing else, restored exactly."""

from __future__ import annotations

import gc
import threading
from typing import Iterator, Sequence

import pytest

import solvent
from solvent.collector import CollectorPaused, collector_paused
from solvent.errors import Unsatisfiable
from solvent.record import PackageRecord
from solvent.solver.provider import RecordSet
from tests.helpers import rec


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


class WatchingSource(RecordSet):
    """Records whatever the collector's state was whenever the solver asked for records."""

    def __init__(self, records: list[PackageRecord]) -> None:
        super().__init__(records)
        self.seen: list[bool] = []

    def records(self, name: str) -> Sequence[PackageRecord]:
        self.seen.append(gc.isenabled())
        return super().records(name)


def test_a_solve_runs_paused_and_gives_the_collector_back() -> None:
    source = WatchingSource([rec("a", "1", depends=["b"]), rec("b", "1")])
    solution = solvent.solve(["a"], source=source, platform="linux-64")
    assert solution.names() == ["a", "b"]
    assert source.seen and not any(source.seen)
    assert gc.isenabled()


def test_a_failing_solve_gives_the_collector_back() -> None:
    source = WatchingSource([rec("a", "1", depends=["b >=2"]), rec("b", "1")])
    with pytest.raises(Unsatisfiable):
        solvent.solve(["a"], source=source, platform="linux-64")
    assert source.seen and not any(source.seen)
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    gc.disable()
    solvent.solve(["a"], source=RecordSet([rec("a", "1")]), platform="linux-64")
    assert not gc.isenabled()


def test_nested_pauses_resume_only_after_the_outermost() -> None:
    @collector_paused
    def inner() -> bool:
        return gc.isenabled()

    with CollectorPaused():
        assert not inner()
        assert not gc.isenabled()  # the inner pause ended, the outer one holds
    assert gc.isenabled()


def test_concurrent_pauses_share_one_and_the_last_to_leave_resumes() -> None:
    first_in = threading.Event()
    release_first = threading.Event()
    states: dict[str, bool] = {}

    def first() -> None:
        with CollectorPaused():
            first_in.set()
            release_first.wait(10)
        states["after first"] = gc.isenabled()

    worker = threading.Thread(target=first)
    worker.start()
    first_in.wait(10)
    with CollectorPaused():
        release_first.set()
        worker.join(10)
        states["second still inside"] = gc.isenabled()
    assert states == {"after first": False, "second still inside": False}
    assert gc.isenabled()
