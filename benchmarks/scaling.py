"""How time and memory grow: synthetic scaling families and the real-scale channel.

    python -m benchmarks scale --family size   [--solvers solvent,rattler,conda] [--sizes 250,1000,4000,16000]
    python -m benchmarks scale --family specs  [--solvers ...] [--counts 1,2,4,8,16,32]
    python -m benchmarks realscale [--records 465000] [--solvers solvent,rattler,conda]

``size``: channels of N names (about 16 records per name) from ``generate.synthetic_channel``; each
solver solves the same five requests (the deepest names) on each. ``specs``: one channel of 4,000
names, requests of k names. Every solve runs in a fresh process through the suite runner, so the
numbers are end to end (start, load, solve) like the suite's, and every answer is verified.

Growth is reported as the slope of log(time) against log(channel records) (or log(k)): 1.0 is
linear. Results go to ``benchmarks/results/scale-<family>/`` as JSON, Markdown and PNG.

``realscale``: the conda-forge-py39-2024 snapshot embedded in a conda-forge-sized channel
(``generate.realscale_channel``), served over loopback HTTP for solvent: a cold run (empty cache:
download and first parse) and a warm run (from the cache). The peers read the same files from
disk (``peer_solve.py`` takes local directories), which spares them the download.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.generate import GENERATED, ChannelShape, realscale_channel, synthetic_channel, top_names
from benchmarks.runner import DEFAULT_VIRTUAL, Problem, RecordIndex, Run, machine_info, solve_once, solve_repeatedly

RESULTS = Path(__file__).resolve().parent / "results"
VIRTUAL = DEFAULT_VIRTUAL["linux-64"]


def _channel(shape: ChannelShape) -> tuple[Path, dict[str, int]]:
    """Generate once per shape (cached under results/generated: same seed, same bytes)."""
    directory = GENERATED / f"synthetic-n{shape.names}-s{shape.seed}"
    meta = directory / "meta.json"
    if meta.exists():
        return directory, json.loads(meta.read_text())
    size = synthetic_channel(shape, directory)
    meta.write_text(json.dumps(size))
    return directory, size


def _slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x): the growth exponent."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    mx = statistics.fmean(p[0] for p in pts)
    my = statistics.fmean(p[1] for p in pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def _measure(problem: Problem, solver: str, timeout: float, repeat: int) -> Run:
    attempts = solve_repeatedly(problem, solver, timeout, repeat)
    run = attempts[0]
    good = [a.total_s for a in attempts if a.total_s is not None and a.status in ("ok", "unsat")]
    if good:
        run.total_s = statistics.median(good)
    return run


def scale(family: str, solvers: list[str], points: list[int], repeat: int, timeout: float) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    gave_up: dict[str, str] = {}
    answers: list[tuple[dict[str, Any], Problem, Run]] = []  # verified after every solve, see below
    for point in points:
        shape = ChannelShape(names=point if family == "size" else 4000)
        directory, size = _channel(shape)
        if family == "size":
            requests = [[n] for n in top_names(shape, 5)]
        else:
            requests = [top_names(shape, point)]
        for solver in solvers:
            rss, statuses = [], []
            # one per request, None where it did not solve: the point's median can hide that some
            # requests are trivial (two of the 267k point's five install one or two packages)
            per_request: list[float | None] = []
            not_optimal = 0
            solved: list[tuple[Problem, Run]] = []
            for i, specs in enumerate(requests):
                if solver in gave_up:
                    # A solver that timed out once is not run on bigger or further problems of the
                    # family: its growth is already shown, and each timeout costs the full budget.
                    statuses.append(f"skipped: timed out at {gave_up[solver]}")
                    per_request.append(None)
                    continue
                problem = Problem(f"{family}-{point}-{i}", [str(directory)], "linux-64", specs, VIRTUAL, "strict")
                run = _measure(problem, solver, timeout, repeat)
                if run.status == "ok":
                    solved.append((problem, run))
                statuses.append(run.status)
                if run.optimal is False:
                    not_optimal += 1
                if run.status == "timeout":
                    gave_up[solver] = f"{family} {point}"
                solved_in = run.total_s if run.status in ("ok", "unsat") else None
                per_request.append(solved_in)
                if solved_in is not None and run.peak_rss_mb:
                    rss.append(run.peak_rss_mb)
            times = [t for t in per_request if t is not None]
            row = {
                "family": family,
                "point": point,
                "records": size["records"],
                "names": size["names"],
                "solver": solver,
                "time_s": statistics.median(times) if times else None,
                "request_times_s": per_request,
                "peak_rss_mb": max(rss) if rss else None,
                "statuses": statuses,
                "not_optimal": not_optimal,
                "not_verified": 0,
                "packages": statistics.median(len(run.packages) for _, run in solved) if solved else None,
            }
            rows.append(row)
            answers.extend((row, problem, run) for problem, run in solved)
            t = f"{row['time_s']:.3f}s" if row["time_s"] is not None else "-"
            print(f"{family} {point:>6} ({size['records']:>7} records) {solver:10} {t:>9} {statuses}", file=sys.stderr)
    # As run_suite does, verify once every solve is done: the records loaded for it (a million for
    # the biggest channel) would grow this process, whose size a forked child's ru_maxrss inherits.
    index = RecordIndex()
    for row, problem, run in answers:
        index.verify(problem, run)
        row["not_verified"] += not run.verified
    growth = {}
    for solver in solvers:
        mine = [r for r in rows if r["solver"] == solver and r["time_s"]]
        xs = [float(r["records"] if family == "size" else r["point"]) for r in mine]
        growth[solver] = {
            "time": _slope(xs, [r["time_s"] for r in mine]),
            "memory": _slope(xs, [r["peak_rss_mb"] for r in mine]),
        }
    return {"family": family, "machine": machine_info(), "timeout": timeout, "rows": rows, "growth": growth}


def _cell(row: dict[str, Any] | None, timeout: float | None) -> str:
    """Median time and peak memory, or why there is none (a timeout is a result too)."""
    if row is None:
        return "-"
    statuses = row.get("statuses") or []
    limit = f" (>{timeout:.0f} s)" if timeout else ""
    if row["time_s"] is None:
        first = statuses[0] if statuses else "-"
        if first == "timeout":
            return "timeout" + limit
        if first.startswith("skipped: timed out at"):
            return "not run (timed out" + first[len("skipped: timed out") :] + ")"
        return first
    cell = f"{row['time_s']:.2f} s, {row['peak_rss_mb'] or 0:.0f} MB"
    if row.get("packages") is not None:
        cell += f", {row['packages']:.0f} pkgs"
    if row.get("not_optimal"):
        cell += f" ({row['not_optimal']} not proven optimal)"
    if row.get("not_verified"):
        cell += f" ({row['not_verified']} FAILED the verifier)"
    missed = sum(1 for st in statuses if st not in ("ok", "unsat"))
    if missed:
        cell += f" ({missed} of {len(statuses)} timed out{limit})"
    return cell


def write_scaling_report(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    family = result["family"]
    rows = result["rows"]
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    xkey = "records" if family == "size" else "point"
    points = sorted({r[xkey] for r in rows})
    label = "records" if family == "size" else "requested names"
    lines = [f"| {label} | " + " | ".join(solvers) + " |", "|---" * (len(solvers) + 1) + "|"]
    for p in points:
        cells = []
        for s in solvers:
            r = next((r for r in rows if r[xkey] == p and r["solver"] == s), None)
            cells.append(_cell(r, result.get("timeout")))
        lines.append(f"| {p:,} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Growth exponents (slope of log time / log memory against log {label}; 1.0 = linear):")
    lines.append("")
    for s, g in result["growth"].items():
        t = f"{g['time']:.2f}" if g["time"] is not None else "-"
        m = f"{g['memory']:.2f}" if g["memory"] is not None else "-"
        lines.append(f"- {s}: time {t}, memory {m}")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for s in solvers:
        mine = [r for r in rows if r["solver"] == s and r["time_s"] is not None]
        xs = [r[xkey] for r in mine]
        axes[0].plot(xs, [r["time_s"] for r in mine], marker="o", label=s)
        axes[1].plot(xs, [r["peak_rss_mb"] or 0 for r in mine], marker="o", label=s)
    for ax, ylabel in zip(axes, ("end-to-end time (s)", "peak RSS (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"scaling: {family}")
    fig.tight_layout()
    fig.savefig(out / f"scale-{family}.png", dpi=100)
    plt.close(fig)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


CONDA_PROBLEMS = ("py39",)
REALSCALE_PROBLEMS = [
    ("py39", ["python=3.9"]),
    ("py39-stack", ["python=3.9", "pip", "six", "pyparsing", "packaging", "certifi", "curl", "zstd"]),
    ("py27-unsat", ["python=2.7"]),
]


def realscale(solvers: list[str], records: int, timeout: float, synthetic: int = 0) -> dict[str, Any]:
    directory = GENERATED / f"realscale-{records}"
    meta = directory / "meta.json"
    t0 = time.perf_counter()
    if meta.exists():
        size = json.loads(meta.read_text())
    else:
        size = realscale_channel(directory, target_records=records)
        size["generate_s"] = round(time.perf_counter() - t0, 1)
        meta.write_text(json.dumps(size))
    print(f"real-scale channel: {size}", file=sys.stderr)
    problems = list(REALSCALE_PROBLEMS)
    # Requests for the generated names reach environments of thousands of packages (the
    # generator's fan-out is denser than conda-forge's); they are opt-in.
    for name in size.get("synthetic_top", [])[:synthetic]:
        problems.append((f"synthetic-{name}", [name]))
    rows = []
    server, url = _serve(directory)
    try:
        for pname, specs in problems:
            for solver in solvers:
                if solver.startswith("solvent"):
                    with tempfile.TemporaryDirectory() as cache:
                        for mode in ("cold", "warm"):
                            problem = Problem(pname, [url], "linux-64", specs, VIRTUAL, "strict")
                            run = _solve_cached(problem, solver, timeout, cache)
                            rows.append(_row(pname, solver, mode, run))
                elif solver == "conda" and pname not in CONDA_PROBLEMS:
                    continue  # minutes per solve at this scale: one problem shows it
                else:
                    problem = Problem(pname, [str(directory)], "linux-64", specs, VIRTUAL, "strict")
                    run = solve_once(problem, solver, timeout)
                    rows.append(_row(pname, solver, "disk", run))
    finally:
        server.shutdown()
    return {"family": "realscale", "machine": machine_info(), "channel": size, "rows": rows}


def _solve_cached(problem: Problem, solver: str, timeout: float, cache: str) -> Run:
    """A solvent run with a given cache directory (cold when empty, warm after)."""
    import subprocess

    from benchmarks.runner import SOLVE_ONE, solvent_job

    job = solvent_job(problem, solver, cache_dir=cache)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(SOLVE_ONE), json.dumps(job)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return Run(problem.name, solver, "timeout", total_s=timeout)
    wall = time.perf_counter() - t0
    try:
        out = json.loads(proc.stdout[proc.stdout.find("{") :])
    except ValueError:
        return Run(problem.name, solver, "error", total_s=wall, error=(proc.stderr or proc.stdout)[-800:])
    status = "ok" if out.get("ok") else ("unsat" if out.get("kind") == "unsatisfiable" else "error")
    return Run(
        problem.name,
        solver,
        status,
        total_s=wall,
        load_s=out.get("load_s"),
        solve_s=out.get("solve_s"),
        peak_rss_mb=out.get("peak_rss_mb"),
        packages=sorted(f"{p['name']}={p['version']}={p['build']}" for p in out.get("packages", [])),
        error=None if status != "error" else str(out.get("error"))[:500],
    )


def _row(problem: str, solver: str, mode: str, run: Run) -> dict[str, Any]:
    row = {
        "problem": problem,
        "solver": solver,
        "mode": mode,
        "status": run.status,
        "total_s": run.total_s,
        "load_s": run.load_s,
        "solve_s": run.solve_s,
        "peak_rss_mb": run.peak_rss_mb,
        "packages": len(run.packages),
        "package_set": run.packages,
        "error": run.error,
    }
    t = f"{run.total_s:.2f}s" if run.total_s is not None else "-"
    print(f"realscale {problem:12} {solver:10} {mode:5} {run.status:8} {t:>9}", file=sys.stderr)
    return row


def write_realscale_report(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    ch = result["channel"]
    lines = [
        f"Channel: {ch['records']:,} records over {ch['names']:,} names "
        f"({ch.get('real_records', 0):,} real from conda-forge-py39-2024, the rest synthetic).",
        "",
        "| problem | solver | mode | verdict | total | load | solve | peak RSS | packages |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(x: float | None, unit: str = "s") -> str:
        return "-" if x is None else (f"{x:.2f} {unit}" if unit == "s" else f"{x:.0f} {unit}")

    for r in result["rows"]:
        lines.append(
            f"| {r['problem']} | {r['solver']} | {r['mode']} | {r['status']} | {fmt(r['total_s'])} | "
            f"{fmt(r['load_s'])} | {fmt(r['solve_s'])} | {fmt(r['peak_rss_mb'], 'MB')} | {r['packages']} |"
        )
    sets: dict[str, dict[str, list[str]]] = {}
    for r in result["rows"]:
        if r["status"] == "ok":
            sets.setdefault(r["problem"], {})[r["solver"]] = r["package_set"]
    lines.append("")
    for problem, by_solver in sets.items():
        if "conda" in by_solver:
            same = [s for s, pk in by_solver.items() if s != "conda" and pk == by_solver["conda"]]
            lines.append(f"- {problem}: same package set as conda: {', '.join(sorted(same)) or 'none'}")
    (out / "report.md").write_text("\n".join(lines) + "\n")
