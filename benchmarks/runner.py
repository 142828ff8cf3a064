"""Run a problem suite through solvent and the reference solvers, each solve in a fresh process.

Every solve is a subprocess (solvent via ``benchmarks/solve_one.py``, conda's classic solver and rattler
via ``peer_solve.py`` in the peers' environment, libsolv via ``peer_libsolv.py`` in its own), so each
measurement includes interpreter start and imports, as a user running a command would see. Recorded
per solve: wall time (total), load and solve time where the solver reports them, the time spent inside
the solver's process on the problem (``inproc_s``: loading plus solving, without interpreter start and
imports; rattler's and libsolv's as their scripts measure it, solvent's load plus solve; none for
conda, whose script only times the whole ``conda`` process), peak RSS, verdict, package set, solvent's
``optimal`` flag, and whether the answer passes solvent's independent verifier (run here on every
solver's answer, peers included).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITES = Path(__file__).resolve().parent / "suites"
SHARED = Path(os.environ.get("SOLVENT_SHARED", ROOT.parent / "shared"))
PEERS = Path(os.environ.get("SOLVENT_PEERS", Path.home() / ".cache" / "solvent-peers"))
PEER_SCRIPT = SHARED / "peers" / "peer_solve.py"
LIBSOLV_SCRIPT = SHARED / "peers" / "peer_libsolv.py"
SOLVE_ONE = Path(__file__).resolve().parent / "solve_one.py"

DEFAULT_VIRTUAL = {  # the same typical machines peer_solve.py assumes, so every solver gets the same facts
    "linux-64": ["__unix=0=0", "__linux=5.10=0", "__glibc=2.36=0", "__archspec=1=x86_64"],
    "linux-aarch64": ["__unix=0=0", "__linux=5.10=0", "__glibc=2.36=0", "__archspec=1=aarch64"],
    "linux-ppc64le": ["__unix=0=0", "__linux=5.10=0", "__glibc=2.36=0", "__archspec=1=ppc64le"],
    "osx-64": ["__unix=0=0", "__osx=13.0=0", "__archspec=1=x86_64"],
    "osx-arm64": ["__unix=0=0", "__osx=13.0=0", "__archspec=1=arm64"],
    "win-64": ["__win=0=0", "__archspec=1=x86_64"],
}
SOLVENT_VARIANTS = {
    "solvent": ("cdcl", "classic"),
    "solvent-greedy": ("cdcl", "greedy"),
    "solvent-pycosat": ("pycosat", "classic"),
    "solvent-resolvelib": ("resolvelib", "greedy"),
}
PEER_SOLVERS = ("conda", "rattler", "libsolv")
# How peer_libsolv.py words a spec form it refuses (it does not implement libmamba's own matcher).
LIBSOLV_REFUSALS = ("not supported by this peer", "cannot parse brackets", "Invalid MatchSpec")


@dataclass
class Problem:
    name: str
    channels: list[str]
    platform: str
    specs: list[str]
    virtual_packages: list[str]
    channel_priority: str = "strict"
    expect: str | None = None


@dataclass
class Run:
    problem: str
    solver: str
    status: str  # ok | unsat | error | timeout | skipped
    total_s: float | None = None
    load_s: float | None = None
    solve_s: float | None = None
    inproc_s: float | None = None  # load + solve inside the solver's process (None for conda)
    peak_rss_mb: float | None = None
    packages: list[str] = field(default_factory=list)
    verified: bool | None = None
    violations: list[str] = field(default_factory=list)
    error: str | None = None
    times: list[float] = field(default_factory=list)
    optimal: bool | None = None  # solvent's own claim that the answer is the policy's optimum


def load_suite(name_or_path: str, include_slow: bool = False) -> list[Problem]:
    path = Path(name_or_path)
    if not path.exists():
        path = SUITES / f"{name_or_path}.yaml"
    doc = yaml.safe_load(path.read_text())
    defaults = doc.get("defaults", {})
    problems = []
    for p in doc["problems"]:
        merged = {**defaults, **p}
        platform = merged.get("platform", "linux-64")
        virtual = merged.get("virtual_packages") or DEFAULT_VIRTUAL.get(platform, [])
        added = list(merged.get("virtual_packages_add", []))
        # an added virtual package replaces the default of the same name (e.g. a newer __glibc)
        replaced = {v.split("=")[0] for v in added}
        virtual = [v for v in virtual if v.split("=")[0] not in replaced] + added
        channels = [
            c if ("/" in c or c.startswith(".")) else str(SHARED / "data" / "channels" / c) for c in merged["channels"]
        ]
        if merged.get("slow") and not include_slow:
            continue
        problems.append(
            Problem(
                merged["name"],
                channels,
                platform,
                list(merged["specs"]),
                virtual,
                merged.get("channel_priority", "strict"),
                merged.get("expect"),
            )
        )
    return problems


def _pkg_key(p: dict[str, Any]) -> str:
    return f"{p['name']}={p['version']}={p['build']}"


def _run_child(cmd: list[str], timeout: float) -> tuple[dict[str, Any] | None, float, str]:
    t0 = time.perf_counter()
    # A session of its own, so a timeout also stops what the child started (peer_solve.py runs
    # conda as a further subprocess, which would otherwise keep a core busy for the next runs).
    # Every solver runs as an installed package runs: with its bytecode cached. A shell that sets
    # PYTHONDONTWRITEBYTECODE would make each child compile the pure-Python solver's ~40 modules
    # (about 50 ms here) while the peers' compiled cores pay nothing for it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc_ = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env
    )
    try:
        stdout, stderr = proc_.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc_.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc_.communicate()
        return None, time.perf_counter() - t0, "timeout"
    proc = subprocess.CompletedProcess(cmd, proc_.returncode, stdout, stderr)
    wall = time.perf_counter() - t0
    if proc.returncode == -signal.SIGALRM:  # peer_libsolv.py's own timeout (an alarm ends it)
        return None, wall, "timeout"
    start = proc.stdout.find("{")
    try:
        return json.loads(proc.stdout[start:]), wall, ""
    except ValueError:
        return None, wall, (proc.stderr or proc.stdout)[-1500:]


def solvent_python() -> str:
    """The interpreter solvent's children run under: a venv of its own, as the peers have theirs.

    The peers run from virtual environments whose site-packages hold nothing but their packages.
    The interpreter running the benchmarks may carry start-up hooks of its machine (``.pth`` files:
    this one's sandbox has one that imports certifi to patch its CA bundle, about 10 ms of every
    process, net of the modules solvent imports anyway), which no user of solvent pays. This venv
    (made once, ``--without-pip``) reaches the repository and the benchmark interpreter's installed
    packages through a plain path file, so those directories' own ``.pth`` hooks do not run.
    ``SOLVENT_BENCH_PYTHON`` names another interpreter; if the venv cannot be made, the current
    one is used.
    """
    given = os.environ.get("SOLVENT_BENCH_PYTHON")
    if given:
        return given
    import sysconfig
    import venv

    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    home = PEERS / f"solvent-venv-{tag}" if PEERS.is_dir() else ROOT / "benchmarks" / "results" / f".venv-{tag}"
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    paths = [str(ROOT), *sorted({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})]
    try:
        if not python.exists():
            venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(home)
        site_dir = Path(
            subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        pth = site_dir / "solvent-bench.pth"
        text = "".join(f"{p}\n" for p in paths)
        if not pth.is_file() or pth.read_text() != text:
            pth.write_text(text)
    except (OSError, subprocess.CalledProcessError):
        return sys.executable
    return str(python)


def solvent_job(problem: Problem, solver: str, **extra: Any) -> dict[str, Any]:
    """What ``benchmarks/solve_one.py`` is given to run ``problem`` with a solvent variant."""
    backend, policy = SOLVENT_VARIANTS[solver]
    return dict(
        specs=problem.specs,
        channels=problem.channels,
        platform=problem.platform,
        virtual_packages=problem.virtual_packages,
        channel_priority=problem.channel_priority,
        backend=backend,
        policy=policy,
        **extra,
    )


@functools.cache
def _solvent_python() -> str:
    """solvent_python() once per run: it asks the venv for its site directory."""
    return solvent_python()


def solve_once(problem: Problem, solver: str, timeout: float) -> Run:
    cache: tempfile.TemporaryDirectory[str] | None = None
    if solver in SOLVENT_VARIANTS:
        # Run as a script, as the peers' scripts are (``-m`` imports runpy first), with an empty
        # cache directory made here: the child's own temporary directory cost it the import of
        # tempfile, shutil and random, which no solvent command needs.
        cache = tempfile.TemporaryDirectory(prefix="solvent-bench-cache-")
        job = solvent_job(problem, solver, cache_dir=cache.name)
        cmd = [_solvent_python(), str(SOLVE_ONE), json.dumps(job)]
    elif solver in PEER_SOLVERS:
        if solver == "libsolv":  # its own venv (setup_libsolv.sh); the script would re-exec into it
            python, script = PEERS / "libsolv-venv" / "bin" / "python", LIBSOLV_SCRIPT
        else:
            python, script = PEERS / "venv" / "bin" / "python", PEER_SCRIPT
        if (
            not python.exists()
            or not script.exists()
            or (solver == "conda" and not (PEERS / "conda-src" / "conda").is_dir())
        ):
            return Run(problem.name, solver, "skipped", error=f"peer {solver} not set up ({PEERS})")
        cmd = [
            str(python),
            str(script),
            "--solver",
            solver,
            "--platform",
            problem.platform,
            "--channel-priority",
            problem.channel_priority,
            "--peers",
            str(PEERS),
            "--timeout",
            str(timeout),
        ]
        for ch in problem.channels:
            cmd += ["-c", ch]
        for vp in problem.virtual_packages:
            cmd += ["--virtual", vp]
        cmd += problem.specs
    else:
        raise SystemExit(f"unknown solver {solver!r}")
    try:
        out, wall, err = _run_child(cmd, timeout)
    finally:
        if cache is not None:
            cache.cleanup()
    if out is None:
        return Run(problem.name, solver, "timeout" if err == "timeout" else "error", total_s=wall, error=err)
    ok = bool(out.get("ok"))
    timings = out.get("timings") or {}  # the peers' scripts put their figures here
    load_s = out.get("load_s", timings.get("load_s"))
    solve_s = out.get("solve_s", timings.get("solve_s"))
    if solver in SOLVENT_VARIANTS:
        inproc_s = load_s + solve_s if load_s is not None and solve_s is not None else None
    elif solver == "conda":
        inproc_s = None  # peer_solve.py times the whole conda process: that is total_s's business
    else:  # rattler: repodata loading and solving in one call; libsolv: parsing plus libsolv's solve
        inproc_s = timings.get("total_s")
    run = Run(
        problem.name,
        solver,
        "ok" if ok else "unsat",
        total_s=wall,
        load_s=load_s,
        solve_s=solve_s,
        inproc_s=inproc_s,
        peak_rss_mb=out.get("peak_rss_mb"),
        packages=sorted(_pkg_key(p) for p in out.get("packages", [])),
        optimal=out.get("optimal"),
    )
    if not ok:
        error = str(out.get("error"))
        run.error = error[:500]
        if solver in SOLVENT_VARIANTS:
            run.status = "unsat" if out.get("kind") == "unsatisfiable" else "error"
        elif "Traceback" in error:
            run.status = "error"
        elif solver == "libsolv" and any(m in error for m in LIBSOLV_REFUSALS):
            run.status = "skipped"  # a spec form this peer cannot hand to libsolv: no verdict
    return run


class RecordIndex:
    """Every record of a problem's channels, by name-version-build, to verify any solver's answer."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}

    def records(self, channel: str, subdir: str) -> dict[str, Any]:
        key = (channel, subdir)
        if key not in self._cache:
            from solvent.record import PackageRecord

            found: dict[str, Any] = {}
            path = Path(channel) / subdir / "repodata.json"
            if path.exists():
                data = json.loads(path.read_text())
                for section in ("packages", "packages.conda"):
                    for fn, entry in (data.get(section) or {}).items():
                        try:
                            rec = PackageRecord.from_repodata(fn, entry, channel=channel, subdir=subdir)
                        except Exception:
                            continue
                        found.setdefault(f"{rec.name}={rec.version}={rec.build}", rec)
            self._cache[key] = found
        return self._cache[key]

    def verify(self, problem: Problem, run: Run) -> None:
        from solvent.solver.verify import verify_solution
        from solvent.virtual_packages import parse_virtual_package

        records = []
        for key in run.packages:
            rec = None
            for ch in problem.channels:
                for sd in (problem.platform, "noarch"):
                    rec = self.records(ch, sd).get(key)
                    if rec is not None:
                        break
                if rec is not None:
                    break
            if rec is None:
                run.verified = False
                run.violations = [f"{key}: not found in the problem's channels"]
                return
            records.append(rec)
        virtual = [parse_virtual_package(v, problem.platform) for v in problem.virtual_packages]
        violations = verify_solution(records, problem.specs, virtual_packages=virtual, platform=problem.platform)
        run.verified = not violations
        run.violations = [str(v) for v in violations[:10]]


def solve_repeatedly(problem: Problem, solver: str, timeout: float, repeat: int) -> list[Run]:
    """``repeat`` solves (at least one), stopping after one that timed out: another attempt would
    only wait out the same limit again."""
    attempts = []
    for _ in range(max(1, repeat)):
        attempts.append(solve_once(problem, solver, timeout))
        if attempts[-1].status == "timeout":
            break
    return attempts


def run_suite(
    suite: str,
    solvers: list[str],
    repeat: int = 1,
    timeout: float = 300.0,
    problems_glob: str | None = None,
    out_dir: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    import fnmatch

    problems = load_suite(suite, include_slow=bool(problems_glob))
    if problems_glob:
        problems = [p for p in problems if fnmatch.fnmatch(p.name, problems_glob)]
    index = RecordIndex()
    runs: list[Run] = []
    for problem in problems:
        missing = [c for c in problem.channels if not Path(c).is_dir()]
        for solver in solvers:
            if missing:
                runs.append(Run(problem.name, solver, "skipped", error=f"missing channel {missing[0]}"))
                continue
            attempts = solve_repeatedly(problem, solver, timeout, repeat)
            run = attempts[0]
            good = [a.total_s for a in attempts if a.total_s is not None]
            run.times = good
            if good:
                run.total_s = statistics.median(good)
            for attr in ("load_s", "solve_s", "inproc_s"):
                values = [getattr(a, attr) for a in attempts if getattr(a, attr) is not None]
                if values:
                    setattr(run, attr, statistics.median(values))
            runs.append(run)
            if not quiet:
                t = f"{run.total_s:.3f}s" if run.total_s is not None else "-"
                print(f"{problem.name:28} {solver:20} {run.status:8} {t:>9}", file=sys.stderr)
    # Verify after all solves: loading every record here would grow this process, and a child
    # forked from a big parent inherits its peak RSS in ru_maxrss (the peers report that figure).
    by_name = {p.name: p for p in problems}
    for run in runs:
        if run.status == "ok":
            index.verify(by_name[run.problem], run)
    results = {
        "suite": suite,
        "solvers": solvers,
        "machine": machine_info(),
        "problems": [asdict(p) for p in problems],
        "runs": [asdict(r) for r in runs],
    }
    if out_dir is not None:
        from benchmarks.report import write_report

        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=1))
        write_report(results, out_dir)
    return results


def machine_info() -> dict[str, Any]:
    import platform

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "system": platform.platform(),
        "solvent_python": _solvent_python(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return info
