#!/usr/bin/env python3
"""Run the reference solvers (conda's classic solver, rattler, libsolv) over solver cases and benchmark problems.

Not part of the test suite: a maintainer's tool to (re)validate ``tests/data/conda_cases.yaml`` and to
record what the peers say about ``benchmarks/suites/*.yaml``. Run it with the python of the peers'
environment (``~/.cache/solvent-peers/venv/bin/python``, see ``../shared/peers/README.md``)::

    PY=~/.cache/solvent-peers/venv/bin/python
    $PY benchmarks/suites/check_cases.py cases [--ids GLOB] [--json out.json]
    $PY benchmarks/suites/check_cases.py suite real [--problems GLOB] [--write]

``cases`` solves every case with conda and rattler and compares each answer with the case's
expectation (exit status 1 when conda contradicts a case marked ``validated: true``). Unlike
``peer_solve.py`` it drives conda itself, so it can also honour a case's ``add_pip``, ``pins``,
``installed``, ``history`` and ``update_modifier``: installed packages are written as a fake prefix
(``conda-meta/*.json`` and a ``history`` file) and conda runs ``install --dry-run`` in it.

``suite`` runs ``peer_solve.py`` (conda, rattler) and ``peer_libsolv.py`` (libsolv, in the environment
``setup_libsolv.sh`` builds) on every problem of a suite, one solve at a time, and prints the verdicts
and times; ``--write`` stores them in each problem's ``peers:`` note (problems are one line each):
``conda sat 9.70s (156 pkgs); rattler sat 0.14s (156 pkgs); libsolv sat 0.31s [solve 0.04s] (156 pkgs);
same set``. conda's time is its whole process, rattler's and libsolv's their in-process time (libsolv's
C solve in brackets); a solver that ran out of time reads ``conda timeout (>300 s)``, a spec form
``peer_libsolv.py`` refuses ``libsolv skipped (...)``. ``--solvers`` picks the peers, ``--timeout``
bounds each solve (default 600 s).
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SOLVENT_SHARED", ROOT.parent / "shared"))
CHANNELS = SHARED / "data" / "channels"
PEERS = Path(os.environ.get("SOLVENT_PEERS", Path.home() / ".cache" / "solvent-peers"))
PEER_SCRIPT = SHARED / "peers" / "peer_solve.py"
LIBSOLV_SCRIPT = SHARED / "peers" / "peer_libsolv.py"
LIBSOLV_REFUSALS = ("not supported by this peer", "cannot parse brackets", "Invalid MatchSpec")
SUITE_PEERS = ("conda", "rattler", "libsolv")
CASES = ROOT / "tests" / "data" / "conda_cases.yaml"

DEFAULT_VIRTUAL = {  # the typical machines peer_solve.py and benchmarks/runner.py assume
    "linux-64": ["__unix=0=0", "__linux=5.10=0", "__glibc=2.36=0", "__archspec=1=x86_64"],
    "linux-aarch64": ["__unix=0=0", "__linux=5.10=0", "__glibc=2.36=0", "__archspec=1=aarch64"],
    "linux-ppc64le": ["__unix=0=0", "__linux=5.10=0", "__glibc=2.36=0", "__archspec=1=ppc64le"],
    "osx-64": ["__unix=0=0", "__osx=13.0=0", "__archspec=1=x86_64"],
    "osx-arm64": ["__unix=0=0", "__osx=13.0=0", "__archspec=1=arm64"],
    "win-64": ["__win=0=0", "__archspec=1=x86_64"],
}
UPDATE_MODIFIERS = ("freeze-installed", "update-deps", "update-all", "update-specs", "specs-satisfied-skip-solve")


# --------------------------------------------------------------------------- helpers
def channel_dir(name: str) -> Path:
    return Path(name) if ("/" in name or name.startswith(".")) else CHANNELS / name


def parse_virtual(items: list[str]) -> dict[str, tuple[str, str]]:
    out = {}
    for item in items:
        name, _, rest = item.partition("=")
        version, _, build = rest.partition("=")
        out[name] = (version or "0", build or "0")
    return out


def case_virtual(case: dict[str, Any]) -> list[str]:
    """A case's virtual packages, exactly as listed (conda still detects __unix/__linux/__archspec itself)."""
    return list(case.get("virtual_packages") or [])


def with_pip(channels: list[Path], tmp: Path) -> list[Path]:
    """Copies of the channels where python 2.x/3.x depends on pip (conda's add_pip_as_python_dependency)."""
    out = []
    for ch in channels:
        dest = tmp / f"pip-{ch.name}"
        for sub in ch.iterdir():
            path = sub / "repodata.json"
            if not path.exists():
                continue
            doc = json.loads(path.read_text())
            for key in ("packages", "packages.conda"):
                for entry in (doc.get(key) or {}).values():
                    if entry.get("name") == "python" and str(entry.get("version", "")).startswith(("2.", "3.")):
                        deps = list(entry.get("depends") or [])
                        if not any(d.split()[0] == "pip" for d in deps):
                            entry["depends"] = [*deps, "pip"]
            (dest / sub.name).mkdir(parents=True, exist_ok=True)
            (dest / sub.name / "repodata.json").write_text(json.dumps(doc))
        out.append(dest)
    return out


def load_repodata(channels: list[Path], platform: str) -> list[tuple[Path, str, str, dict[str, Any]]]:
    rows = []
    for ch in channels:
        for sub in (platform, "noarch"):
            path = ch / sub / "repodata.json"
            if not path.exists():
                continue
            doc = json.loads(path.read_text())
            for key in ("packages", "packages.conda"):
                for fn, entry in (doc.get(key) or {}).items():
                    rows.append((ch, sub, fn, entry))
    return rows


def find_installed(dist: str, rows, channel_names: dict[str, Path]) -> tuple[Path, str, str, dict[str, Any]]:
    """An installed entry `[channel::]name-version-build` -> its repodata row."""
    chan = None
    if "::" in dist:
        chan, _, dist = dist.partition("::")
    name, version, build = dist.rsplit("-", 2)
    for ch, sub, fn, entry in rows:
        same = (entry["name"], entry["version"], entry["build"]) == (name, version, build)
        if same and (chan is None or channel_names.get(chan) == ch):
            return ch, sub, fn, entry
    raise SystemExit(f"installed package {dist} not found in the case's channels")


def key(p: dict[str, Any]) -> str:
    build = p.get("build") or p.get("build_string")
    if build is None and p.get("dist_name"):
        return p["dist_name"]
    return f"{p['name']}-{p['version']}-{build}"


# --------------------------------------------------------------------------- conda
def solve_conda(case: dict[str, Any], channels: list[Path], timeout: float = 900) -> dict[str, Any]:
    platform = case.get("platform", "linux-64")
    virtual = parse_virtual(case_virtual(case))
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        if case.get("add_pip"):
            channels = with_pip(channels, tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA")}
        rc = [f"channel_priority: {case.get('channel_priority', 'flexible')}", "add_pip_as_python_dependency: false"]
        if case.get("pins"):
            rc.append("pinned_packages: " + json.dumps(list(case["pins"])))
        if case.get("update_modifier"):  # conda's setting of the same name (its CLI has no flag for every value)
            assert case["update_modifier"] in UPDATE_MODIFIERS, case["update_modifier"]
            rc.append("update_modifier: " + case["update_modifier"].replace("-", "_"))
        if case.get("auto_update_conda") is not None:
            rc.append(f"auto_update_conda: {str(bool(case['auto_update_conda'])).lower()}")
        (tmp / "condarc").write_text("\n".join(rc) + "\n")
        env.update(
            PYTHONPATH=str(PEERS / "conda-src"),
            CONDARC=str(tmp / "condarc"),
            CONDA_PKGS_DIRS=f"{tmp}/pkgs",
            CONDA_ROOT_PREFIX=f"{tmp}/root",
            CONDA_SOLVER="classic",
            CONDA_SUBDIR=platform,
            CONDA_NUMBER_CHANNEL_NOTICES="0",
            CONDA_REPORT_ERRORS="false",
            CONDA_OVERRIDE_CUDA=virtual.get("__cuda", ("",))[0],
            # no __glibc unless the case lists one (the tests' channels predate it)
            CONDA_OVERRIDE_GLIBC=virtual.get("__glibc", ("",))[0],
        )
        for name, var in (("__osx", "OSX"), ("__linux", "LINUX")):
            if name in virtual:
                env[f"CONDA_OVERRIDE_{var}"] = virtual[name][0]
        if "__archspec" in virtual:
            env["CONDA_OVERRIDE_ARCHSPEC"] = virtual["__archspec"][1]
        prefix = tmp / "env"
        installed = case.get("installed") or []
        if installed:
            rows = load_repodata(channels, platform)
            names = {c: p for c, p in zip(case["channels"], channels)}
            meta = prefix / "conda-meta"
            meta.mkdir(parents=True)
            lines = ["==> 2020-01-01 00:00:00 <==", "# cmd: conda create", "# conda version: 4.7.0"]
            for dist in installed:
                ch, sub, fn, entry = find_installed(dist, rows, names)
                url = f"{ch.resolve().as_uri()}/{sub}/{fn}"
                rec = {
                    **entry,
                    "fn": fn,
                    "url": url,
                    "channel": f"{ch.resolve().as_uri()}/{sub}",
                    "subdir": sub,
                    "files": [],
                    "paths_data": {"paths": [], "paths_version": 1},
                }
                rec.setdefault("depends", [])
                stem = fn[:-8] if fn.endswith(".tar.bz2") else fn.rsplit(".", 1)[0]
                (meta / f"{stem}.json").write_text(json.dumps(rec))
                lines.append(f"+{ch.resolve().as_uri()}/{sub}::{entry['name']}-{entry['version']}-{entry['build']}")
            history = case.get("history")
            if history is not None:
                lines.append("# update specs: " + json.dumps(list(history)))
            (meta / "history").write_text("\n".join(lines) + "\n")
            cmd = [sys.executable, "-m", "conda", "install", "-p", str(prefix)]
        else:
            cmd = [sys.executable, "-m", "conda", "create", "-p", str(prefix)]
        cmd += ["--dry-run", "--json", "--override-channels", "--solver", "classic"]
        for ch in channels:
            cmd += ["-c", ch.resolve().as_uri()]
        cmd += list(case.get("specs") or [])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        total = time.perf_counter() - t0
        try:
            out = json.loads(proc.stdout)
        except json.JSONDecodeError:
            return {"ok": False, "error": (proc.stderr or proc.stdout)[-1500:], "packages": None, "total_s": total}
        if not out.get("success"):
            return {
                "ok": False,
                "error": str(out.get("error") or out.get("message"))[:1500],
                "packages": None,
                "exception": out.get("exception_name"),
                "total_s": total,
            }
        actions = out.get("actions") or {}
        link = {key(r) for r in actions.get("LINK", [])}
        unlink = {key(r) for r in actions.get("UNLINK", [])}
        final = ({d.split("::")[-1] for d in installed} - unlink) | link
        return {"ok": True, "error": None, "packages": sorted(final), "total_s": total}


# --------------------------------------------------------------------------- rattler
def solve_rattler(case: dict[str, Any], channels: list[Path]) -> dict[str, Any]:
    import rattler

    platform = case.get("platform", "linux-64")
    virtual = parse_virtual(case_virtual(case))
    t0 = time.perf_counter()
    sources = []
    for ch in channels:
        channel = rattler.Channel(ch.resolve().as_uri())
        for sub in (platform, "noarch"):
            path = ch / sub / "repodata.json"
            if path.exists():
                sources.append(rattler.SparseRepoData(channel, sub, str(path)))
    vps = [
        rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b))
        for n, (v, b) in virtual.items()
    ]
    priority = {"strict": rattler.ChannelPriority.Strict, "disabled": rattler.ChannelPriority.Disabled}.get(
        case.get("channel_priority", "flexible"), rattler.ChannelPriority.Strict
    )
    locked = []
    for dist in case.get("installed") or []:
        name, version, build = dist.split("::")[-1].rsplit("-", 2)
        for src in sources:
            for r in src.load_records(rattler.PackageName(name)):
                if str(r.version) == version and str(r.build) == build:
                    locked.append(r)
                    break
            else:
                continue
            break
    try:
        records = asyncio.run(
            rattler.solve_with_sparse_repodata(
                list(case.get("specs") or []),
                sources,
                virtual_packages=vps,
                channel_priority=priority,
                locked_packages=locked or None,
                constraints=list(case.get("pins") or []) or None,
                add_pip_as_python_dependency=bool(case.get("add_pip")),
            )
        )
    except Exception as exc:  # rattler raises SolverError (unsat) or InvalidMatchSpecError
        return {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}"[:1500],
            "packages": None,
            "total_s": time.perf_counter() - t0,
        }
    pkgs = sorted(f"{r.name.normalized}-{r.version}-{r.build}" for r in records)
    return {"ok": True, "error": None, "packages": pkgs, "total_s": time.perf_counter() - t0}


# --------------------------------------------------------------------------- comparing
def verdict(case: dict[str, Any], result: dict[str, Any]) -> tuple[bool, str]:
    """Does a solver's result meet the case's expectation? (agrees, why not)"""
    exp = case["expect"]
    if exp.get("unsatisfiable"):
        return (not result["ok"], "" if not result["ok"] else "solved: " + " ".join(result["packages"]))
    if not result["ok"]:
        return False, "failed: " + str(result["error"])[:300]
    got = set(result["packages"])
    strip = {p.split("::")[-1] for p in exp.get("packages") or []}
    incl = {p.split("::")[-1] for p in exp.get("includes") or []}
    excl = {p.split("::")[-1] for p in exp.get("excludes") or []}
    problems = []
    if exp.get("packages") is not None and got != strip:
        problems.append(f"missing {sorted(strip - got)} extra {sorted(got - strip)}")
    if not incl <= got:
        problems.append(f"missing {sorted(incl - got)}")
    if excl & got:
        problems.append(f"has excluded {sorted(excl & got)}")
    if exp.get("count") is not None and len(got) != exp["count"]:
        problems.append(f"{len(got)} packages, expected {exp['count']}")
    return not problems, "; ".join(problems)


def run_cases(args) -> int:
    doc = yaml.safe_load(CASES.read_text())
    cases = doc["cases"] if isinstance(doc, dict) else doc
    results, bad = {}, 0
    for case in cases:
        if args.ids and not fnmatch.fnmatch(case["id"], args.ids):
            continue
        channels = [channel_dir(c) for c in case["channels"]]
        c = solve_conda(case, channels)
        r = solve_rattler(case, channels)
        c_ok, c_why = verdict(case, c)
        r_ok, r_why = verdict(case, r)
        same = (c["ok"] == r["ok"]) and (c["packages"] == r["packages"])
        results[case["id"]] = {
            "conda": c,
            "rattler": r,
            "conda_agrees": c_ok,
            "conda_why": c_why,
            "rattler_agrees": r_ok,
            "rattler_why": r_why,
            "rattler_same_as_conda": same,
        }
        mark = "ok " if c_ok else "BAD"
        if not c_ok and case.get("validated", True):
            bad += 1
        print(f"{mark} {case['id']:<48} conda {c['total_s']:.2f}s {c_why[:150]}")
        print(f"    rattler {'agrees' if r_ok else 'differs'} {r['total_s']:.3f}s {r_why[:150]}")
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"{len(results)} cases, conda contradicts {bad} validated case(s)")
    return 1 if bad else 0


# --------------------------------------------------------------------------- suites
def run_peer(solver: str, problem: dict[str, Any], timeout: float) -> dict[str, Any]:
    platform = problem.get("platform", "linux-64")
    if solver == "libsolv":
        python, script = PEERS / "libsolv-venv" / "bin" / "python", LIBSOLV_SCRIPT
        if not python.exists():
            return {"verdict": "skipped", "total_s": 0.0, "n": 0, "error": f"no {python} (setup_libsolv.sh)"}
    else:
        python, script = PEERS / "venv" / "bin" / "python", PEER_SCRIPT
    cmd = [
        str(python),
        str(script),
        "--solver",
        solver,
        "--platform",
        platform,
        "--channel-priority",
        problem.get("channel_priority", "strict"),
        "--peers",
        str(PEERS),
        "--timeout",
        str(timeout),
    ]
    for ch in problem["channels"]:
        cmd += ["-c", str(channel_dir(ch))]
    virtual = list(problem.get("virtual_packages") or DEFAULT_VIRTUAL.get(platform, []))
    added = list(problem.get("virtual_packages_add") or [])
    replaced = {v.split("=")[0] for v in added}
    virtual = [v for v in virtual if v.split("=")[0] not in replaced] + added
    for vp in virtual:
        cmd += ["--virtual", vp]
    cmd += list(problem["specs"])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        return {"verdict": "timeout", "total_s": time.perf_counter() - t0, "n": 0}
    try:
        out = json.loads(proc.stdout[proc.stdout.find("{") :])
    except ValueError:
        # peer_solve.py lets conda's TimeoutExpired escape; peer_libsolv.py ends on an alarm
        timed_out = "TimeoutExpired" in proc.stderr or proc.returncode == -14  # -SIGALRM
        v = "timeout" if timed_out else "error"
        return {"verdict": v, "total_s": time.perf_counter() - t0, "n": 0, "error": proc.stderr[-500:]}
    error = str(out.get("error"))
    v = "sat" if out["ok"] else ("error" if "Traceback" in error else "unsat")
    if solver == "libsolv" and not out["ok"] and any(m in error for m in LIBSOLV_REFUSALS):
        v = "skipped"
    return {
        "verdict": v,
        "total_s": out["timings"]["total_s"],
        "solve_s": out["timings"].get("solve_s"),
        "n": len(out["packages"]),
        "packages": sorted(f"{p['name']}-{p['version']}-{p['build']}" for p in out["packages"]),
        "error": out.get("error"),
    }


def peer_note(res: dict[str, dict[str, Any]], timeout: float) -> str:
    """One problem's ``peers:`` note from each peer's result."""
    parts = []
    for solver, r in res.items():
        if r["verdict"] == "timeout":
            parts.append(f"{solver} timeout (>{timeout:.0f} s)")
        elif r["verdict"] == "skipped":
            why = str(r.get("error") or "")
            why = why.split(": ", 1)[-1] if why.startswith("spec ") else why
            parts.append(f"{solver} skipped ({why[:80]})")
        elif r["verdict"] == "error":
            parts.append(f"{solver} error")
        else:
            solve = f" [solve {r['solve_s']:.2f}s]" if r.get("solve_s") is not None else ""
            parts.append(f"{solver} {r['verdict']} {r['total_s']:.2f}s{solve} ({r['n']} pkgs)")
    sat = {s: r["packages"] for s, r in res.items() if r["verdict"] == "sat"}
    if len(sat) >= 2:
        groups: list[list[str]] = []
        for solver, pkgs in sat.items():
            for group in groups:
                if sat[group[0]] == pkgs:
                    group.append(solver)
                    break
            else:
                groups.append([solver])
        if len(groups) == 1:  # naming the peers when some did not answer sat
            parts.append("same set" if len(sat) == len(res) else f"same set ({'='.join(groups[0])})")
        else:
            parts.append("different sets: " + " | ".join("=".join(g) for g in groups))
    return "; ".join(parts)


def run_suite(args) -> int:
    path = Path(args.suite)
    if not path.exists():
        path = Path(__file__).resolve().parent / f"{args.suite}.yaml"
    doc = yaml.safe_load(path.read_text())
    defaults = doc.get("defaults", {})
    notes, mismatched = {}, 0
    for raw in doc["problems"]:
        problem = {**defaults, **raw}
        if args.problems and not fnmatch.fnmatch(problem["name"], args.problems):
            continue
        res = {}
        for solver in args.solvers.split(","):  # one at a time: the timings must not share the cores
            res[solver] = run_peer(solver, problem, args.timeout)
        note = peer_note(res, args.timeout)
        expect = problem.get("expect")
        answered = [r["verdict"] for r in res.values() if r["verdict"] not in ("skipped", "timeout")]
        flag = "" if all(v == expect for v in answered) else "  <-- differs from expect"
        mismatched += bool(flag)
        notes[problem["name"]] = note
        print(f"{problem['name']:<36} {note}{flag}")
        sys.stdout.flush()
    if args.write:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"\s*- \{name: ([^,]+),", line)
            if m and m.group(1) in notes:
                line = re.sub(r', peers: "[^"]*"', "", line.rstrip())
                assert line.endswith("}"), line
                lines[i] = line[:-1] + f', peers: "{notes[m.group(1)]}"}}'
        path.write_text("\n".join(lines) + "\n")
    print(f"{len(notes)} problems, {mismatched} where a peer differs from expect")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cases", help="check tests/data/conda_cases.yaml against conda and rattler")
    c.add_argument("--ids", help="glob over case ids")
    c.add_argument("--json", help="write every result here")
    s = sub.add_parser("suite", help="run the peers (conda, rattler, libsolv) over a benchmark suite")
    s.add_argument("suite", help="suite name in benchmarks/suites or a YAML path")
    s.add_argument("--problems", help="glob over problem names")
    s.add_argument("--solvers", default=",".join(SUITE_PEERS), help="comma list of peers (default: all three)")
    s.add_argument("--timeout", type=float, default=600)
    s.add_argument("--write", action="store_true", help="store the verdicts in each problem's peers: note")
    args = ap.parse_args()
    if not PEERS.joinpath("venv").exists() or not CHANNELS.is_dir():
        print(f"peers ({PEERS}) or shared data ({CHANNELS}) missing", file=sys.stderr)
        return 2
    return run_cases(args) if args.cmd == "cases" else run_suite(args)


if __name__ == "__main__":
    sys.exit(main())
