"""``python -m benchmarks run|report|scale|realscale``: see docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a suite")
    run.add_argument(
        "--suite",
        default="smoke",
        help="suite name in benchmarks/suites (smoke, real, large) or a YAML path",
    )
    run.add_argument(
        "--solvers",
        default="solvent",
        help="comma list: solvent,solvent-greedy,solvent-pycosat,solvent-resolvelib,conda,rattler,libsolv "
        "(the peers come from ../shared/peers: conda's classic solver, rattler, libsolv as conda's default "
        "solver drives it; a peer that is not set up is reported as skipped)",
    )
    run.add_argument("--repeat", type=int, default=1)
    run.add_argument("--timeout", type=float, default=300.0)
    run.add_argument("--problems", help="glob over problem names")
    run.add_argument("--out", help="output directory (default benchmarks/results/<suite>)")
    rep = sub.add_parser("report", help="rewrite results.md and plots from results.json")
    rep.add_argument("dir")
    rep.add_argument(
        "--docs",
        metavar="MARKDOWN",
        help="also put the report between <!-- results:NAME --> markers in this file (NAME: the "
        "results directory's name) and copy its plots to img/ beside it",
    )
    sc = sub.add_parser("scale", help="synthetic scaling families: channel size, number of specs")
    sc.add_argument("--family", choices=["size", "specs"], default="size")
    sc.add_argument("--solvers", default="solvent,rattler,conda", help="comma list, as for run (libsolv too)")
    sc.add_argument("--points", help="comma list: names per channel (size) or requested names (specs)")
    sc.add_argument("--repeat", type=int, default=1)
    sc.add_argument("--timeout", type=float, default=600.0)
    sc.add_argument("--out")
    rs = sub.add_parser("realscale", help="real problems against a conda-forge-sized channel")
    rs.add_argument("--records", type=int, default=465_000)
    rs.add_argument("--solvers", default="solvent,rattler,conda", help="comma list, as for run (libsolv too)")
    rs.add_argument("--timeout", type=float, default=1200.0)
    rs.add_argument("--synthetic", type=int, default=0, help="also request N generated names")
    rs.add_argument("--out")
    score = sub.add_parser("score", help="conda's objective vector of every solver's answer to one problem")
    score.add_argument("dir", help="a results directory (with results.json)")
    score.add_argument("problem")
    args = ap.parse_args()
    if args.cmd == "score":
        from benchmarks.score import main as score_main

        score_main(args.dir, args.problem)
        return
    if args.cmd in ("scale", "realscale"):
        from benchmarks import scaling

        solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
        results_dir = Path(__file__).parent / "results"
        if args.cmd == "scale":
            default = "250,1000,4000,16000" if args.family == "size" else "1,2,4,8,16,32"
            points = [int(x) for x in (args.points or default).split(",")]
            result = scaling.scale(args.family, solvers, points, args.repeat, args.timeout)
            out = Path(args.out) if args.out else results_dir / f"scale-{args.family}"
            scaling.write_scaling_report(result, out)
        else:
            result = scaling.realscale(solvers, args.records, args.timeout, args.synthetic)
            out = Path(args.out) if args.out else results_dir / "realscale"
            scaling.write_realscale_report(result, out)
        print((out / "report.md").read_text())
        return
    from benchmarks.report import report_file, write_report
    from benchmarks.runner import run_suite

    if args.cmd == "run":
        out = Path(args.out) if args.out else Path(__file__).parent / "results" / Path(args.suite).stem
        results = run_suite(
            args.suite,
            [s.strip() for s in args.solvers.split(",") if s.strip()],
            repeat=args.repeat,
            timeout=args.timeout,
            problems_glob=args.problems,
            out_dir=out,
        )
        print((out / "results.md").read_text())
        _ = results
    else:
        d = Path(args.dir)
        saved = json.loads((d / "results.json").read_text()) if (d / "results.json").exists() else {}
        if "runs" in saved:
            write_report(saved, d)
        elif saved.get("family") == "realscale":
            from benchmarks import scaling

            scaling.write_realscale_report(saved, d)
        elif saved.get("family") in ("size", "specs"):
            from benchmarks import scaling

            scaling.write_scaling_report(saved, d)
        if args.docs:
            from benchmarks.report import embed_in_docs

            embed_in_docs(d, Path(args.docs))
        print(report_file(d).read_text())


if __name__ == "__main__":
    main()
