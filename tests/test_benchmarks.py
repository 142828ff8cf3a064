"""The benchmark runner's smoke path (solvent only), as CI runs it."""

from __future__ import annotations

import json
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
