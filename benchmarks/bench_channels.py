"""Channel loading: full vs lazy, cold vs warm cache, against plain ``json.load``.

    python -m benchmarks.bench_channels [--channels DIR] [--repeat N]

For every snapshot channel (platform subdir + noarch) it measures, each in a fresh subprocess so
caches and allocator state do not leak between cases:

- ``json.load``: parsing the repodata.json files, the floor any eager loader pays;
- ``cold all`` / ``cold lazy``: empty cache, build the on-disk index, then materialize every record
  or only the dependency closure of a sample spec (``python`` when present, else the first name);
- ``warm all`` / ``warm lazy``: the same with the index already cached.

Time is the median wall time of ``--repeat`` runs; memory is the tracemalloc peak of a separate run
(Python allocations; the mmap-ed index is not counted because it is page cache, not heap). Both
exclude importing the modules, a per-process constant.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHANNELS = Path(os.environ.get("SOLVENT_SHARED", ROOT.parent / "shared")) / "data" / "channels"
MODES = ("json", "cold-all", "cold-lazy", "warm-all", "warm-lazy")


def pick_platform(channel: Path) -> str:
    subdirs = sorted(p.name for p in channel.iterdir() if (p / "repodata.json").is_file())
    if "linux-64" in subdirs:
        return "linux-64"
    return next((s for s in subdirs if s != "noarch"), "noarch")


def _records_available() -> bool:
    try:
        import solvent.record  # noqa: F401
    except ImportError:
        return False
    return True


def run_case(channel: Path, platform: str, mode: str, cache: Path) -> dict[str, float]:
    """One measurement in this process; returns counts for the table."""
    subdirs = [platform, "noarch"] if platform != "noarch" else ["noarch"]
    if mode == "json":
        count = 0
        for subdir in subdirs:
            path = channel / subdir / "repodata.json"
            if path.is_file():
                with open(path, "rb") as handle:
                    doc = json.load(handle)
                count += len(doc.get("packages", {})) + len(doc.get("packages.conda", {}))
        return {"records": count, "names": 0}

    from solvent.channels.index import ChannelIndex
    from solvent.channels.repodata import dep_name

    index = ChannelIndex([str(channel)], platform, cache_dir=cache)
    names = sorted(index.names())
    with_records = _records_available()

    def materialize(name: str) -> list[dict]:
        if with_records:
            return [{"depends": r.depends} for r in index.records(name)]
        sources = index._sources()
        return [e for s in sources for _, e in s.source.raw(name)]

    if mode.endswith("-all"):
        reached = names
        count = sum(len(materialize(n)) for n in reached)
    else:
        start = "python" if "python" in names else names[0]
        seen, todo, count = {start}, [start], 0
        while todo:
            name = todo.pop()
            entries = materialize(name)
            count += len(entries)
            for entry in entries:
                for dep in entry.get("depends") or ():
                    dep_n = dep_name(dep)
                    if dep_n and dep_n not in seen:
                        seen.add(dep_n)
                        todo.append(dep_n)
        reached = sorted(seen)
    index.close()
    return {"records": count, "names": len(reached)}


def child(argv: list[str]) -> None:
    channel, platform, mode, cache, trace = Path(argv[0]), argv[1], argv[2], Path(argv[3]), argv[4] == "1"
    # Imports (requests alone is ~100 ms, ~10 MB) are a per-process constant, not loading cost.
    import solvent.channels.index  # noqa: F401

    _records_available()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    counts = run_case(channel, platform, mode, cache)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    print(json.dumps({"s": elapsed, "peak": peak, **counts}))


def measure(channel: Path, platform: str, mode: str, repeat: int) -> dict[str, float]:
    times: list[float] = []
    result: dict[str, float] = {}
    for trace in [False] * repeat + [True]:
        cache = Path(tempfile.mkdtemp(prefix="solvent-bench-"))
        try:
            if mode.startswith("warm"):  # prime the cache in another process
                _spawn(channel, platform, "cold-lazy", cache, False)
            out = _spawn(channel, platform, mode, cache, trace)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        if trace:
            result["peak_mb"] = out["peak"] / 2**20
        else:
            times.append(out["s"])
            result.update(records=out["records"], names=out["names"])
    result["ms"] = statistics.median(times) * 1000
    return result


def _spawn(channel: Path, platform: str, mode: str, cache: Path, trace: bool) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_channels",
        "--child",
        str(channel),
        platform,
        mode,
        str(cache),
    ]
    cmd.append("1" if trace else "0")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({channel.name} {mode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=Path, default=DEFAULT_CHANNELS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.channels.is_dir():
        print(f"no snapshots at {args.channels}; set SOLVENT_SHARED or --channels")
        return 1
    print(f"records: {'PackageRecord' if _records_available() else 'raw entries (solvent.record missing)'}; ")
    print(f"time: median of {args.repeat} runs, each in a fresh process; memory: tracemalloc peak\n")
    head = "| channel | subdirs | " + " | ".join(f"{m} ms / MB" for m in MODES) + " | lazy names / records |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for channel in sorted(p for p in args.channels.iterdir() if p.is_dir()):
        platform = pick_platform(channel)
        cells, lazy = [], ""
        for mode in MODES:
            out = measure(channel, platform, mode, args.repeat)
            cells.append(f"{out['ms']:.0f} / {out['peak_mb']:.1f}")
            if mode == "cold-lazy":
                lazy = f"{out['names']:.0f} / {out['records']:.0f}"
            if mode == "cold-all":
                total = f"{out['records']:.0f}"
        subdirs = platform + ("+noarch" if platform != "noarch" else "")
        print(f"| {channel.name} | {subdirs} | " + " | ".join(cells) + f" | {lazy} of {total} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
