"""Markdown tables and PNG plots from a results.json of the benchmark runner."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

PEERS = ("conda", "rattler", "libsolv")
REFERENCES = ("conda", "libsolv")  # whose package sets the others are compared with


def _index(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["problem"], r["solver"]): r for r in results["runs"]}


def _agreement(runs: dict, problems: list[str], solver: str, ref: str) -> tuple[int, int, int, list[str]]:
    """(same package set, problems both solved, same verdict, problems where ``solver`` peaks higher)."""
    same, sat_total, verdicts, mem_above = 0, 0, 0, []
    for name in problems:
        a, c = runs.get((name, solver)), runs.get((name, ref))
        if not a or not c or c["status"] not in ("ok", "unsat") or a["status"] not in ("ok", "unsat"):
            continue
        verdicts += a["status"] == c["status"]
        if c["status"] == "ok":
            sat_total += 1
            same += a["packages"] == c["packages"]
        if a.get("peak_rss_mb") and c.get("peak_rss_mb") and a["peak_rss_mb"] >= c["peak_rss_mb"]:
            mem_above.append(name)
    return same, sat_total, verdicts, mem_above


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per solver (conda, the reference, aside): median and worst wall-time ratios against each peer,
    solve time against rattler's in-process time, agreement with conda and with libsolv, the problems
    where solvent did not prove its answer optimal, verifier failures."""
    runs = _index(results)
    problems = [p["name"] for p in results["problems"]]
    out: dict[str, Any] = {}
    for solver in results["solvers"]:
        if solver == "conda":
            continue
        entry: dict[str, Any] = {}
        for peer in PEERS:
            if peer == solver:
                continue
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
        if solver != "rattler":  # the yardstick: solve time over rattler's in-process time
            ratios = []
            for name in problems:
                a, b = runs.get((name, solver)), runs.get((name, "rattler"))
                if a and b and a.get("solve_s") and b.get("inproc_s") and b["status"] in ("ok", "unsat"):
                    ratios.append(a["solve_s"] / b["inproc_s"])
            if ratios:
                entry["median_solve_over_rattler_inproc"] = round(statistics.median(ratios), 2)
                entry["max_solve_over_rattler_inproc"] = round(max(ratios), 2)
        for ref in REFERENCES:
            if ref == solver:
                continue
            same, sat_total, verdicts, mem_above = _agreement(runs, problems, solver, ref)
            if sat_total:
                entry[f"same_packages_as_{ref}"] = f"{same}/{sat_total}"
                entry[f"same_verdict_as_{ref}"] = verdicts
                if ref == "conda":
                    entry["peak_rss_not_below_conda"] = mem_above
        not_optimal = [r["problem"] for r in results["runs"] if r["solver"] == solver and r.get("optimal") is False]
        if not_optimal or any(r["solver"] == solver and r.get("optimal") for r in results["runs"]):
            entry["not_optimal"] = not_optimal
        entry["verifier_failures"] = [
            r["problem"] for r in results["runs"] if r["solver"] == solver and r.get("verified") is False
        ]
        out[solver] = entry
    return out


def _size(runs: dict, name: str, solvers: list[str]) -> int | None:
    """A problem's environment size: conda's package count, else the first answer's."""
    for s in ["conda", *solvers]:
        r = runs.get((name, s))
        if r and r["status"] == "ok" and r.get("packages"):
            return len(r["packages"])
    return None


def markdown(results: dict[str, Any]) -> str:
    runs = _index(results)
    solvers = results["solvers"]
    lines = [
        f"Suite `{results['suite']}`; machine: {results['machine'].get('cpu', '?')}, "
        f"{results['machine'].get('cpus')} CPUs, {results['machine'].get('memory_gb', '?')} GB, "
        f"Python {results['machine'].get('python')}.",
        "",
        "Wall time per solve in seconds (fresh process, median of repeats), peak RSS in MB, verdict; "
        "`=` same package set as conda, `≠` different (details below), `L=`/`L≠` the same against "
        "libsolv, `✗` fails the verifier, `*` solvent did not prove its answer optimal.",
        "",
    ]
    lines.append("| problem | " + " | ".join(solvers) + " |")
    lines.append("|---|" + "---|" * len(solvers))
    diffs: dict[str, list[str]] = {ref: [] for ref in REFERENCES}
    for p in results["problems"]:
        cells = []
        for s in solvers:
            r = runs.get((p["name"], s))
            if r is None or r["status"] == "skipped":
                cells.append("skipped")
                continue
            if r["total_s"] is None:
                cells.append(r["status"])
                continue
            mark = ""
            for ref, sign in (("conda", ""), ("libsolv", "L")):
                ref_run = runs.get((p["name"], ref))
                if s == ref or not ref_run or ref_run["status"] != "ok" or r["status"] != "ok":
                    continue
                same = r["packages"] == ref_run["packages"]
                mark += f" {sign}{'=' if same else '≠'}"
                if not same and not (ref == "libsolv" and s == "conda"):  # listed once, under conda
                    only_a = sorted(set(r["packages"]) - set(ref_run["packages"]))
                    only_c = sorted(set(ref_run["packages"]) - set(r["packages"]))
                    diffs[ref].append(
                        f"- `{p['name']}` {s}: {', '.join(only_a) or '-'} vs {ref}: {', '.join(only_c) or '-'}"
                    )
            if r.get("verified") is False:
                mark += " ✗"
            if r.get("optimal") is False:
                mark += " *"
            rss = f", {r['peak_rss_mb']:.0f} MB" if r.get("peak_rss_mb") else ""
            verdict = "sat" if r["status"] == "ok" else r["status"]
            cells.append(f"{r['total_s']:.3f}{rss}, {verdict}{mark}")
        lines.append(f"| {p['name']} | " + " | ".join(cells) + " |")
    inproc = [s for s in solvers if any(runs.get((p["name"], s), {}).get("inproc_s") for p in results["problems"])]
    if inproc:
        lines += [
            "",
            "Time inside the solver's process in seconds, interpreter start and imports left out: loading "
            "the channels plus solving, and in brackets the solve alone where the solver reports it "
            "(solvent: its solve; libsolv: libsolv's C solve; rattler loads while it solves). conda's "
            "script times only its whole process.",
            "",
            "| problem | packages | " + " | ".join(inproc) + " |",
            "|---|---|" + "---|" * len(inproc),
        ]
        for p in results["problems"]:
            cells = []
            for s in inproc:
                r = runs.get((p["name"], s)) or {}
                if r.get("inproc_s") is None:
                    cells.append(r.get("status", "-"))
                    continue
                solve = f" ({r['solve_s']:.3f})" if r.get("solve_s") is not None else ""
                cells.append(f"{r['inproc_s']:.3f}{solve}")
            size = _size(runs, p["name"], solvers)
            lines.append(f"| {p['name']} | {size if size is not None else '-'} | " + " | ".join(cells) + " |")
    lines += ["", "Summary:", "", "```", json.dumps(summarize(results), indent=1), "```"]
    for ref in REFERENCES:
        if diffs[ref]:
            lines += ["", f"Package-set differences from {ref}:", "", *diffs[ref]]
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


def plot_size(results: dict[str, Any], path: Path) -> bool:
    """Time against environment size (packages in the answer), one series per solver: wall time of
    the whole process, and the time inside it where the solver reports one."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    runs = _index(results)
    solvers = results["solvers"]
    sizes = {p["name"]: _size(runs, p["name"], solvers) for p in results["problems"]}
    if not any(sizes.values()):
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True)
    colors = {s: f"C{i}" for i, s in enumerate(solvers)}  # one colour per solver in both panels
    for ax, key, title in ((axes[0], "total_s", "whole process"), (axes[1], "inproc_s", "inside the process")):
        for s in solvers:
            pts = sorted(
                (sizes[n], r[key])
                for (n, solver), r in runs.items()
                if solver == s and sizes.get(n) and r.get(key) and r["status"] in ("ok", "unsat")
            )
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], "o", color=colors[s], label=s, alpha=0.75)
        ax.set_yscale("log")
        ax.set_xlabel("packages in the environment")
        ax.set_ylabel("seconds (log)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(results: dict[str, Any], out_dir: Path) -> None:
    (out_dir / "results.md").write_text(markdown(results))
    plot(results, out_dir / "time.png")
    plot_size(results, out_dir / "time-vs-size.png")


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
