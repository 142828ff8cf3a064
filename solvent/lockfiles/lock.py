"""``solvent lock``: one solve per platform, then explicit files and/or conda-lock.yml.

Every file is written atomically and is a pure function of the inputs and the repodata (no
timestamps inside), so locking twice gives identical bytes. The input hash recorded in each lock
covers channels, specs, pip requirements (with ``-r`` files and index URLs), platform and virtual
packages (``EnvironmentSpec.content_hash``); ``--check`` recomputes it and compares.

The ``pip:`` section is locked after the conda solves (``solvent.lockfiles.pip``): conda-lock.yml
gets ``manager: pip`` entries and each explicit file a ``.pip.txt`` sibling.
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from solvent.atomic import write_atomic
from solvent.errors import InvalidInput, LockfileError, SolventError, Unsatisfiable
from solvent.lockfiles.cuda import LockedPackage, analyze
from solvent.lockfiles.cuda_matrix import explain_cpu_builds
from solvent.lockfiles.envfile import EnvironmentSpec, load_environment
from solvent.lockfiles.pip.output import pip_txt_path, read_input_hash
from solvent.record import PackageRecord


def _solve_platform(job: dict[str, Any]) -> list[PackageRecord]:
    from solvent.api import solve

    return solve(**job).packages


def explicit_path(out_dir: Path, platform: str) -> Path:
    return out_dir / f"conda-{platform}.lock"


def _outputs(args: Any, env: EnvironmentSpec, platforms: list[str]) -> tuple[dict[str, Path], Path | None]:
    fmt = args.format
    out = Path(args.output) if args.output else None
    explicit: dict[str, Path] = {}
    conda_lock = None
    # `--format all -o locks/conda-lock.yml`: the explicit files go beside the named conda-lock.yml
    yml = out is not None and out.suffix in (".yml", ".yaml")
    if fmt in ("explicit", "all"):
        if out is not None and len(platforms) == 1 and fmt == "explicit" and (out.suffix or out.is_file()):
            explicit[platforms[0]] = out
        else:
            base = (out.parent if yml and fmt == "all" else out) if out is not None else Path(".")
            explicit = {p: explicit_path(base, p) for p in platforms}
    if fmt in ("conda-lock", "all"):
        if out is not None and yml:
            conda_lock = out
        else:
            conda_lock = (out or Path(".")) / "conda-lock.yml"
    for path in [*explicit.values(), *([conda_lock] if conda_lock else [])]:
        _check_writable_dir(path, args.output)
    return explicit, conda_lock


def _check_writable_dir(path: Path, output: str | None) -> None:
    """Fail before solving when an output's directory is blocked by a file (``-o FILE`` for many files)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            raise InvalidInput(
                f"-o {output}: {parent} is a file, but this lock writes {path.name} into a directory of "
                "that name; pass a directory (or a file name ending in .lock for one explicit file, "
                ".yml for conda-lock.yml alone)"
            )
    if path.is_dir():
        raise InvalidInput(f"-o {output}: {path} is a directory; pass a file name or its parent directory")


def _check(explicit: dict[str, Path], conda_lock: Path | None, hashes: dict[str, str], has_pip: bool) -> int:
    from solvent.lockfiles.conda_lock import read_conda_lock
    from solvent.lockfiles.explicit import parse_explicit

    problems = []
    for platform, path in explicit.items():
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        found = parse_explicit(path.read_text(), str(path)).input_hash
        if found != hashes[platform]:
            problems.append(f"{path}: input hash {found} does not match the environment ({hashes[platform]})")
        if has_pip:
            pip_txt = pip_txt_path(path)
            if not pip_txt.exists():
                problems.append(f"{pip_txt}: missing")
            elif read_input_hash(pip_txt.read_text()) != hashes[platform]:
                problems.append(f"{pip_txt}: input hash does not match the environment")
    if conda_lock is not None:
        if not conda_lock.exists():
            problems.append(f"{conda_lock}: missing")
        else:
            doc = read_conda_lock(conda_lock.read_text(), str(conda_lock))
            stored = (doc.get("metadata") or {}).get("content_hash") or {}
            for platform, h in hashes.items():
                if stored.get(platform) != h:
                    problems.append(f"{conda_lock}: content hash for {platform} does not match the environment")
    if problems:
        sys.stderr.write("lockfile is stale:\n" + "\n".join(f"  {p}" for p in problems) + "\n")
        return 1
    print("lockfile is up to date")
    return 0


def run_lock(args: Any) -> int:
    from solvent.lockfiles.pip.lock import lock_pip, plan
    from solvent.platforms import native_platform, validate_platform
    from solvent.virtual_packages import describe, resolve_virtual_packages

    env = load_environment(args.envfile)
    pip = plan(env, args)
    platforms = [validate_platform(p) for p in (args.platform or env.platforms or [native_platform()])]
    platforms = sorted(dict.fromkeys(platforms))
    channels = list(args.channel) or env.channels
    if not env.specs:
        raise InvalidInput(f"{args.envfile}: no conda dependencies to lock")
    virtual = {
        p: resolve_virtual_packages(p, [*env.virtual_packages.get(p, []), *args.virtual_package]) for p in platforms
    }
    pip_doc = pip.hash_document() if pip is not None else None
    hashes = {p: env.content_hash(p, describe(virtual[p]), pip_doc) for p in platforms}
    explicit, conda_lock = _outputs(args, env, platforms)
    if args.check:
        return _check(explicit, conda_lock, hashes, pip is not None)

    jobs = {
        p: dict(
            specs=env.specs,
            channels=channels,
            platform=p,
            virtual_packages=virtual[p],
            channel_priority=args.channel_priority,
            backend=args.backend,
            policy=args.policy,
            offline=args.offline,
            cache_dir=args.cache_dir,
            exclude_newer=args.exclude_newer,
            add_pip_as_python_dependency=args.add_pip_as_python_dependency,
        )
        for p in platforms
    }
    show = not (args.quiet or args.json) and sys.stderr.isatty()
    solutions: dict[str, list[PackageRecord]] = {}
    if len(platforms) > 1:
        # The solver is pure Python: platforms solve in parallel processes, not threads.
        with ProcessPoolExecutor(max_workers=min(len(platforms), 4)) as pool:
            futures = {p: pool.submit(_solve_platform, job) for p, job in jobs.items()}
            for p in platforms:
                solutions[p] = futures[p].result()
                if show:
                    sys.stderr.write(f"solvent: locked {p} ({len(solutions[p])} packages)\n")
    else:
        for p in platforms:
            solutions[p] = _solve_platform(jobs[p])

    reports = {}
    for p in platforms:
        target = next((r.version for r in virtual[p] if r.name == "__cuda"), None)
        pkgs = [LockedPackage(r.name, r.version, r.build, list(r.depends), list(r.constrains)) for r in solutions[p]]
        report = analyze(pkgs, p, target, env.specs)
        explain_cpu_builds(jobs[p], report, p)
        reports[p] = report
        for warning in report.warnings:
            sys.stderr.write(f"solvent: warning ({p}): {warning}\n")
        for name, reason in report.cpu_reasons.items():
            sys.stderr.write(f"solvent: note ({p}): {name} is a CPU build: {reason}\n")
        if args.require_cuda and (report.cpu_frameworks or not report.target_cuda):
            _explain_cpu(jobs[p], report, p)

    pip_locked: dict[str, list[Any]] = {}
    index_urls: list[str] = []
    if pip is not None:
        pip_locked = lock_pip(
            pip, solutions, virtual, cache_dir=args.cache_dir, offline=args.offline, show_progress=show
        )
        index_urls = pip.inputs.index_urls
    written = _write(env, platforms, channels, solutions, hashes, explicit, conda_lock, reports, pip_locked, index_urls)
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "ok": True,
                    "written": [str(w) for w in written],
                    "cuda": {p: r.to_dict() for p, r in reports.items()},
                    "pip": {p: [f"{x.name}=={x.version}" for x in locked] for p, locked in sorted(pip_locked.items())},
                },
                indent=1,
            )
        )
    else:
        for w in written:
            print(f"wrote {w}")
    return 0


def _explain_cpu(job: dict[str, Any], report: Any, platform: str) -> None:
    """--require-cuda: say which constraint forces the CPU build, by asking for the CUDA one."""
    from solvent.api import solve

    cpu = [fw["name"] for fw in report.frameworks if fw["variant"] == "cpu"]
    if not report.target_cuda:
        raise LockfileError(
            f"--require-cuda: the target {platform} has no __cuda virtual package; "
            "pass --virtual-package __cuda=VERSION or set it in x-solvent"
        )
    forced = dict(job, specs=[*job["specs"], *(f"{n}[build=*cuda*]" for n in cpu)])
    try:
        solve(**forced)
    except Unsatisfiable as exc:
        raise Unsatisfiable(
            f"--require-cuda: {', '.join(cpu)} can only be a CPU build on {platform}, because:\n{exc}",
            exc.conflict,
        ) from None
    except SolventError:
        raise
    raise LockfileError(
        f"--require-cuda: {', '.join(cpu)} resolved to a CPU build on {platform} although a "
        "CUDA build is feasible; request it explicitly (e.g. pytorch=*=*cuda*)"
    )


def _write(
    env: EnvironmentSpec,
    platforms: Sequence[str],
    channels: Sequence[str],
    solutions: dict[str, list[PackageRecord]],
    hashes: dict[str, str],
    explicit: dict[str, Path],
    conda_lock: Path | None,
    reports: dict[str, Any],
    pip_locked: dict[str, list[Any]],
    index_urls: Sequence[str],
) -> list[Path]:
    from solvent.lockfiles.conda_lock import render_conda_lock
    from solvent.lockfiles.explicit import render_explicit
    from solvent.lockfiles.pip.output import render_pip_txt

    written = []
    for p, path in explicit.items():
        pip_txt = pip_txt_path(path) if p in pip_locked else None
        text = render_explicit(solutions[p], p, hashes[p], pip_txt.name if pip_txt else None)
        extra = ""
        if reports[p].target_cuda:
            extra += f"# target_cuda: {reports[p].target_cuda}\n"
        if reports[p].min_driver:
            extra += f"# min_cuda_driver: {reports[p].min_driver}\n"
        for name, reason in sorted(reports[p].cpu_reasons.items()):
            extra += f"# cpu_build: {name}: {reason}\n"
        text = text.replace("@EXPLICIT\n", f"{extra}@EXPLICIT\n", 1)
        written.append(write_atomic(path, text))
        if pip_txt is not None:
            written.append(write_atomic(pip_txt, render_pip_txt(pip_locked[p], p, hashes[p], index_urls)))
    if conda_lock is not None:
        text = render_conda_lock(solutions, hashes, channels, [Path(env.source).name], env.pip, pip_locked)
        cuda = {f"target_cuda.{p}": r.target_cuda for p, r in reports.items() if r.target_cuda}
        cuda.update({f"min_cuda_driver.{p}": r.min_driver for p, r in reports.items() if r.min_driver})
        cuda.update({f"cpu_build.{p}.{n}": why for p, r in reports.items() for n, why in sorted(r.cpu_reasons.items())})
        if cuda:
            import yaml

            doc = yaml.safe_load(text)
            doc["metadata"].setdefault("custom_metadata", {}).update(cuda)
            text = (
                text.split("\n", 1)[0]
                + "\n"
                + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)
            )
        written.append(write_atomic(conda_lock, text))
    return written
