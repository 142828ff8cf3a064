"""Counting arguments the clause search cannot make: more packages than versions to share.

When every pair of some packages excludes equal versions (``a 5`` depends on ``b !=5``, and so on
for every version and every pair), at most one of them can take each version. Ten such packages
over nine versions cannot all be installed: the pigeonhole principle. A clause-learning search
refutes that only by trying every way to place nine of them, which is exponential (minutes for
picosat, seconds to minutes here, on the sudoku snapshot whose grid has fifteen cells that
pairwise exclude each other's digits).

This module finds such sets from the clauses themselves (the binary exclusions between
candidates of different names, as the encoding generates them for ``!=`` dependencies and
``constrains``) and states the count as one clause: not all of these packages are installed. The
search then needs one short argument per package ("it is required, so it is installed") instead
of an enumeration. It runs only when a search has already spent many conflicts, so problems that
do not need it pay nothing.
"""

from __future__ import annotations

from collections import defaultdict

from solvent.solver.encoding import Encoding

PIGEONHOLE = "pigeonhole"  # ("pigeonhole", names, versions) tags the counting clause
NEEDED = "needed"  # ("needed", name): propagation shows that name must be installed

_MAX_NAME_CANDIDATES = 64  # names with more builds than this are left out of the graph
_MAX_EXPANSIONS = 5000  # records whose clauses may be generated to complete the graph


def add_pigeonhole_clauses(enc: Encoding, *, in_conflicts: bool = False) -> int:
    """Find sets of packages that pairwise exclude equal versions and outnumber their versions;
    for each, add the clause "one of them is not installed". Returns how many were added.

    ``in_conflicts`` looks only at names with a build that took part in a conflict: a search that
    keeps failing on a counting argument keeps meeting those packages, and on a big environment
    that struggles for another reason the full look costs seconds (generating the clauses of up
    to 5,000 records on the 267k-record channel, to find nothing).
    """
    sat = enc.sat
    names = [
        name
        for name, variables in enc.name_vars.items()
        if 2 <= len(variables) <= _MAX_NAME_CANDIDATES
        and not name.startswith("__")
        and (not in_conflicts or any(sat.in_conflicts(v) for v in variables))
    ]
    budget = _expand(enc, names, _MAX_EXPANSIONS)
    if in_conflicts:
        # a set's last member may not have met a conflict yet: take the names the others exclude
        known = set(names)
        more = sorted(
            n for n in _excluded_names(enc, names) - known if 2 <= len(enc.name_vars[n]) <= _MAX_NAME_CANDIDATES
        )
        _expand(enc, more, budget)
        names += more
    graph = _exclusion_graph(enc, names)
    done = enc.counted
    added = 0
    for clique in _cliques(graph):
        versions = {enc.record_of[v].version for name in clique for v in enc.name_vars[name]}
        if len(clique) <= len(versions):
            continue
        members = sorted(clique)[: len(versions) + 1]  # the smallest set that cannot fit
        key = frozenset(members)
        if key in done:
            continue
        done.add(key)
        tag = (PIGEONHOLE, tuple(members), tuple(sorted(versions)))
        sat.add_clause([-enc.installed(name) for name in members], tag=tag)
        added += 1
        # The clause bites once the search knows these packages are needed. It never decides
        # "not installed" for a required package, so say it directly where propagation shows it
        # (leaving one out empties the dependencies of everything that needs it).
        for name in members:
            inst = enc.installed(name)
            if sat.value(inst) is None and not sat.implied([-inst]):
                sat.add_clause([inst], tag=(NEEDED, name))
    return added


def _expand(enc: Encoding, names: list[str], budget: int) -> int:
    """Generate the clauses of these names' records (their exclusions are clauses only then), at
    most ``budget`` of them; what is left of the budget."""
    for name in names:
        for var in enc.name_vars[name]:
            if budget and not enc.expanded(var):
                enc.expand(var)
                budget -= 1
    return budget


def _ruled_out(enc: Encoding, var: int) -> set[int]:
    """Variables that ``var`` rules out through a binary clause: directly, or through the shared
    "one of these" variable of a dependency, which carries the exclusions of the builds the
    dependency rules out."""
    sat = enc.sat
    any_vars = enc.any_vars
    out: set[int] = set()
    for code in sat.binary_implications(var):
        w = code >> 1
        if code & 1:
            out.add(w)
        elif w in any_vars:
            out.update(c >> 1 for c in sat.binary_implications(w) if c & 1)
    return out


def _excluded_names(enc: Encoding, names: list[str]) -> set[str]:
    """Names with records that records of at least two of ``names`` rule out through binary
    clauses: a member of a set of three or more is adjacent to every other member."""
    record_of = enc.record_of
    seen_by: dict[str, int] = defaultdict(int)
    for name in names:
        out = {record_of[w].name for var in enc.name_vars[name] for w in _ruled_out(enc, var) if w in record_of}
        out.discard(name)
        for other in out:
            seen_by[other] += 1
    return {n for n, k in seen_by.items() if k >= 2 and not n.startswith("__")}


def _exclusion_graph(enc: Encoding, names: list[str]) -> dict[str, set[str]]:
    """Names X and Y are adjacent when, for every version both have, the two builds of that
    version exclude each other (a binary clause), and they share at least one version."""
    record_of = enc.record_of
    by_version: dict[str, dict[str, list[int]]] = {}
    for name in names:
        table: dict[str, list[int]] = defaultdict(list)
        for var in enc.name_vars[name]:
            table[record_of[var].version].append(var)
        by_version[name] = table
    # excludes[var] = variables whose candidates var rules out through a binary clause
    name_of = {v: name for name in names for v in enc.name_vars[name]}
    excludes = {var: {w for w in _ruled_out(enc, var) if w in name_of} for var in name_of}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for var, out in excludes.items():
        x = name_of[var]
        for other in out:
            y = name_of[other]
            if y != x:
                neighbours[x].add(y)
    graph: dict[str, set[str]] = {name: set() for name in names}
    for x in names:
        for y in neighbours[x]:
            if y in graph[x] or x > y:
                continue
            shared = by_version[x].keys() & by_version[y].keys()
            if shared and all(_all_exclusive(by_version[x][v], by_version[y][v], excludes) for v in shared):
                graph[x].add(y)
                graph[y].add(x)
    return graph


def _all_exclusive(xs: list[int], ys: list[int], excludes: dict[int, set[int]]) -> bool:
    return all(y in excludes[x] or x in excludes[y] for x in xs for y in ys)


def _cliques(graph: dict[str, set[str]], limit: int = 10_000) -> list[set[str]]:
    """Maximal cliques (Bron-Kerbosch with pivoting), at most ``limit`` recursion steps, largest
    first; deterministic (names are visited in sorted order)."""
    found: list[set[str]] = []
    steps = 0

    def expand(r: list[str], p: set[str], x: set[str]) -> None:
        nonlocal steps
        steps += 1
        if steps > limit:
            return
        if not p and not x:
            if len(r) > 2:
                found.append(set(r))
            return
        pivot = max(sorted(p | x), key=lambda n: len(graph[n] & p))
        for v in sorted(p - graph[pivot]):
            expand([*r, v], p & graph[v], x & graph[v])
            p = p - {v}
            x = x | {v}

    expand([], {n for n in graph if graph[n]}, set())
    found.sort(key=lambda c: (-len(c), sorted(c)))
    return found
