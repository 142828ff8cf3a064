"""Parse and match throughput of the model on the real depends strings (``python -m benchmarks.bench_model``).

Prints a Markdown table: versions parsed and sorted per second, MatchSpecs parsed per second (cold:
no intern cache), ``MatchSpec.match`` calls per second against the records of each spec's name, and
the memory of a PackageRecord. Skips cleanly when ../shared is absent.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from pathlib import Path

from benchmarks.runner import SHARED


def main() -> int:
    channels = SHARED / "data" / "channels"
    versions_file = SHARED / "data" / "versions" / "versions.txt"
    if not channels.is_dir():
        print("shared data not available: skipped")
        return 0
    import solvent.match_spec as ms_module
    import solvent.version as v_module
    from solvent.match_spec import MatchSpec
    from solvent.record import PackageRecord
    from solvent.version import VersionOrder

    rows = []
    versions = [v.strip() for v in versions_file.read_text().splitlines() if v.strip()]
    t = time.perf_counter()
    parsed = [VersionOrder(v) for v in versions]
    dt = time.perf_counter() - t
    rows.append(("versions parsed", len(versions), dt))
    t = time.perf_counter()
    sorted(parsed)
    rows.append(("versions sorted (one sort)", len(parsed), time.perf_counter() - t))

    entries = []
    for repo in sorted(Path(channels).glob("*/*/repodata.json")):
        data = json.loads(repo.read_text())
        for section in ("packages", "packages.conda"):
            entries += [(fn, e, repo.parent.name) for fn, e in (data.get(section) or {}).items()]
    strings = sorted({s for _, e, _ in entries for s in (e.get("depends") or []) + (e.get("constrains") or [])})
    t = time.perf_counter()
    specs = [MatchSpec(s) for s in strings]
    rows.append(("MatchSpec parsed (distinct strings)", len(specs), time.perf_counter() - t))

    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    t = time.perf_counter()
    records = [PackageRecord.from_repodata(fn, e, channel="c", subdir=sd) for fn, e, sd in entries]
    build_dt = time.perf_counter() - t
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    rows.append(("PackageRecord built", len(records), build_dt))

    by_name: dict[str, list[PackageRecord]] = {}
    for r in records:
        by_name.setdefault(r.name, []).append(r)
    pairs = [(s, r) for s in specs if s.name in by_name for r in by_name[s.name]]
    t = time.perf_counter()
    hits = sum(1 for s, r in pairs if s.match(r))
    rows.append(("MatchSpec.match calls", len(pairs), time.perf_counter() - t))

    print("| operation | count | seconds | per second |")
    print("|---|---|---|---|")
    for name, count, seconds in rows:
        print(f"| {name} | {count} | {seconds:.3f} | {count / seconds:,.0f} |")
    print(
        f"\n{hits} of {len(pairs)} matches true; {grown / len(records):.0f} bytes per PackageRecord "
        f"(tracemalloc, strings shared with the parsed JSON); caches: {len(v_module._CACHE)} versions, "
        f"{len(ms_module._CACHE)} interned specs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
