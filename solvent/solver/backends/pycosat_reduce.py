"""Which records can be part of a solution at all, found before anything is encoded for picosat.

picosat through pycosat is not incremental: every call re-reads the whole CNF and searches from
scratch, so the CNF's size is paid on every call of the optimization (a few dozen calls). The
reachable closure of a request is far larger than what can actually be installed: ``python=3.9``
reaches every python build of every version, and everything those builds depend on. conda's
classic solver prunes the same way before it encodes (``Resolve.get_reduced_index``); this
reduction keeps only its *sound* part, so the CNF has exactly the solutions of the full closure:

* a name a root spec asks for installs exactly one record, which matches every root spec of
  that name: the other candidates are out;
* a record with a dependency that no remaining record matches is out, and so, in turn, is every
  record that needs it (live-match counts per spec, so each removal costs only its edges);
* a record whose ``constrains`` a present virtual package fails is out (virtual packages are
  there whether or not anything depends on them);
* a name is *certain* when every solution installs it: the roots' names, and any name that every
  remaining record of a certain name depends on. The installed record of that name then matches
  one of those records' specs (so the rest are out), and a record that every remaining record of a
  certain name constrains away is out too.

conda's reduced index also drops things that are not provably impossible (it stops following a
dependency spec broader than one already seen); those choices are conda's search heuristics, not
facts about the problem, so they are not repeated here. The objectives keep being computed over
every candidate of a name (conda's ranks), and a record that is pruned here is false in every
solution, so the optimum over the reduced CNF is the optimum over the full one.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Iterable, Sequence

from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.provider import Provider


def _exact(name: str) -> bool:
    return "*" not in name and not name.startswith("^")


class Reduction:
    """The records that can be part of some solution of ``roots``, and the names every solution has."""

    def __init__(self, provider: Provider, roots: Sequence[MatchSpec]) -> None:
        self.provider = provider
        self.roots = tuple(roots)
        self.dead: set[PackageRecord] = set()
        #: the same records in the order they went out, so a consumer can pick up what is new
        self.dead_order: list[PackageRecord] = []
        self.certain: set[str] = set()
        self.unsat = False
        self._names: set[str] = set()
        self._pending: deque[str] = deque()
        self._dependents: dict[MatchSpec, list[PackageRecord]] = {}
        self._live: dict[MatchSpec, int] = {}
        self._matched_by: dict[PackageRecord, list[MatchSpec]] = defaultdict(list)
        self._stack: list[PackageRecord] = []
        self._dirty: set[str] = set()
        self._seen_size: dict[str, int] = {}
        self._run()

    # -- bookkeeping ------------------------------------------------------------------------------
    def live(self, name: str) -> list[PackageRecord]:
        """The remaining candidates of ``name``, best first."""
        dead = self.dead
        return [r for r in self.provider.candidates(name) if r not in dead]

    def live_matches(self, spec: MatchSpec) -> list[PackageRecord]:
        dead = self.dead
        return [r for r in self.provider.matches(spec) if r not in dead]

    def _touch(self, name: str) -> None:
        if name not in self._names:
            self._names.add(name)
            self._pending.append(name)

    def _kill(self, record: PackageRecord) -> None:
        """Take ``record`` out now: every spec it matches loses a live match, and the dependents of
        a spec left without one are queued to go out too. Counting at the moment of removal keeps
        the counts right for specs registered later, which count only what is still in."""
        if record in self.dead:
            return
        self.dead.add(record)
        self.dead_order.append(record)
        if record.name in self.certain:
            self._dirty.add(record.name)
        live = self._live
        for spec in self._matched_by.get(record, ()):
            left = live[spec] - 1
            live[spec] = left
            if left == 0:
                self._stack.extend(self._dependents[spec])

    def _propagate(self) -> None:
        while self._stack:
            self._kill(self._stack.pop())

    def _register(self, spec: MatchSpec, dependent: PackageRecord | None) -> None:
        dependents = self._dependents.get(spec)
        if dependents is None:
            dependents = self._dependents[spec] = []
            count = 0
            dead = self.dead
            for match in self.provider.matches(spec):
                self._matched_by[match].append(spec)
                if match not in dead:
                    count += 1
                    self._touch(match.name)
            self._live[spec] = count
        if dependent is not None:
            dependents.append(dependent)
            if self._live[spec] == 0:
                self._kill(dependent)

    # -- the reduction ----------------------------------------------------------------------------
    def _run(self) -> None:
        provider = self.provider
        by_name: dict[str, list[MatchSpec]] = defaultdict(list)
        for spec in self.roots:
            if _exact(spec.name):
                by_name[spec.name].append(spec)
        for name, specs in by_name.items():
            for record in provider.candidates(name):
                if not all(s.match(record) for s in specs):
                    self._kill(record)
        self.certain.update(by_name)
        # What the roots' certain dependencies rule out goes before the walk, which then never
        # expands those records; after it, once more over every certain name, now that the walk
        # knows every name (constrains only matter for names something can install).
        self._certain_names(deque(by_name))
        for spec in self.roots:
            self._register(spec, None)
        self._discover()
        self._seen_size.clear()
        self._certain_names(deque(sorted(self.certain)))
        self.unsat = any(self._live[spec] == 0 for spec in self.roots)

    def exclude(self, records: Iterable[PackageRecord]) -> None:
        """Take out records that a fixed objective rules out, and whatever follows from that.

        Once an objective is fixed at its optimum, the solutions left are those at that optimum;
        the records it rules out are out of every one of them, and the same reasoning as for the
        roots finds more (and more certain names, which raise the floors of later objectives).
        """
        for record in records:
            self._kill(record)
        self._propagate()
        self._certain_names(deque(sorted(self._dirty)))
        self._dirty.clear()

    def _discover(self) -> None:
        """Walk the dependency graph over the records that are not out, as they are found."""
        provider = self.provider
        while self._pending:
            name = self._pending.popleft()
            for record in provider.candidates(name):
                if record in self.dead:
                    continue
                for spec in provider.constraints(record):
                    if spec.name.startswith("__") and any(not spec.match(v) for v in provider.candidates(spec.name)):
                        self._kill(record)
                if record in self.dead:
                    continue
                for spec in provider.dependencies(record):
                    self._register(spec, record)
            self._propagate()

    def _certain_names(self, queue: deque[str]) -> None:
        """Names every solution installs, and what that rules out (see the module docstring)."""
        provider = self.provider
        seen_size = self._seen_size
        while queue:
            name = queue.popleft()
            records = self.live(name)
            if not records:
                return
            if seen_size.get(name) == len(records):
                continue
            seen_size[name] = len(records)
            needs: list[dict[str, list[MatchSpec]]] = []
            forbids: list[dict[str, list[MatchSpec]]] = []
            for record in records:
                dep: dict[str, list[MatchSpec]] = defaultdict(list)
                for spec in provider.dependencies(record):
                    if _exact(spec.name):
                        dep[spec.name].append(spec)
                needs.append(dep)
                con: dict[str, list[MatchSpec]] = defaultdict(list)
                for spec in provider.constraints(record):
                    if _exact(spec.name) and not spec.name.startswith("__") and spec.name in self._names:
                        con[spec.name].append(spec)
                forbids.append(con)
            common = set(needs[0]).intersection(*needs[1:])
            for other in sorted(common):
                allowed: set[PackageRecord] = set()
                # most records of a name share their dependency specs: each distinct list once
                for specs in {tuple(dep[other]) for dep in needs}:
                    allowed.update(r for r in provider.matches(specs[0]) if all(s.match(r) for s in specs[1:]))
                for record in provider.candidates(other):
                    if record not in allowed:
                        self._kill(record)
                if other not in self.certain:
                    self.certain.add(other)
                    queue.append(other)
            for other in sorted(set(forbids[0]).intersection(*forbids[1:])):
                constraint_lists = {tuple(con[other]) for con in forbids}
                for record in self.live(other):
                    if all(any(not s.match(record) for s in specs) for specs in constraint_lists):
                        self._kill(record)
            self._propagate()
            for dirty in sorted(self._dirty):
                queue.append(dirty)
            self._dirty.clear()
