"""``python -m benchmarks run|report``: see docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a suite")
    run.add_argument("--suite", default="smoke", help="suite name in benchmarks/suites or a YAML path")
    run.add_argument(
        "--solvers",
        default="solvent",
        help="comma list: solvent,solvent-greedy,solvent-pycosat,solvent-resolvelib,conda,rattler",
    )
    run.add_argument("--repeat", type=int, default=1)
    run.add_argument("--timeout", type=float, default=300.0)
    run.add_argument("--problems", help="glob over problem names")
    run.add_argument("--out", help="output directory (default benchmarks/results/<suite>)")
    rep = sub.add_parser("report", help="rewrite results.md and plots from results.json")
    rep.add_argument("dir")
    args = ap.parse_args()
    from benchmarks.report import write_report
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
        write_report(json.loads((d / "results.json").read_text()), d)
        print((d / "results.md").read_text())


if __name__ == "__main__":
    main()
