"""Solve one problem with solvent in this (fresh) process and print one JSON object.

Run by the benchmark runner as ``python benchmarks/solve_one.py '<json problem>'`` so that every
measurement starts from a cold interpreter, like the peers' scripts. The runner passes an empty
cache directory in the job (``cache_dir``); without one the child makes its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    """This process's own high-water mark. ``ru_maxrss`` survives exec on Linux, so a child forked
    from a big parent would report the parent's size; ``VmHWM`` belongs to the new address space."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    t0 = time.perf_counter()
    job = json.loads(sys.argv[1])
    import solvent
    from solvent.errors import SolventError, Unsatisfiable

    t_import = time.perf_counter() - t0
    out: dict = {"ok": False, "error": None, "packages": []}
    cache_dir = job.get("cache_dir")
    scratch = None
    if not cache_dir:
        import tempfile

        scratch = tempfile.TemporaryDirectory()
        cache_dir = scratch.name
    try:
        sol = solvent.solve(
            job["specs"],
            job["channels"],
            job["platform"],
            virtual_packages=job["virtual_packages"],
            channel_priority=job["channel_priority"],
            backend=job["backend"],
            policy=job["policy"],
            cache_dir=cache_dir,
        )
        out["ok"] = True
        out["packages"] = [
            {"name": r.name, "version": r.version, "build": r.build, "subdir": r.subdir, "fn": r.fn}
            for r in sol.packages
        ]
        out["load_s"] = sol.timings["load_s"]
        out["solve_s"] = sol.timings["solve_s"]
        if sol.stats is not None:
            out["optimal"] = sol.stats.optimal
    except Unsatisfiable as exc:
        out["error"] = str(exc)[:4000]
        out["kind"] = "unsatisfiable"
    except SolventError as exc:
        out["error"] = str(exc)[:4000]
        out["kind"] = exc.kind
    if scratch is not None:
        scratch.cleanup()
    out["import_s"] = t_import
    out["total_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))
    # Exit as the ``solvent`` command does (solvent.cli.console_main): the interpreter's last
    # cycle collection need not walk the solve's objects.
    import gc

    gc.freeze()


if __name__ == "__main__":
    main()
