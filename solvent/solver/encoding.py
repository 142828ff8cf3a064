"""Lazy translation of a package problem into the SAT engine.

One boolean variable per candidate record. Clauses are generated on demand:

* touching a name (the first time any spec mentions it) creates the variables of all its
  candidates and one at-most-one constraint over them;
* a record's ``depends`` and ``constrains`` clauses are generated the first time its variable
  becomes true (the engine's ``on_true`` hook), so a solve against a channel of hundreds of
  thousands of records only ever builds the few records it can reach;
* a ``constrains`` entry on a name nobody has touched yet is parked and turned into clauses when
  (if ever) that name is touched;
* a dependency with two or more candidates goes through one shared variable per candidate set
  (``_any_var``): the record gets a binary clause, the set one long clause.

Every clause carries a tag describing where it came from, so an unsatisfiable core can be turned
back into words (see :mod:`solvent.solver.explain`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from solvent.match_spec import MatchSpec
from solvent.record import PackageRecord
from solvent.solver.provider import Provider
from solvent.solver.sat import SatSolver

# Clause tags. Tuples keep them cheap, hashable and easy to pattern-match in explanations.
REQUEST = "request"  # ("request", spec)
DEPENDS = "depends"  # ("depends", record, spec)
CONSTRAINS = "constrains"  # ("constrains", record, spec)
ONE_PER_NAME = "one-per-name"  # ("one-per-name", name)
TRACKS = "tracks"  # ("tracks", feature) links a tracker record to its feature variable


_MAX_EXCLUDED = 8  # builds a requirement may exclude and still get direct "not this one" clauses


class Requirement:
    """A clause "trigger implies one of candidates", remembered for the decision policy."""

    __slots__ = ("candidates", "satisfier", "spec", "trigger")

    def __init__(self, trigger: int, candidates: tuple[int, ...], spec: MatchSpec) -> None:
        self.trigger = trigger  # 0 for a requested spec (always active)
        self.candidates = candidates  # in policy order, best first
        self.spec = spec
        self.satisfier = 0  # last candidate seen true: a cheap first check


class Encoding:
    """Owns the SAT engine and the record <-> variable maps for one solve."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.sat = SatSolver()
        self.var_of: dict[PackageRecord, int] = {}
        self.record_of: dict[int, PackageRecord] = {}
        self.name_vars: dict[str, tuple[int, ...]] = {}
        self.requirements: list[Requirement] = []
        # trigger variable (0 for the requests) -> indices of its requirements, in order: the
        # decision policy queues a record's requirements when it is installed, and the optimizer
        # walks from the requests through a model's choices
        self.by_trigger: dict[int, list[int]] = {}
        self.feature_var: dict[str, int] = {}
        self.feature_trackers: dict[str, list[int]] = defaultdict(list)
        self._parked: dict[str, list[tuple[int, MatchSpec, Any]]] = defaultdict(list)
        self._expanded: set[int] = set()
        # records looked at ahead of time (see expand_known): the dependencies still to generate
        self._deferred: dict[int, list[MatchSpec]] = {}
        # auxiliary variables that stand for "a package of this name is installed"
        self.aux_name: dict[int, str] = {}
        self._installed: dict[str, int] = {}
        # sets of names already stated as "not all installed" (solvent.solver.pigeonhole)
        self.counted: set[frozenset[str]] = set()
        self._spec_vars: dict[MatchSpec, tuple[int, ...]] = {}
        # candidate set -> a variable implying that one of them is installed (see require())
        self._any_of: dict[tuple[int, ...], int] = {}
        self.any_vars: set[int] = set()

    # -- variables --------------------------------------------------------------------------
    def touch(self, name: str) -> tuple[int, ...]:
        """Create the variables of every candidate of ``name`` (once)."""
        found = self.name_vars.get(name)
        if found is not None:
            return found
        sat = self.sat
        out = []
        for record in self.provider.candidates(name):
            var = self.var_of.get(record)
            if var is None:
                var = sat.new_var()
                self.var_of[record] = var
                self.record_of[var] = record
                for feature in record.track_features:
                    self._link_feature(var, feature)
            out.append(var)
        found = self.name_vars[name] = tuple(out)
        if len(found) > 1:
            sat.add_at_most_one(found, tag=(ONE_PER_NAME, name))
        for trigger, spec, tag in self._parked.pop(name, ()):
            self._forbid(trigger, spec, found, tag)
        return found

    def _link_feature(self, var: int, feature: str) -> None:
        """Tie a tracker record to its feature variable (counted by conda's feature objective)."""
        fvar = self.feature_var.get(feature)
        if fvar is None:
            fvar = self.feature_var[feature] = self.sat.new_var()
        self.sat.add_clause((-var, fvar), tag=(TRACKS, feature))
        self.feature_trackers[feature].append(var)

    def spec_vars(self, spec: MatchSpec) -> tuple[int, ...]:
        """Variables of the candidates matching ``spec``, in policy order."""
        found = self._spec_vars.get(spec)
        if found is None:
            matches = self.provider.matches(spec)
            for name in {r.name for r in matches}:
                self.touch(name)
            if not matches and "*" not in spec.name:
                self.touch(spec.name)
            var_of = self.var_of
            found = self._spec_vars[spec] = tuple(var_of[r] for r in matches)
        return found

    # -- clauses ----------------------------------------------------------------------------
    def require(self, trigger: int, spec: MatchSpec, tag: Any) -> None:
        """``trigger`` (0: always) implies that some candidate matching ``spec`` is installed."""
        candidates = self.spec_vars(spec)
        found = self.by_trigger.get(trigger)
        if found is None:
            self.by_trigger[trigger] = [len(self.requirements)]
        else:
            found.append(len(self.requirements))
        self.requirements.append(Requirement(trigger, candidates, spec))
        if not trigger:
            self.sat.add_clause(candidates, tag=tag)
        elif len(candidates) < 2 or trigger in candidates:
            # one candidate: at-most-one already rules out the name's other builds
            self.sat.add_implication(trigger, candidates, tag=tag)
        else:
            self.sat.add_binary(-trigger, self._any_var(candidates), tag=tag)

    def _any_var(self, candidates: tuple[int, ...]) -> int:
        """A variable that implies "one of ``candidates`` is installed", one per candidate set.

        Hundreds of records depend on the same few specs (every build of every python package
        on ``python >=3.12,<3.13``), and a clause per record would have each of those long
        clauses visited whenever a candidate is ruled out: the propagation cost of a large
        environment was mostly that. So each record gets a binary clause to the shared variable,
        whose one clause lists the candidates; unit propagation derives exactly what the direct
        clauses would (all candidates false makes it false and with it every trigger).
        """
        var = self._any_of.get(candidates)
        if var is None:
            sat = self.sat
            var = self._any_of[candidates] = sat.new_var()
            self.any_vars.add(var)
            sat.add_implication(var, candidates, tag=None)
            # "needs x != v" excludes a few builds of a name: say so directly. The clauses follow
            # from the requirement and at-most-one, but unit propagation cannot see that, and
            # without them every excluded build costs a conflict (minutes on a sudoku channel).
            record_of = self.record_of
            name = record_of[candidates[0]].name
            name_vars = self.name_vars.get(name, ())
            excluded = len(name_vars) - len(candidates)
            if 0 < excluded <= _MAX_EXCLUDED and all(record_of[c].name == name for c in candidates):
                allowed = set(candidates)
                for other in name_vars:
                    if other not in allowed:
                        sat.add_binary(-var, -other)
        return var

    def constrain(self, trigger: int, spec: MatchSpec, tag: Any) -> None:
        """``trigger`` implies that no installed record of ``spec.name`` violates ``spec``."""
        name = spec.name
        if "*" in name:
            return  # conda ignores constrains without a concrete name
        if name.startswith("__"):
            # A virtual package is a fact about the target, present whether or not anything
            # depends on it: a constrains on it holds or excludes the trigger outright.
            if any(not spec.match(r) for r in self.provider.candidates(name)):
                self.sat.add_clause((-trigger,) if trigger else (), tag=tag)
            return
        found = self.name_vars.get(name)
        if found is None:
            self._parked[name].append((trigger, spec, tag))
        else:
            self._forbid(trigger, spec, found, tag)

    def _forbid(self, trigger: int, spec: MatchSpec, name_vars: Sequence[int], tag: Any) -> None:
        record_of = self.record_of
        sat = self.sat
        for var in name_vars:
            if not spec.match(record_of[var]):
                if trigger:
                    sat.add_binary(-trigger, -var, tag=tag)
                else:
                    sat.add_clause((-var,), tag=tag)

    def installed(self, name: str) -> int:
        """A variable forced true when a record of ``name`` is installed (it may be true without
        one only where nothing cares): conda's package count and counting arguments use it."""
        var = self._installed.get(name)
        if var is None:
            var = self._installed[name] = self.sat.new_var()
            self.aux_name[var] = name
            for candidate in self.touch(name):
                self.sat.add_binary(-candidate, var, tag=("installed", name))
        return var

    def expanded(self, var: int) -> bool:
        """Whether a record's clauses have been generated."""
        return var in self._expanded

    def expand(self, var: int) -> None:
        """Generate the clauses of a record the first time it is chosen (the ``on_true`` hook)."""
        if var in self._expanded:
            return
        self._expanded.add(var)
        record = self.record_of.get(var)
        if record is None:
            return  # an auxiliary variable (features, guards, objectives)
        deferred = self._deferred.pop(var, None)
        if deferred is not None:
            for spec in deferred:
                self.require(var, spec, (DEPENDS, record, spec))
            return
        provider = self.provider
        for spec in provider.dependencies(record):
            self.require(var, spec, (DEPENDS, record, spec))
        for spec in provider.constraints(record):
            self.constrain(var, spec, (CONSTRAINS, record, spec))

    def expand_known(self, var: int) -> None:
        """Generate the clauses of a record that concern names already in the problem, ahead of
        its being chosen; the rest waits for :meth:`expand`.

        A record can only be ruled out through names the problem has: a dependency on a name
        nothing touched yet, and nothing constrains, has candidates that nothing excludes. So
        looking ahead at a requirement's alternatives (:mod:`solvent.solver.decide`) needs only
        these clauses, and does not load the records of names that only an alternative would
        bring in.
        """
        if var in self._expanded or var in self._deferred:
            return
        record = self.record_of.get(var)
        if record is None:
            return
        provider = self.provider
        name_vars = self.name_vars
        later: list[MatchSpec] = []
        for spec in provider.dependencies(record):
            name = spec.name
            if name in name_vars or name in self._parked or name.startswith("__"):
                self.require(var, spec, (DEPENDS, record, spec))
            else:
                later.append(spec)
        for spec in provider.constraints(record):
            self.constrain(var, spec, (CONSTRAINS, record, spec))
        if later:
            self._deferred[var] = later
        else:
            self._expanded.add(var)

    # -- reading the answer -------------------------------------------------------------------
    def chosen(self, model: set[int]) -> list[PackageRecord]:
        """Records whose variable is true in ``model``."""
        record_of = self.record_of
        return sorted(
            (record_of[v] for v in model if v in record_of),
            key=lambda r: r.name,
        )
