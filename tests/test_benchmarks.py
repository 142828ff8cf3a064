"""The benchmark runner's smoke path (solvent only), as CI runs it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks.report import markdown, summarize
from benchmarks.runner import load_suite, run_suite
from tests.conftest import shared_path


def test_smoke_suite_runs_and_reports(tmp_path: Path) -> None:
    shared_path("channels", "conda-forge-py39-2024")
    results = run_suite("smoke", ["solvent", "solvent-greedy"], out_dir=tmp_path, quiet=True)
    runs = results["runs"]
    assert {r["solver"] for r in runs} == {"solvent", "solvent-greedy"}
    expected = {p.name: p.expect for p in load_suite("smoke")}
    for run in runs:
        verdict = "sat" if run["status"] == "ok" else run["status"]
        assert verdict == expected[run["problem"]], run
        if run["status"] == "ok":
            assert run["verified"] is True, run["violations"]
            assert run["packages"]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["machine"]["cpus"]
    table = (tmp_path / "results.md").read_text()
    assert "| cf-py39-linux64 |" in table


def test_missing_peer_is_skipped_not_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.runner as runner

    shared_path("channels", "conda-test-defaults-2016")
    monkeypatch.setattr(runner, "PEERS", tmp_path / "no-peers")
    results = run_suite("smoke", ["conda"], problems_glob="defaults2016-scipy", quiet=True)
    assert [r["status"] for r in results["runs"]] == ["skipped"]


def test_a_timed_out_solve_is_not_repeated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each repeat of a solve that hit the limit would wait out the whole limit again (the real
    # suite spent 10 minutes on resolvelib's two timeouts of r2018-essentials).
    import benchmarks.runner as runner

    shared_path("channels", "conda-test-defaults-2016")
    calls: list[str] = []

    def fake(problem: runner.Problem, solver: str, timeout: float) -> runner.Run:
        calls.append(solver)
        if solver == "solvent":
            return runner.Run(problem.name, solver, "timeout", total_s=timeout)
        return runner.Run(problem.name, solver, "ok", total_s=0.1 * len(calls))

    monkeypatch.setattr(runner, "solve_once", fake)
    results = run_suite(
        "smoke",
        ["solvent", "solvent-greedy"],
        repeat=3,
        problems_glob="defaults2016-scipy",
        out_dir=tmp_path,
        quiet=True,
    )
    assert calls == ["solvent"] + ["solvent-greedy"] * 3
    assert [(r["solver"], r["status"]) for r in results["runs"]] == [("solvent", "timeout"), ("solvent-greedy", "ok")]


def test_summary_ratios() -> None:
    results = {
        "suite": "t",
        "solvers": ["solvent", "conda"],
        "machine": {},
        "problems": [{"name": "a"}, {"name": "b"}],
        "runs": [
            {
                "problem": "a",
                "solver": "solvent",
                "status": "ok",
                "total_s": 0.5,
                "packages": ["x=1=0"],
                "peak_rss_mb": 50,
            },
            {
                "problem": "a",
                "solver": "conda",
                "status": "ok",
                "total_s": 5.0,
                "packages": ["x=1=0"],
                "peak_rss_mb": 90,
            },
            {
                "problem": "b",
                "solver": "solvent",
                "status": "ok",
                "total_s": 1.0,
                "packages": ["x=2=0"],
                "peak_rss_mb": 50,
            },
            {
                "problem": "b",
                "solver": "conda",
                "status": "ok",
                "total_s": 2.0,
                "packages": ["x=1=0"],
                "peak_rss_mb": 90,
            },
        ],
    }
    s = summarize(results)["solvent"]
    assert s["median_speedup_vs_conda"] == 6.0 and s["min_speedup_vs_conda"] == 2.0
    assert s["same_packages_as_conda"] == "1/2"
    assert "x=2=0" in markdown(results)


def test_summary_agreement_with_libsolv_and_inproc_ratio() -> None:
    def run(problem, solver, packages, **extra):
        return {"problem": problem, "solver": solver, "status": "ok", "total_s": 1.0, "packages": packages, **extra}

    results = {
        "suite": "t",
        "solvers": ["solvent", "conda", "rattler", "libsolv"],
        "machine": {},
        "problems": [{"name": "a"}, {"name": "b"}],
        "runs": [
            run("a", "solvent", ["x=1=0"], solve_s=0.3, inproc_s=0.5, optimal=True),
            run("a", "conda", ["x=1=0"]),
            run("a", "rattler", ["x=1=0"], inproc_s=0.1),
            run("a", "libsolv", ["x=2=0"], solve_s=0.01, inproc_s=0.2),
            run("b", "solvent", ["y=1=0"], solve_s=0.2, inproc_s=0.4, optimal=False),
            run("b", "conda", ["y=2=0"]),
            run("b", "rattler", ["y=1=0"], inproc_s=0.2),
            run("b", "libsolv", ["y=1=0"], solve_s=0.01, inproc_s=0.2),
        ],
    }
    summary = summarize(results)
    s = summary["solvent"]
    assert s["same_packages_as_conda"] == "1/2" and s["same_packages_as_libsolv"] == "1/2"
    assert s["median_solve_over_rattler_inproc"] == 2.0 and s["max_solve_over_rattler_inproc"] == 3.0
    assert s["not_optimal"] == ["b"]
    assert summary["libsolv"]["same_packages_as_conda"] == "0/2"
    assert "same_packages_as_libsolv" not in summary["libsolv"]
    assert "conda" not in summary
    table = markdown(results)
    assert "sat = L≠" in table and "sat ≠ L= *" in table
    assert "Package-set differences from libsolv" in table
    assert "| a | 1 | 0.500 (0.300) |" in table


def test_peer_output_parsing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """libsolv's and rattler's JSON (figures under ``timings``), libsolv's refusals and its alarm."""
    import signal

    import benchmarks.runner as runner

    for sub in ("venv", "libsolv-venv"):
        (tmp_path / sub / "bin").mkdir(parents=True)
        (tmp_path / sub / "bin" / "python").touch()
    monkeypatch.setattr(runner, "PEERS", tmp_path)
    monkeypatch.setattr(runner, "PEER_SCRIPT", tmp_path / "peer_solve.py")
    monkeypatch.setattr(runner, "LIBSOLV_SCRIPT", tmp_path / "peer_libsolv.py")
    (tmp_path / "peer_solve.py").touch()
    (tmp_path / "peer_libsolv.py").touch()
    problem = runner.Problem("p", [str(tmp_path)], "linux-64", ["numpy"], [])
    pkg = {"name": "numpy", "version": "1.0", "build": "0"}
    answers = {
        "libsolv": {"ok": True, "packages": [pkg], "timings": {"total_s": 0.2, "load_s": 0.15, "solve_s": 0.01}},
        "rattler": {"ok": True, "packages": [pkg], "timings": {"total_s": 0.05}},
    }
    seen = []

    def fake_child(cmd, timeout):
        seen.append(cmd)
        return answers[cmd[cmd.index("--solver") + 1]], 0.4, ""

    monkeypatch.setattr(runner, "_run_child", fake_child)
    run = runner.solve_once(problem, "libsolv", 10)
    assert (run.status, run.load_s, run.solve_s, run.inproc_s) == ("ok", 0.15, 0.01, 0.2)
    assert run.packages == ["numpy=1.0=0"] and seen[-1][:2] == [
        str(tmp_path / "libsolv-venv" / "bin" / "python"),
        str(tmp_path / "peer_libsolv.py"),
    ]
    run = runner.solve_once(problem, "rattler", 10)
    assert (run.status, run.solve_s, run.inproc_s) == ("ok", None, 0.05)
    answers["libsolv"] = {
        "ok": False,
        "error": 'spec "c::numpy": channel-qualified or URL specs are not supported by this peer',
        "packages": [],
        "timings": {"total_s": 0.1},
    }
    run = runner.solve_once(problem, "libsolv", 10)
    assert run.status == "skipped" and "not supported" in run.error
    answers["libsolv"] = {
        "ok": False,
        "error": "Problem 1: nothing provides numpy",
        "packages": [],
        "timings": {"total_s": 0.1},
    }
    assert runner.solve_once(problem, "libsolv", 10).status == "unsat"
    monkeypatch.undo()
    # a child that ends on SIGALRM (peer_libsolv.py's --timeout) is a timeout, not an error
    out, _, err = runner._run_child(
        [sys.executable, "-c", f"import os; os.kill(os.getpid(), {int(signal.SIGALRM)})"], 30
    )
    assert out is None and err == "timeout"


def test_large_suite_is_well_formed() -> None:
    from benchmarks.runner import DEFAULT_VIRTUAL

    problems = load_suite("large", include_slow=True)
    assert len(problems) >= 15
    assert len({p.name for p in problems}) == len(problems)
    for p in problems:
        assert p.specs and all(isinstance(s, str) and s for s in p.specs), p.name
        assert p.platform in DEFAULT_VIRTUAL, p.name
        assert p.channels and p.expect in ("sat", "unsat"), p.name
        assert p.channel_priority in ("strict", "flexible", "disabled"), p.name
    assert len({p.platform for p in problems}) >= 5
    shared_path("channels")  # skips the rest when ../shared is absent
    missing = sorted({c for p in problems for c in p.channels if not Path(c).is_dir()})
    assert not missing


def test_synthetic_channel_is_deterministic_and_solvable(tmp_path: Path) -> None:
    from benchmarks.generate import ChannelShape, synthetic_channel, top_names
    from solvent.api import solve
    from solvent.solver.verify import verify_solution

    shape = ChannelShape(names=300, seed=7)
    size = synthetic_channel(shape, tmp_path / "a")
    synthetic_channel(shape, tmp_path / "b")
    first = (tmp_path / "a" / "linux-64" / "repodata.json").read_bytes()
    assert first == (tmp_path / "b" / "linux-64" / "repodata.json").read_bytes()
    other = ChannelShape(names=300, seed=8)
    synthetic_channel(other, tmp_path / "c")
    assert first != (tmp_path / "c" / "linux-64" / "repodata.json").read_bytes()
    assert size["names"] == 301  # plus python
    assert size["records"] > 300
    solved = 0
    for name in top_names(shape, 5):
        try:
            solution = solve([name], [str(tmp_path / "a")], "linux-64", virtual_packages=[], offline=True)
        except Exception as exc:  # a deliberate conflict may make a request unsatisfiable
            assert "Cannot solve" in str(exc) or "cannot" in str(exc).lower()
            continue
        solved += 1
        assert not verify_solution(solution.packages, [name], platform="linux-64")
    assert solved >= 3


def test_growth_exponent() -> None:
    from benchmarks.scaling import _slope

    xs = [1000.0, 2000.0, 4000.0, 8000.0]
    assert _slope(xs, [x * 0.001 for x in xs]) == pytest.approx(1.0)
    assert _slope(xs, [(x / 1000) ** 2 for x in xs]) == pytest.approx(2.0)
    assert _slope(xs[:1], [1.0]) is None


def test_embed_in_docs_replaces_only_its_block(tmp_path: Path) -> None:
    from benchmarks.report import embed_in_docs

    out = tmp_path / "results" / "real"
    out.mkdir(parents=True)
    (out / "results.md").write_text("| a | b |\n|---|---|\n")
    (out / "time.png").write_bytes(b"\x89PNG fake")
    docs = tmp_path / "docs" / "benchmarks.md"
    docs.parent.mkdir()
    docs.write_text(
        "intro\n<!-- results:real -->\nold\n<!-- /results:real -->\n"
        "<!-- results:other -->\nkeep\n<!-- /results:other -->\n"
    )
    embed_in_docs(out, docs)
    text = docs.read_text()
    assert "old" not in text and "keep" in text and "| a | b |" in text
    assert "![time](img/real-time.png)" in text
    assert (docs.parent / "img" / "real-time.png").read_bytes() == b"\x89PNG fake"
    embed_in_docs(out, docs)  # idempotent
    assert docs.read_text() == text
    missing = tmp_path / "results" / "missing"
    missing.mkdir()
    (missing / "report.md").write_text("x\n")
    with pytest.raises(SystemExit, match="no <!-- results:missing -->"):
        embed_in_docs(missing, docs)


def test_solvent_runs_from_a_venv_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like the peers: a venv (so the benchmark interpreter's own ``.pth`` start-up hooks do not
    run in it) from which this repository and the installed packages are still importable."""
    import subprocess

    import benchmarks.runner as runner

    monkeypatch.setattr(runner, "PEERS", tmp_path)
    monkeypatch.delenv("SOLVENT_BENCH_PYTHON", raising=False)
    python = runner.solvent_python()
    assert Path(python).is_relative_to(tmp_path)
    probe = "import sys, msgpack, solvent; print(solvent.__file__); print(sys.prefix != sys.base_prefix)"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path)
    where, in_venv = out.stdout.split()
    assert Path(where).is_relative_to(runner.ROOT) and in_venv == "True"
    assert runner.solvent_python() == python  # made once, then reused
    monkeypatch.setenv("SOLVENT_BENCH_PYTHON", "/opt/some/python")
    assert runner.solvent_python() == "/opt/some/python"


def test_scaling_families_verify_every_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.scaling as scaling
    from benchmarks.runner import Run

    monkeypatch.setattr(scaling, "GENERATED", tmp_path / "generated")
    result = scaling.scale("size", ["solvent"], [40], 1, 60.0)
    (row,) = result["rows"]
    assert row["statuses"] == ["ok"] * 5 and row["not_verified"] == 0 and row["packages"] > 1
    times = row["request_times_s"]
    assert len(times) == 5 and all(t is not None and t > 0 for t in times)
    assert row["time_s"] == sorted(times)[2]  # the median of the five requests

    def bogus(problem: scaling.Problem, solver: str, timeout: float) -> Run:
        return Run(problem.name, solver, "ok", total_s=0.1, packages=["nothere=1=0"])

    import benchmarks.runner as runner

    monkeypatch.setattr(runner, "solve_once", bogus)  # what scaling's repeated solves call
    (row,) = scaling.scale("size", ["solvent"], [40], 1, 60.0)["rows"]
    assert row["not_verified"] == 5
    assert "5 FAILED the verifier" in scaling._cell(row, 60.0)
