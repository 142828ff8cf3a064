"""Markdown tables and PNG plots from a results.json of the benchmark runner."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any


def _index(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["problem"], r["solver"]): r for r in results["runs"]}


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Median ratios against each peer, agreement with conda, verifier failures."""
    runs = _index(results)
    problems = [p["name"] for p in results["problems"]]
    out: dict[str, Any] = {}
    for solver in results["solvers"]:
        if solver in ("conda", "rattler"):
            continue
        entry: dict[str, Any] = {}
        for peer in ("conda", "rattler"):
            ratios, slower = [], []
            for name in problems:
                a, b = runs.get((name, solver)), runs.get((name, peer))
                if a and b and a.get("total_s") and b.get("total_s") and b["status"] in ("ok", "unsat"):
                    ratios.append(b["total_s"] / a["total_s"])
                    if a["total_s"] > b["total_s"]:
                        slower.append(name)
            if ratios:
                entry[f"median_speedup_vs_{peer}"] = round(statistics.median(ratios), 2)
                entry[f"min_speedup_vs_{peer}"] = round(min(ratios), 2)
                entry[f"slower_than_{peer}"] = slower
        same, sat_total, verdicts = 0, 0, 0
        mem_above = []
        for name in problems:
            a, c = runs.get((name, solver)), runs.get((name, "conda"))
            if not a or not c or c["status"] not in ("ok", "unsat") or a["status"] not in ("ok", "unsat"):
                continue
            verdicts += a["status"] == c["status"]
            if c["status"] == "ok":
                sat_total += 1
                same += a["packages"] == c["packages"]
            if a.get("peak_rss_mb") and c.get("peak_rss_mb") and a["peak_rss_mb"] >= c["peak_rss_mb"]:
                mem_above.append(name)
        if sat_total:
            entry["same_packages_as_conda"] = f"{same}/{sat_total}"
            entry["same_verdict_as_conda"] = verdicts
            entry["peak_rss_not_below_conda"] = mem_above
        entry["verifier_failures"] = [
            r["problem"] for r in results["runs"] if r["solver"] == solver and r.get("verified") is False
        ]
        out[solver] = entry
    return out


def markdown(results: dict[str, Any]) -> str:
    runs = _index(results)
    solvers = results["solvers"]
    lines = [
        f"Suite `{results['suite']}`; machine: {results['machine'].get('cpu', '?')}, "
        f"{results['machine'].get('cpus')} CPUs, {results['machine'].get('memory_gb', '?')} GB, "
        f"Python {results['machine'].get('python')}.",
        "",
        "Wall time per solve in seconds (fresh process, median of repeats), peak RSS in MB, verdict; "
        "`=` same package set as conda, `≠` different (details below), `✗` fails the verifier.",
        "",
    ]
    lines.append("| problem | " + " | ".join(solvers) + " |")
    lines.append("|---|" + "---|" * len(solvers))
    diffs = []
    for p in results["problems"]:
        cells = []
        conda = runs.get((p["name"], "conda"))
        for s in solvers:
            r = runs.get((p["name"], s))
            if r is None or r["status"] == "skipped":
                cells.append("skipped")
                continue
            if r["total_s"] is None:
                cells.append(r["status"])
                continue
            mark = ""
            if conda and conda["status"] == "ok" and r["status"] == "ok" and s != "conda":
                mark = " =" if r["packages"] == conda["packages"] else " ≠"
                if r["packages"] != conda["packages"]:
                    only_a = sorted(set(r["packages"]) - set(conda["packages"]))
                    only_c = sorted(set(conda["packages"]) - set(r["packages"]))
                    diffs.append(
                        f"- `{p['name']}` {s}: {', '.join(only_a) or '-'} vs conda: {', '.join(only_c) or '-'}"
                    )
            if r.get("verified") is False:
                mark += " ✗"
            rss = f", {r['peak_rss_mb']:.0f} MB" if r.get("peak_rss_mb") else ""
            verdict = "sat" if r["status"] == "ok" else r["status"]
            cells.append(f"{r['total_s']:.3f}{rss}, {verdict}{mark}")
        lines.append(f"| {p['name']} | " + " | ".join(cells) + " |")
    lines += ["", "Summary:", "", "```", json.dumps(summarize(results), indent=1), "```"]
    if diffs:
        lines += ["", "Package-set differences from conda:", "", *diffs]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    runs = _index(results)
    names = [p["name"] for p in results["problems"]]
    fig, ax = plt.subplots(figsize=(max(8, len(names) * 0.5), 5))
    width = 0.8 / max(1, len(results["solvers"]))
    for i, s in enumerate(results["solvers"]):
        ys = [runs.get((n, s), {}).get("total_s") or 0 for n in names]
        ax.bar([j + i * width for j in range(len(names))], ys, width, label=s)
    ax.set_yscale("log")
    ax.set_ylabel("wall time per solve (s, log)")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(results: dict[str, Any], out_dir: Path) -> None:
    (out_dir / "results.md").write_text(markdown(results))
    plot(results, out_dir / "time.png")


def report_file(out_dir: Path) -> Path:
    """A run's Markdown report: ``results.md`` for a suite, ``report.md`` for scaling runs."""
    return out_dir / "results.md" if (out_dir / "results.md").exists() else out_dir / "report.md"


def embed_in_docs(out_dir: Path, docs: Path) -> None:
    """Replace the block between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` in
    ``docs`` with the directory's report (NAME is the directory's name) and copy its plots to
    ``img/NAME-<plot>.png`` beside ``docs``, so the published numbers are exactly a run's."""
    import re
    import shutil

    name = out_dir.name
    body = report_file(out_dir).read_text().rstrip("\n")
    images = docs.parent / "img"
    for png in sorted(out_dir.glob("*.png")):
        images.mkdir(exist_ok=True)
        target = images / f"{name}-{png.name}" if not png.name.startswith(name) else images / png.name
        shutil.copyfile(png, target)
        body += f"\n\n![{png.stem}]({images.name}/{target.name})"
    text = docs.read_text()
    pattern = re.compile(rf"<!-- results:{re.escape(name)} -->\n.*?<!-- /results:{re.escape(name)} -->", re.S)
    block = f"<!-- results:{name} -->\n{body}\n<!-- /results:{name} -->"
    if not pattern.search(text):
        raise SystemExit(f"{docs}: no <!-- results:{name} --> block to fill")
    docs.write_text(pattern.sub(lambda _: block, text))
