"""The ``solvent`` command: solve, lock, fetch, explain-cuda, cuda-matrix, info.

Exit codes: 0 success; 1 unsatisfiable (or ``lock --check`` found the lockfile stale); 2 bad input
(a malformed spec, unknown platform or channel, bad file); 3 network or cache failure. A
``SolventError`` never shows a traceback: its message goes to stderr (or into the JSON object with
``--json``). Heavy modules are imported inside the commands so ``solvent --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from solvent import __version__
from solvent.errors import InvalidInput, SolventError

if TYPE_CHECKING:
    from solvent.record import PackageRecord

EXAMPLES_SOLVE = """examples:
  solvent solve -c conda-forge python=3.11 numpy
  solvent solve -c pytorch -c conda-forge -p linux-64 --virtual-package __cuda=12.2 pytorch
  solvent solve -c ./my-channel --json 'numpy >=1.26'
  solvent solve -c conda-forge --installed env.txt --update-modifier freeze-installed scipy
"""
EXAMPLES_LOCK = """examples:
  solvent lock environment.yml
  solvent lock environment.yml -p linux-64 -p osx-arm64 --format all -o locks/
  solvent lock environment.yml --virtual-package __cuda=12.2 --require-cuda
  solvent lock environment.yml --check
"""
EXAMPLES_MATRIX = """examples:
  solvent cuda-matrix environment.yml -p linux-64
  solvent cuda-matrix environment.yml --drivers none,11.8,12.4,12.9 --json
"""
EXAMPLES_FETCH = """examples:
  solvent fetch -c conda-forge -p linux-64
  solvent fetch -c https://conda.anaconda.org/pytorch -p linux-64 -p osx-arm64 --json
"""


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", help="repodata cache directory (default: $SOLVENT_CACHE_DIR or the user cache)")
    p.add_argument("--offline", action="store_true", help="use only the cache (also SOLVENT_OFFLINE=1)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _add_solve_options(p: argparse.ArgumentParser, many_platforms: bool = False) -> None:
    p.add_argument("-c", "--channel", action="append", default=[], help="channel (repeatable; first = highest)")
    if many_platforms:
        p.add_argument("-p", "--platform", action="append", default=[], help="target platform (repeatable)")
    else:
        p.add_argument("-p", "--platform", help="target platform, e.g. linux-64 (default: this machine's)")
    p.add_argument(
        "--virtual-package",
        action="append",
        default=[],
        metavar="NAME=VERSION[=BUILD]",
        help="set a virtual package of the target (repeatable); NAME= removes one",
    )
    p.add_argument("--channel-priority", choices=["strict", "flexible", "disabled"], default="flexible")
    p.add_argument("--backend", choices=["cdcl", "pycosat", "resolvelib"], default="cdcl")
    p.add_argument("--policy", choices=["classic", "greedy"], default="classic")
    p.add_argument("--exclude-newer", metavar="DATE", help="ignore records published after DATE (ISO date)")
    p.add_argument(
        "--add-pip-as-python-dependency",
        action="store_true",
        help="make pip a dependency of python, as conda does by default (off here, like rattler)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="solvent",
        description="A pure-Python conda dependency solver.",
        epilog="exit codes: 0 ok, 1 unsatisfiable / check failed, 2 bad input, 3 network or cache",
    )
    parser.add_argument("--version", action="version", version=f"solvent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    solve = sub.add_parser(
        "solve",
        help="solve specs against channels",
        epilog=EXAMPLES_SOLVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_solve_options(solve)
    solve.add_argument(
        "--installed", metavar="FILE", help="existing environment: explicit file, conda-meta dir, or dist lines"
    )
    solve.add_argument("--history", action="append", default=[], metavar="SPEC", help="spec asked for earlier")
    solve.add_argument("--pin", action="append", default=[], metavar="SPEC", help="pinned spec (repeatable)")
    solve.add_argument(
        "--update-modifier",
        choices=["freeze-installed", "update-specs", "update-deps", "update-all", "specs-satisfied-skip-solve"],
        default="update-specs",
    )
    solve.add_argument("--file", action="append", default=[], metavar="FILE", help="read specs from a file")
    _add_common(solve)
    solve.add_argument("specs", nargs="*", metavar="SPEC")

    lock = sub.add_parser(
        "lock",
        help="lock an environment file",
        epilog=EXAMPLES_LOCK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lock.add_argument("envfile", help="environment.yml or a spec list file")
    _add_solve_options(lock, many_platforms=True)
    lock.add_argument("--format", choices=["explicit", "conda-lock", "all"], default="explicit")
    lock.add_argument("-o", "--output", help="output file (one platform) or directory")
    lock.add_argument("--check", action="store_true", help="exit 1 if the existing lockfile no longer matches")
    lock.add_argument("--require-cuda", action="store_true", help="fail if a CUDA build cannot be used")
    lock.add_argument(
        "--pypi-url",
        action="append",
        default=[],
        metavar="URL",
        help="package index for the pip: section (repeatable; first = index, the rest extra indexes; "
        "default: --index-url in the file, $PIP_INDEX_URL, https://pypi.org/simple)",
    )
    lock.add_argument(
        "--pypi-mapping",
        metavar="FILE",
        help="YAML or JSON {conda_name: pypi_name}: conda packages that install a differently named PyPI project",
    )
    _add_common(lock)

    fetch = sub.add_parser(
        "fetch",
        help="download repodata into the cache",
        epilog=EXAMPLES_FETCH,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("-c", "--channel", action="append", default=[], required=True)
    fetch.add_argument("-p", "--platform", action="append", default=[])
    _add_common(fetch)

    matrix = sub.add_parser(
        "cuda-matrix",
        help="solve an environment once per CUDA driver version and tabulate what each gets",
        epilog=EXAMPLES_MATRIX,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    matrix.add_argument("envfile", help="environment.yml or a spec list file")
    _add_solve_options(matrix, many_platforms=True)
    matrix.add_argument(
        "--drivers",
        default="none,11.2,11.8,12.1,12.4,12.9,13.0",
        metavar="LIST",
        help="comma-separated __cuda versions, 'none' for no driver (default: %(default)s)",
    )
    matrix.add_argument("--jobs", type=int, default=None, help="parallel solves (default: one per CPU)")
    _add_common(matrix)

    explain = sub.add_parser("explain-cuda", help="explain the CUDA choices of a lockfile")
    explain.add_argument("lockfile")
    explain.add_argument("--json", action="store_true")

    info = sub.add_parser("info", help="cache location, platform and detected virtual packages")
    info.add_argument("--json", action="store_true")
    return parser


# -- helpers -------------------------------------------------------------------------------------


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=1, sort_keys=False) + "\n")


def _virtual(platform: str, flags: Sequence[str]) -> list[PackageRecord]:
    from solvent.virtual_packages import resolve_virtual_packages

    return resolve_virtual_packages(platform, list(flags))


def read_spec_file(path: str) -> list[str]:
    """Specs one per line (``requirements.txt`` style); ``#`` comments and ``@EXPLICIT`` files refused."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read spec file {path}: {exc.strerror}") from None
    specs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line == "@EXPLICIT":
            raise InvalidInput(f"{path} is an explicit lockfile, not a spec list")
        specs.append(line)
    return specs


def load_installed(path: str, index: Any) -> list[PackageRecord]:
    """An existing environment from an explicit file, a conda-meta directory or dist lines."""
    from solvent.record import PackageRecord

    p = Path(path)
    out: list[PackageRecord] = []
    if p.is_dir():
        meta = p / "conda-meta" if (p / "conda-meta").is_dir() else p
        for f in sorted(meta.glob("*.json")):
            try:
                entry = json.loads(f.read_text())
                fn = entry.get("fn") or f.name[: -len(".json")] + ".tar.bz2"
                found = _lookup(index, entry["name"], str(entry["version"]), entry.get("build", ""))
                out.append(found or PackageRecord.from_repodata(fn, entry, channel=str(entry.get("channel", ""))))
            except (ValueError, KeyError) as exc:
                raise InvalidInput(f"{f}: not a conda-meta record ({exc})") from None
        return out
    try:
        lines = p.read_text().splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read installed file {path}: {exc.strerror}") from None
    for lineno, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("@"):
            continue
        channel = None
        if "://" in line:
            fn = line.rsplit("/", 1)[-1]
            stem = fn[: -len(".tar.bz2")] if fn.endswith(".tar.bz2") else fn.rsplit(".", 1)[0]
        else:
            if "::" in line:
                channel, _, line = line.rpartition("::")
            stem = line
        parts = stem.rsplit("-", 2)
        if len(parts) != 3:
            raise InvalidInput(f"{path}:{lineno}: expected NAME-VERSION-BUILD, got {raw.strip()!r}")
        record = _lookup(index, parts[0], parts[1], parts[2], channel=channel)
        if record is None:
            raise InvalidInput(f"{path}:{lineno}: {stem} is in none of the channels")
        out.append(record)
    return out


def _lookup(index: Any, name: str, version: str, build: str, channel: str | None = None) -> PackageRecord | None:
    for record in index.records(name):
        same_channel = channel is None or record.channel.endswith(channel.split("/")[0])
        if record.version == version and record.build == build and same_channel:
            return record
    return None


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


# -- commands ------------------------------------------------------------------------------------


def cmd_solve(args: argparse.Namespace) -> int:
    from solvent.api import solve
    from solvent.channels.index import ChannelIndex
    from solvent.platforms import native_platform, validate_platform

    specs = list(args.specs)
    for f in args.file:
        specs += read_spec_file(f)
    if not specs:
        raise InvalidInput("nothing to solve: give at least one SPEC (or --file)")
    if not args.channel:
        raise InvalidInput("no channels: pass at least one -c CHANNEL")
    platform = validate_platform(args.platform or native_platform())
    virtual = _virtual(platform, args.virtual_package)
    index = ChannelIndex(
        args.channel,
        platform,
        cache_dir=args.cache_dir,
        offline=args.offline or None,
        quiet=args.quiet or args.json or not sys.stderr.isatty(),
    )
    installed = load_installed(args.installed, index) if args.installed else []
    sol = solve(
        specs,
        platform=platform,
        virtual_packages=virtual,
        channel_priority=args.channel_priority,
        backend=args.backend,
        policy=args.policy,
        installed=installed,
        history=args.history,
        pins=args.pin,
        update_modifier=args.update_modifier,
        exclude_newer=args.exclude_newer,
        source=index,
        add_pip_as_python_dependency=args.add_pip_as_python_dependency,
    )
    if args.json:
        _emit(sol.to_dict())
        return 0
    rows = [(r.name, r.version, r.build, r.channel) for r in sol.packages]
    print(_table(rows, ("name", "version", "build", "channel")))
    print(
        f"\n{len(rows)} packages for {platform} in {sol.timings['load_s'] + sol.timings['solve_s']:.2f} s "
        f"(load {sol.timings['load_s']:.2f} s, solve {sol.timings['solve_s']:.2f} s)"
    )
    if sol.stats is not None and not sol.stats.optimal:
        print(
            "note: the search for conda's exact choice stopped at its conflict budget; every package "
            "above is valid, but some may differ from conda's preferred versions",
            file=sys.stderr,
        )
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from solvent.channels.index import ChannelIndex
    from solvent.platforms import native_platform, validate_platform

    platforms = [validate_platform(p) for p in (args.platform or [native_platform()])]
    report = []
    for platform in platforms:
        with ChannelIndex(
            args.channel,
            platform,
            cache_dir=args.cache_dir,
            offline=args.offline or None,
            quiet=args.quiet or args.json or not sys.stderr.isatty(),
        ) as index:
            index.load()
            for result in index.results:
                report.append({"channel": str(result.channel), "subdir": result.subdir, "status": result.status})
    if args.json:
        _emit({"ok": True, "fetched": report})
    else:
        print(_table([(r["channel"], r["subdir"], r["status"]) for r in report], ("channel", "subdir", "status")))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from solvent.channels.cache import default_cache_dir
    from solvent.platforms import native_platform
    from solvent.virtual_packages import describe, describe_cuda_driver, detect_virtual_packages

    data = {
        "solvent_version": __version__,
        "python": sys.version.split()[0],
        "platform": native_platform(),
        "cache_dir": str(default_cache_dir()),
        "offline": os.environ.get("SOLVENT_OFFLINE", "") not in ("", "0"),
        "virtual_packages": describe(detect_virtual_packages()),
        "cuda_driver": describe_cuda_driver(),
    }
    if args.json:
        _emit(data)
    else:
        for key, value in data.items():
            print(f"{key:>17}: {', '.join(value) if isinstance(value, list) else value}")
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    from solvent.lockfiles.lock import run_lock

    return run_lock(args)


def cmd_explain_cuda(args: argparse.Namespace) -> int:
    from solvent.lockfiles.cuda import run_explain_cuda

    return run_explain_cuda(args)


def cmd_cuda_matrix(args: argparse.Namespace) -> int:
    from solvent.lockfiles.cuda_matrix import run_cuda_matrix

    return run_cuda_matrix(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "solve": cmd_solve,
    "fetch": cmd_fetch,
    "info": cmd_info,
    "lock": cmd_lock,
    "explain-cuda": cmd_explain_cuda,
    "cuda-matrix": cmd_cuda_matrix,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except SolventError as exc:
        if getattr(args, "json", False):
            error: dict[str, Any] = {"kind": exc.kind, "message": str(exc)}
            conflict = getattr(exc, "conflict", None)
            if conflict is not None and hasattr(conflict, "to_dict"):
                error["conflict"] = conflict.to_dict()
            _emit({"ok": False, "error": error})
        else:
            sys.stderr.write(f"solvent: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("solvent: interrupted\n")
        return 130


def console_main() -> int:
    """The ``solvent`` command: :func:`main`, then the process's exit made cheap.

    On exit the interpreter runs one last cycle collection over every object still alive, and a
    solve leaves a few hundred thousand (records, specs, clauses): 4-12 ms of a command that
    takes 0.06-0.15 s in all. Nothing outlives the process, so those objects are moved out of
    the collector's reach first (``gc.freeze``); atexit handlers and the flushing of streams run
    as usual. Only the command does this: ``main()`` is also called in a long-lived process
    (tests, a program embedding the CLI), where frozen objects would keep garbage cycles alive.
    """
    code = main()
    import gc

    gc.freeze()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console_main())
