"""conda classic's objective sequence, minimized with unsatisfiable cores and proven optimal.

conda minimizes its objectives one after the other (:mod:`solvent.solver.objectives`). Bounding a
sum from above and asking the search for something better is hopeless at real scale: to prove
that 143 installed packages are the fewest possible, a bound search must refute every cheaper
combination, and on environments of a few hundred packages it ran out of any reasonable budget.

This module works from below instead (the OLL algorithm of core-guided MaxSAT). Each term of an
objective becomes an assumption that the term is zero (a name's ranks as a ladder of unary
literals, :mod:`solvent.solver.softs`). Almost all of them are zero at the optimum, so the search either finds a model
at once (the optimum is the lower bound) or fails, and the assumptions its refutation used, an
unsatisfiable core, say that one of those terms must be paid for. The cheapest weight in the core
is added to the lower bound, the core's terms are relaxed, and a counter over the core (a
:class:`~solvent.solver.totalizer.Totalizer`) charges again for every further violation among them.
The optimum is reached when the assumptions become satisfiable, or when the lower bound meets the
cost of the best model known (the greedy answer, usually already optimal).

Three properties of package problems keep this cheap:

* at most one record per name is installed, so a name's terms are one rank, and one assumption
  per name ("rank below k") stands for all of its builds: cores name packages, not builds;
* an objective's optimum is fixed for the ones after it by keeping its final assumptions, which
  propagate (a record forced out, a package forced in) instead of weighing a sum;
* terms the context already refutes are relaxed without a search (one propagation finds them all):
  with the earlier objectives fixed, most "this package is installed" terms are forced.

The encoding is lazy, so a model can touch names no objective had terms for yet. Terms that appear
later for an objective already fixed are assumed zero in the context: every model meeting the
context then has the full terms at the fixed optimum (its old terms cannot go below their proven
lower bound, and the new ones are zero), and the incumbent model, which never installed those
names, still meets it. Terms that appear for the objective being minimized join its assumptions.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from solvent.slots import SlotValue
from solvent.solver.encoding import Encoding
from solvent.solver.objectives import Objective, Terms, value_of
from solvent.solver.softs import SoftSet

# Builds of one name the context may leave open and still get their clauses up front; early in
# the sequence (nothing fixed yet) a name has hundreds, and expanding them all would touch much of
# the channel for nothing.
_FEW_ALTERNATIVES = 8
# A core is shrunk by asking again with only its own assumptions, at most this many times.
_TRIMS = 3
# Conflicts each try of a core's minimization may take with the policy's decisions, and then with
# the engine's own (see _minimal_core).
_MINIMIZE_CONFLICTS = 10
_REFUTE_CONFLICTS = 100
# Cores up to this size are used as the search found them (see _minimal_core): a counter over a
# few names is nearly as strong as one over a minimal subset, and minimizing them all cost the
# real environments' proofs more than it saved.
_SMALL_CORE = 8
# Cores above this size are minimized by galloping (see _minimal_core): on the synthetic
# scale-specs requests their minimal cores are often a tenth of them or less, and one try per
# member was most of every proof's conflicts. The real environments' trimmed cores stay below it.
_LARGE_CORE = 32
# Conflicts the policy may take to pick its preferred solution among the optimal ones. The real
# environments of the benchmark suites take none; a synthetic 20-name scale-specs request took
# 63,000 (170 s, more than its whole proof), after which the incumbent, optimal as well, is kept.
_TIE_BREAK_CONFLICTS = 1_000
# The share of the conflict budget kept back for improving the incumbent should a proof run out
# (one part in this many).
_IMPROVE_SHARE = 10


class OptimizerGaveUp(Exception):
    """The conflict budget ran out before an objective's optimum was proven."""


class OptimizeStats(SlotValue):
    __slots__ = ("cores", "objectives", "optimal", "relaxed_without_search", "solves", "tie_broken")

    def __init__(self) -> None:
        self.solves = 0
        # False when the policy's pick among the optimal solutions ran out of conflicts and
        # the answer is another optimal one
        self.tie_broken = True
        self.cores = 0
        self.relaxed_without_search = 0
        self.objectives: dict[str, int] = {}
        self.optimal = True


class LexicographicOptimizer:
    """Minimizes a sequence of objectives in order, each at its optimum for the ones after it."""

    def __init__(
        self,
        encoding: Encoding,
        decide: Callable[[], int | None],
        model: set[int],
        *,
        conflict_budget: int,
    ) -> None:
        """``model`` (the true variables of a solution, usually the greedy one) is the first
        incumbent; ``conflict_budget`` bounds the whole optimization (conflicts, not seconds, so
        the answer does not depend on the machine)."""
        self.enc = encoding
        self.sat = encoding.sat
        self.decide = decide
        self.model = model
        self.model_vars = self.sat.num_vars
        self.reserve = conflict_budget // _IMPROVE_SHARE
        self.budget_end = self.sat.stats.conflicts + conflict_budget - self.reserve
        # Units holding every finished objective at its optimum. Every later question assumes
        # them and the incumbent meets them, so they are added as clauses, not assumptions:
        # propagated once on level 0, and never part of a learned clause.
        self.context: list[int] = []
        self._fixed: list[tuple[Objective, SoftSet]] = []  # finished objectives and their softs
        # auxiliary variables created after the incumbent that its records force true
        self._forced: set[int] = set()
        self._covered_names = -1  # names touched when the fixed objectives' terms were last read
        self._scanned: tuple[int, int, int] | None = None  # state _requirement_cores last read
        self.stats = OptimizeStats()
        # the incumbent came from the engine's own search and may install what nothing needs
        self._loose = False
        self._searched = False  # the last question needed a search (not propagation alone)

    # ------------------------------------------------------------------ driver

    def run(self, sequence: Sequence[Objective]) -> set[int]:
        """Minimize every objective in turn; the optimal model's true variables."""
        for i, objective in enumerate(sequence):
            try:
                best = self._minimize(objective)
            except OptimizerGaveUp:
                self.stats.optimal = False
                self._improve(objective, self.reserve)
                self.stats.objectives[objective.name] = self._hold_incumbent(objective)
                for rest in sequence[i + 1 :]:
                    self.stats.objectives[rest.name] = self._incumbent_cost(rest.terms())
                break
            self.stats.objectives[objective.name] = best
        if self.stats.optimal:
            # Among the solutions every objective ties on, the one the policy prefers: the
            # questions above were answered by the engine's own search, which does not care.
            # The policy's fixed decisions can take very long to meet a context this tight,
            # and the incumbent is already optimal for every objective, so the search for the
            # preferred one is bounded (see _TIE_BREAK_CONFLICTS).
            found = self.sat.solve(decide=self.decide, on_true=self.enc.expand, max_conflicts=_TIE_BREAK_CONFLICTS)
            self.stats.solves += 1
            if found is False:
                raise RuntimeError("internal error: the optimized objectives became infeasible")
            if found:
                self._take(set(self.sat.model()))
            else:
                self.stats.tie_broken = False
        return self.model

    # ------------------------------------------------------------------ one objective

    def _minimize(self, objective: Objective) -> int:
        sat = self.sat
        enc = self.enc
        terms = objective.terms()
        self._cover_fixed()
        softs = SoftSet(enc)
        softs.add_terms(terms)
        upper = self._incumbent_cost(terms)
        if upper and self._loose:
            upper = self._tighten_incumbent(terms, upper)
        probed: set[int] = set()
        expanded = False
        # After a core the next question goes straight to the engine: its assumptions sit one
        # per level, the levels below the core's first member stay, and only what the relaxation
        # changed is propagated again. The context checks below run once the cores stop coming.
        after_core = False
        while softs.lower < upper:
            if not after_core:
                if not sat.implied(on_true=enc.expand):
                    raise RuntimeError("internal error: the optimized objectives became infeasible")
                refuted = sat.falsified(softs.weights)
                # an assumption whose failure propagation alone shows (a required package with
                # several acceptable builds) is a core of its own too; each is probed once
                for a in softs.weights:
                    if a not in probed:
                        probed.add(a)
                        if sat.value(a) is None and sat.probe(a):
                            refuted.append(a)
                if refuted:
                    # the context alone rules these out: each is a core of its own
                    self.stats.relaxed_without_search += len(refuted)
                    for a in refuted:
                        if a in softs.weights:
                            softs.relax([a])
                    continue
                if self._requirement_cores(softs):
                    continue
                if not expanded:
                    expanded = True
                    if self._expand_alternatives(softs):
                        probed.clear()
                        continue
            after_core = False
            if self._solve(list(softs.weights)):
                model = set(sat.model())
                model_vars = sat.num_vars
                grown = objective.terms()
                fresh = {lit: w for lit, w in grown.items() if not softs.covers({lit: w})}
                softs.add_terms(fresh)
                covered = self._cover_fixed()
                if self._pays(model, model_vars, [*fresh, *covered]):
                    continue  # the model pays for terms it was not told about: ask again
                self._take(model, model_vars)
                self._loose = True
                upper = softs.lower
                break
            core = self._core(softs)
            self.stats.cores += 1
            sat.retract(core)
            softs.relax(core)
            after_core = True
        # Every model meeting the context and these assumptions has this objective at its optimum.
        self._hold(sorted(softs.weights, key=abs))
        self._fixed.append((objective, softs))
        return softs.lower

    def _improve(self, objective: Objective, budget: int) -> None:
        """After the proof of ``objective`` ran out of conflicts: look for models that pay less for
        it than the incumbent, each bounded below the last, until ``budget`` conflicts are spent.

        The proof works from below and may be far from done (a set-cover-like package count on a
        synthetic channel: lower bound 115 against 339 installed); from above, a linear bound and
        the engine's own decisions find much cheaper models in a few conflicts (310 in six). The
        answer is still reported as not proven optimal; it is only a better one.
        """
        sat = self.sat
        end = sat.stats.conflicts + budget
        while True:
            terms = objective.terms()
            cost = self._incumbent_cost(terms)
            remaining = end - sat.stats.conflicts
            if not cost or remaining <= 0:
                return
            guard = sat.new_var()
            sat.add_linear_le([(w, lit) for lit, w in terms.items()], cost - 1, guard=guard)
            result = sat.solve([guard], on_true=self.enc.expand, max_conflicts=remaining)
            self.stats.solves += 1
            if not result:
                return  # out of conflicts, or no cheaper model exists
            # The engine's model may set indicators that nothing forces ("this name is
            # installed" with none of its records); the policy completes the model's records
            # into a model where they follow the records, as the incumbent's do.
            if not sat.solve(self._needed_records(set(sat.model())), decide=self.decide, on_true=self.enc.expand):
                raise RuntimeError("internal error: a model's own records became infeasible")
            self.stats.solves += 1
            model = set(sat.model())
            model_vars = sat.num_vars
            covered = self._cover_fixed()
            if covered and self._pays(model, model_vars, covered):
                continue  # it pays for a finished objective's new terms, now held at zero: ask again
            if value_of(objective.terms(), model) < cost:
                self._take(model, model_vars)
            # else it installed names the bound did not know of yet: ask again with their terms

    def _solve(self, assumptions: list[int]) -> bool:
        remaining = self.budget_end - self.sat.stats.conflicts
        if remaining <= 0:
            raise OptimizerGaveUp
        # The engine's own decisions (activity-driven) refute a core far sooner than the policy's
        # fixed order; which model comes out does not matter here (see run()).
        before = self.sat.stats.conflicts
        result = self.sat.solve(assumptions, on_true=self.enc.expand, max_conflicts=remaining, level_each=True)
        self._searched = self.sat.stats.conflicts > before
        self.stats.solves += 1
        if result is None:
            raise OptimizerGaveUp
        return result

    def _core(self, softs: SoftSet) -> list[int]:
        """The failed assumptions of the last solve, shrunk by asking again with only them: a
        refutation a search found among thousands of assumptions often uses more than it needs.
        One that propagation alone found is traced literal by literal and is kept as it is (asking
        again would throw away the assumption levels the next question reuses)."""
        core = [a for a in self.sat.failed_assumptions() if a in softs.weights]
        if not core:
            raise RuntimeError("internal error: the optimized objectives became infeasible")
        if not self._searched:
            return core
        for _ in range(_TRIMS):
            if len(core) <= 2 or self._solve(core):
                break
            smaller = [a for a in self.sat.failed_assumptions() if a in softs.weights]
            if not smaller or len(smaller) >= len(core):
                break
            core = smaller
        if len(core) <= _SMALL_CORE:
            return core
        likely: list[int] = []
        if len(core) > _LARGE_CORE:
            paid = self.model | self._forced
            likely = [a for a in core if softs.paid_by(a, paid)]
        return self._minimal_core(core, likely)

    def _minimal_core(self, core: list[int], likely: Sequence[int] = ()) -> list[int]:
        """Drop the assumptions of ``core`` the refutation can do without, one by one (or, in a
        large core, in growing runs).

        Trimming keeps what a search happened to use, and on a set-cover-like objective that is
        dozens of names where two or three suffice (``at least one of these 50 is installed``
        where two of them already exclude each other). A large core is a weak one: it raises the
        bound by one and its counter charges only for violations among all 50, so the proof needs
        ever more cores, themselves larger (a synthetic 8-name request: a bound of 98 against an
        optimum of 131 when 20,000 conflicts ran out; minimized, the whole solve is proven in
        1,307 conflicts). Each try is bounded (_try_core); an assumption whose removal the
        search cannot refute within the bound stays. A try follows the policy's decisions first,
        which complete a model in a few steps when the assumption turns out to be needed, where
        the engine's own decisions would set every variable one at a time. When those give up
        (10 conflicts), the engine's decisions get up to 100 more: on the synthetic scale-specs
        requests most such tries are refutations that the policy's fixed order cannot find (16
        names: 77 of 91 were refuted within 1,000 more conflicts), and every member kept only
        because its try gave up weakens the core and every core after it (32 names: the
        package-count proof's own searches took 17,120 conflicts with such cores, 472 with
        minimal ones).

        A core of more than ``_LARGE_CORE`` is cut by galloping: a try that drops a run of
        members and is still refuted doubles the next run, a try that is not refuted halves it,
        down to one member, so a member is kept only after a try without it alone was not
        refuted, as above. ``likely`` (the members the incumbent pays for: every core holds some,
        since the incumbent is a model) goes last, so that the members a refutation can most
        likely do without come first, in long runs. A refutation of 200 assumptions that three
        of them suffice for then takes a few dozen tries, not 200 (a synthetic 16-name request:
        1,862 conflicts instead of 4,136). Dropping many members at once makes more tries
        satisfiable, and each of those completes a whole model, which is why smaller cores are
        still cut one by one (galloping from 9 members on cost the large suite's
        pytorch-cuda121-datasci-linux64 0.70 s to 1.14 s of optimization).
        """
        gallop = len(core) > _LARGE_CORE
        if gallop and likely:
            last = set(likely)
            core = [a for a in core if a not in last] + [a for a in core if a in last]
        i = 0
        step = 1
        while i < len(core) and len(core) > 2:
            remaining = self.budget_end - self.sat.stats.conflicts
            if remaining <= 0:
                break
            step = min(step, len(core) - i, len(core) - 2)
            rest = core[:i] + core[i + step :]
            result = self._try_core(rest, remaining)
            if result is False:
                failed = set(self.sat.failed_assumptions())
                core = [a for a in rest if a in failed]
                if gallop:
                    step *= 2
            elif step > 1:
                step //= 2
            else:
                i += 1
        return core

    def _try_core(self, assumptions: list[int], remaining: int) -> bool | None:
        """One try of _minimal_core: are ``assumptions`` refuted? The policy's decisions first,
        which complete a model in a few steps when they are not; if that gives up, the engine's
        own (activity-driven) decisions, which refute far sooner than the policy's fixed order
        (a synthetic 16-name request, the dependency version's tries that gave up after 10: the
        engine refuted them in 17 more conflicts on average, the policy's order in 38)."""
        result = self.sat.solve(
            assumptions,
            decide=self.decide,
            on_true=self.enc.expand,
            max_conflicts=min(_MINIMIZE_CONFLICTS, remaining),
            level_each=True,
        )
        self.stats.solves += 1
        if result is None:
            remaining = self.budget_end - self.sat.stats.conflicts
            if remaining > 0:
                result = self.sat.solve(
                    assumptions,
                    decide=None,
                    on_true=self.enc.expand,
                    max_conflicts=min(_REFUTE_CONFLICTS, remaining),
                    level_each=True,
                )
                self.stats.solves += 1
        return result

    def _requirement_cores(self, softs: SoftSet) -> bool:
        """Relax the cores that requirements show without a search; whether any was found.

        A requirement whose trigger the context installs needs one of its candidates; when every
        candidate the context leaves open is ruled out by its name's rung, the name must climb to
        the cheapest of them (a needed package whose every remaining build costs something, as
        when the newest build of a version was made for another python). Found by reading the
        assignment, not by solving.
        """
        sat = self.sat
        # nothing new to read unless the implied assignment or the requirements changed
        key = (len(self.enc.requirements), sat.trail_size(), len(softs.weights))
        if key == self._scanned:
            return False
        self._scanned = key
        val = sat.assignment()
        record_of = self.enc.record_of
        floors: dict[str, tuple[dict[int, int], int] | None] = {}  # per name, read once per scan
        found = False
        for req in self.enc.requirements:
            t = req.trigger
            if t and val[2 * t] != 1:
                continue
            s = req.satisfier
            if s and val[2 * s] == 1:
                continue
            name = None
            ranks: dict[int, int] = {}
            lowest = 0
            cheapest = -1
            for c in req.candidates:
                vc = val[2 * c]
                if vc == 1:
                    cheapest = -1
                    break
                if vc:
                    continue
                cname = record_of[c].name
                if cname != name:
                    if name is not None:
                        cheapest = -1  # builds of two names: no single rung to climb
                        break
                    name = cname
                    if name in floors:
                        got = floors[name]
                    else:
                        got = floors[name] = softs.floor(name)
                    if got is None:
                        cheapest = -1
                        break
                    ranks, lowest = got
                rank = ranks.get(c, 0)
                if rank < lowest:
                    cheapest = -1  # a build the assumption allows
                    break
                if cheapest < 0 or rank < cheapest:
                    cheapest = rank
            if cheapest > 0 and name is not None and softs.climb(name, cheapest):
                floors.pop(name, None)
                self.stats.relaxed_without_search += 1
                found = True
        return found

    def _expand_alternatives(self, softs: SoftSet) -> bool:
        """Generate the clauses of the builds the context leaves open for the names where the
        incumbent pays a term; whether any were generated.

        The search expands a record only when it installs it, so until then a build that cannot
        work looks like an alternative to propagation, and proving that a package is needed, or
        that its build is the only one left, would take a search per term. For a "package is
        installed" term the builds of the packages that need it are what matters.
        """
        enc = self.enc
        sat = self.sat
        record_of = enc.record_of
        paid = self.model | self._forced
        names: set[str] = set()
        needed: set[str] = set()
        for a in softs.weights:
            name = softs.name_of(a)
            if name is None or not softs.paid_by(a, paid):
                continue
            if -a in enc.aux_name:
                needed.add(name)
            names.add(name)
        if needed:
            for req in enc.requirements:
                t = req.trigger
                if t in paid and req.spec.name in needed:
                    names.add(record_of[t].name)
        todo: list[int] = []
        for name in sorted(names):
            open_ = [v for v in enc.name_vars.get(name, ()) if sat.value(v) is None and not enc.expanded(v)]
            if len(open_) <= _FEW_ALTERNATIVES:
                todo.extend(open_)
        for v in todo:
            enc.expand(v)
        return bool(todo)

    # ------------------------------------------------------------------ incumbent and context

    def _cover_fixed(self) -> list[int]:
        """Assume zero every term a finished objective gained since it was fixed (new names);
        the new term literals."""
        touched = len(self.enc.name_vars)
        if touched == self._covered_names:
            return []  # terms come from touched names only
        self._covered_names = touched
        added: list[int] = []
        for objective, softs in self._fixed:
            terms = objective.terms()
            fresh = {lit: w for lit, w in terms.items() if not softs.covers({lit: w})}
            if fresh:
                self._hold(softs.add_terms(fresh))
                added.extend(fresh)
        return added

    def _incumbent_cost(self, terms: Terms) -> int:
        """The incumbent's cost, its variables created since it was found valued as the
        definitions force them (a package-installed or feature indicator follows its records)."""
        newer = [lit for lit in terms if abs(lit) > self.model_vars and abs(lit) not in self._forced]
        if newer:
            forced = self._forced_by(self.model, newer)
            if forced is None:
                raise RuntimeError("internal error: the incumbent violates its own constraints")
            self._forced |= forced
        return value_of(terms, self.model | self._forced)

    def _pays(self, model: set[int], model_vars: int, lits: list[int]) -> bool:
        """Does ``model`` make any of ``lits`` true? Literals on variables created after it was
        found (a name it installed lazily gets its "installed" indicator only now) are valued
        as _incumbent_cost values them; records that no longer propagate cleanly (the new terms
        of a finished objective are held at zero) pay too."""
        if value_of({lit: 1 for lit in lits if abs(lit) <= model_vars}, model):
            return True
        newer = [lit for lit in lits if abs(lit) > model_vars]
        if not newer:
            return False
        forced = self._forced_by(model, newer)
        return forced is None or value_of(dict.fromkeys(newer, 1), forced) > 0

    def _forced_by(self, model: set[int], lits: list[int]) -> set[int] | None:
        """The variables of ``lits`` that the records true in ``model`` force true (an indicator
        follows its records), or None when those records no longer propagate cleanly."""
        if not self.sat.implied(self._true_records(model), on_true=self.enc.expand):
            return None
        return {abs(lit) for lit in lits if self.sat.value(abs(lit)) is True}

    def _tighten_incumbent(self, terms: Terms, cost: int) -> int:
        """Drop from the incumbent what nothing needs; its cost for ``terms`` afterwards.

        A model of the engine's own search installs whatever its decisions happened to set
        true, as long as the objective being minimized does not pay for it: a later objective
        then starts from an incumbent far above its optimum (381 counted packages where only the
        requested names' dependencies, 144, were needed, on a synthetic 8-name request). The
        records the requests reach through the incumbent's own choices still satisfy every
        requirement; the rest only adds terms, so the policy's completion of those records is a
        model as good for every finished objective (held in the context) and never worse here.
        """
        self._loose = False
        needed = self._needed_records(self.model)
        if len(needed) == len(self._true_records(self.model)):
            return cost
        found = self.sat.solve(needed, decide=self.decide, on_true=self.enc.expand)
        self.stats.solves += 1
        if not found:
            return cost  # a finished objective's new terms object: keep the incumbent as it is
        model = set(self.sat.model())
        tighter = value_of(terms, model)
        if tighter >= cost:
            return cost
        self._take(model)
        return tighter

    def _needed_records(self, model: set[int]) -> list[int]:
        """The records of ``model`` that the requests reach through its own choices (each
        requirement of a reached record through the candidate the model installs), in order."""
        requirements = self.enc.requirements
        by_trigger = self.enc.by_trigger
        needed: set[int] = set()
        todo = [0]
        while todo:
            for i in by_trigger.get(todo.pop(), ()):
                for c in requirements[i].candidates:
                    if c in model:
                        if c not in needed:
                            needed.add(c)
                            todo.append(c)
                        break
        return sorted(needed)

    def _true_records(self, true_vars: Iterable[int]) -> list[int]:
        """The record variables among a model's true variables, in order."""
        record_of = self.enc.record_of
        return sorted(v for v in true_vars if v in record_of)

    def _take(self, model: set[int], model_vars: int | None = None) -> None:
        """Make ``model`` the incumbent; ``model_vars``: how many variables existed when it was
        found (later ones are valued by what its records force, see _incumbent_cost)."""
        self.model = model
        self.model_vars = self.sat.num_vars if model_vars is None else model_vars
        self._forced = set()

    def _hold_incumbent(self, objective: Objective) -> int:
        """After the budget ran out: keep the objective at the incumbent's value (a bound, not a
        proof), so that the answer stays the incumbent's."""
        terms = objective.terms()
        best = self._incumbent_cost(terms)
        guard = self.sat.new_var()
        if best:
            self.sat.add_linear_le([(w, lit) for lit, w in terms.items()], best, guard=guard)
        else:
            for lit in terms:
                self.sat.add_clause((-guard, -lit))
        self._hold([guard])
        return best

    def _hold(self, lits: list[int]) -> None:
        self.context.extend(lits)
        for lit in lits:
            self.sat.add_clause((lit,), tag=None)
