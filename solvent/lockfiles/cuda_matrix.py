"""Why a framework is a CPU build, and the driver matrix: one solve per driver version.

A team shipping one environment to machines with different drivers wants to know, before it
ships, what each machine gets: which toolkit, which cuDNN, whether pytorch is a CUDA build or
silently fell back to CPU, and why. The records answer that only when solved against each driver,
so the matrix solves the environment once per ``__cuda`` value (in parallel processes: the solver
is pure Python) and reads each answer back with :func:`solvent.lockfiles.cuda.analyze`.

The reason for a CPU build comes from asking the solver for the CUDA build
(``pytorch[build=*cuda*]``) and keeping the leaves of its explanation: the constraint that fails
(``cuda-version 12.9 constrains __cuda >=12, but the target has __cuda 11.8``), not the whole tree.
"""

from __future__ import annotations

import json
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

from solvent.errors import InvalidInput, SolventError, Unsatisfiable
from solvent.lockfiles.cuda import CUDA_ONLY, CudaReport, LockedPackage, analyze
from solvent.record import PackageRecord
from solvent.version import parse_version

#: Driver versions a matrix covers when none are given: no driver, then the lines people run.
DEFAULT_DRIVERS = ("none", "11.2", "11.8", "12.1", "12.4", "12.9", "13.0")
MAX_REASONS = 2
_SUBJECT = re.compile(r"^.*? (?=requires |constrains |conflicts with |is excluded )")


def short_reason(conflict: object) -> str:
    """The failing constraints of an explanation, most specific first, in one line."""
    leaves: list[str] = []

    def walk(node: Any) -> None:
        children = getattr(node, "children", None) or []
        if not children:
            message = str(getattr(node, "message", node)).strip()
            if message and not message.endswith("(see above)") and not message.startswith("..."):
                leaves.append(message)
        for child in children:
            walk(child)

    for root in getattr(conflict, "roots", None) or []:
        walk(root)
    if not leaves:
        return str(conflict).splitlines()[0]
    # Builds that fail for the same reason differ only in their subject: keep one line per reason.
    by_reason: dict[str, str] = {}
    for message in leaves:
        by_reason.setdefault(_SUBJECT.sub("", message, count=1), message)
    unique = list(by_reason.values())
    # A leaf about the driver is what the question is about: when there is one, it is the answer.
    driver = [m for m in unique if "__cuda" in m]
    unique = driver or unique
    text = "; ".join(unique[:MAX_REASONS])
    if len(unique) > MAX_REASONS:
        text += f" (and {len(unique) - MAX_REASONS} more)"
    return text


def cpu_reason(job: dict[str, Any], name: str, platform: str, cpu_version: str | None = None) -> str:
    """Why ``name`` is a CPU build in the solution of ``job``: the CUDA build's failing constraint."""
    from solvent.api import solve

    if platform.startswith("osx-"):
        return "there are no CUDA builds for macOS"
    forced = dict(job, specs=[*job["specs"], f"{name}[build=*cuda*]"])
    try:
        solution = solve(**forced)
    except Unsatisfiable as exc:
        reason = short_reason(exc.conflict)
        if f"but no {name} matches it" in reason and "__cuda" not in reason:
            return f"the channels have no CUDA build of {name} for {platform}"
        return reason
    chosen = next((r for r in solution.packages if r.name == name), None)
    build = f"{chosen.version} ({chosen.build})" if chosen else "one"
    if chosen is not None and cpu_version and chosen.version_order < parse_version(cpu_version):
        return (
            f"the newest CUDA build that fits is {name} {build}, older than the CPU build's {cpu_version}, "
            f"and conda prefers the newer version; request {name}=*=*cuda* for the CUDA build"
        )
    return (
        f"a CUDA build fits ({name} {build}) but conda's preferences chose the CPU build; "
        f"request {name}=*=*cuda* for it"
    )


def explain_cpu_builds(job: dict[str, Any], report: CudaReport, platform: str) -> None:
    """Fill ``report.cpu_reasons`` for every framework that is a CPU build."""
    for fw in report.frameworks:
        if fw["variant"] == "cpu" and fw["name"] not in CUDA_ONLY:
            report.cpu_reasons[fw["name"]] = cpu_reason(job, fw["name"], platform, fw["version"])


@dataclass
class MatrixRow:
    driver: str | None
    report: CudaReport | None = None
    error: str | None = None
    packages: int = 0
    #: The solution itself, for callers that check or lock it (not part of the JSON).
    records: list[PackageRecord] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "driver": self.driver,
            "ok": self.report is not None,
            "packages": self.packages,
            "error": self.error,
            "report": self.report.to_dict() if self.report else None,
        }


@dataclass
class CudaMatrix:
    platform: str
    specs: list[str]
    rows: list[MatrixRow] = field(default_factory=list)

    @property
    def frameworks(self) -> list[str]:
        names: dict[str, None] = {}
        for row in self.rows:
            for fw in row.report.frameworks if row.report else ():
                names.setdefault(fw["name"], None)
        return list(names)

    def to_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "specs": self.specs, "rows": [r.to_dict() for r in self.rows]}

    def render(self) -> str:
        frameworks = self.frameworks
        header = ["driver", "result", "toolkit", "cuDNN", *frameworks, "min driver", "CPU fallback"]
        table = [header]
        notes: list[str] = []
        for row in self.rows:
            driver = row.driver or "none"
            if row.report is None:
                table.append([driver, "no solution", *["-"] * (len(header) - 2)])
                notes.append(f"{driver}: no solution: {row.error}")
                continue
            rep = row.report
            variants = {fw["name"]: fw for fw in rep.frameworks}
            cells = []
            for name in frameworks:
                fw = variants.get(name)
                if fw is None:
                    cells.append("-")
                elif fw["variant"] == "cuda":
                    cells.append(f"CUDA {fw['cuda']}" if fw.get("cuda") else "CUDA")
                else:
                    cells.append("CPU")
            fallback = [n for n in rep.cpu_frameworks if n in rep.cpu_reasons]
            table.append(
                [
                    driver,
                    f"ok ({row.packages})",
                    f"CUDA {rep.toolkit_line}" if rep.toolkit_line else "-",
                    rep.cudnn_build["version"] if rep.cudnn_build else "-",
                    *cells,
                    rep.min_driver or "-",
                    ", ".join(fallback) if fallback else "no",
                ]
            )
            notes += [f"{driver}: {n} is a CPU build: {rep.cpu_reasons[n]}" for n in fallback]
            notes += [f"{driver}: warning: {w}" for w in rep.warnings if "CPU build" not in w]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        lines = [f"CUDA driver matrix for {self.platform}: {', '.join(self.specs)}"]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
        if notes:
            lines.append("")
            lines += notes
        return "\n".join(lines)


def parse_drivers(text: str) -> list[str | None]:
    """``11.8,12.1,none`` -> ``['11.8', '12.1', None]`` (bad input names the bad entry)."""
    out: list[str | None] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if item.lower() in ("none", "no", "cpu", "-"):
            out.append(None)
            continue
        try:
            parse_version(item)
        except SolventError:
            raise InvalidInput(f"--drivers: {item!r} is not a driver version (e.g. 12.4) or 'none'") from None
        if not item[0].isdigit():
            raise InvalidInput(f"--drivers: {item!r} is not a driver version (e.g. 12.4) or 'none'")
        out.append(item)
    if not out:
        raise InvalidInput("--drivers: give at least one driver version or 'none'")
    return list(dict.fromkeys(out))


def _with_driver(virtual: Sequence[Any], driver: str | None) -> list[Any]:
    from solvent.virtual_packages import parse_virtual_package

    kept = [v for v in virtual if getattr(v, "name", str(v).split("=")[0]) != "__cuda"]
    if driver is not None:
        kept.append(parse_virtual_package(f"__cuda={driver}"))
    return kept


def _row(job: dict[str, Any], driver: str | None) -> MatrixRow:
    from solvent.api import solve

    platform = job["platform"]
    try:
        solution = solve(**job)
    except Unsatisfiable as exc:
        return MatrixRow(driver, error=short_reason(exc.conflict))
    pkgs = [LockedPackage(r.name, r.version, r.build, list(r.depends), list(r.constrains)) for r in solution.packages]
    report = analyze(pkgs, platform, driver, job["specs"])
    explain_cpu_builds(job, report, platform)
    return MatrixRow(driver, report=report, packages=len(pkgs), records=list(solution.packages))


def _row_job(args: tuple[dict[str, Any], str | None]) -> MatrixRow:
    return _row(*args)


def cuda_matrix(job: dict[str, Any], drivers: Sequence[str | None], jobs: int | None = None) -> CudaMatrix:
    """Solve ``job`` (keyword arguments of :func:`solvent.solve`) once per driver version."""
    import os

    virtual = job.get("virtual_packages") or []
    work = [(dict(job, virtual_packages=_with_driver(virtual, d)), d) for d in drivers]
    workers = min(len(work), jobs or os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(_row_job, work))
    else:
        rows = [_row_job(w) for w in work]
    return CudaMatrix(job["platform"], [str(s) for s in job["specs"]], rows)


def run_cuda_matrix(args: Any) -> int:
    """``solvent cuda-matrix ENV --drivers 11.8,12.4,none``: one table per platform."""
    from solvent.lockfiles.envfile import load_environment
    from solvent.platforms import native_platform, validate_platform
    from solvent.virtual_packages import resolve_virtual_packages

    env = load_environment(args.envfile)
    if not env.specs:
        raise InvalidInput(f"{args.envfile}: no dependencies to solve")
    drivers = parse_drivers(args.drivers)
    wanted = args.platform or env.platforms or [native_platform()]
    platforms = sorted(dict.fromkeys(validate_platform(p) for p in wanted))
    matrices = []
    for platform in platforms:
        virtual = resolve_virtual_packages(platform, [*env.virtual_packages.get(platform, []), *args.virtual_package])
        job = dict(
            specs=env.specs,
            channels=list(args.channel) or env.channels,
            platform=platform,
            virtual_packages=virtual,
            channel_priority=args.channel_priority,
            offline=args.offline,
            cache_dir=args.cache_dir,
            exclude_newer=args.exclude_newer,
            backend=args.backend,
            policy=args.policy,
            add_pip_as_python_dependency=args.add_pip_as_python_dependency,
        )
        matrices.append(cuda_matrix(job, [None] if platform.startswith("osx-") else drivers, args.jobs))
    if args.json:
        print(json.dumps({"ok": True, "matrices": [m.to_dict() for m in matrices]}, indent=1))
    else:
        sys.stdout.write("\n\n".join(m.render() for m in matrices) + "\n")
    return 0
