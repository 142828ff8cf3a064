"""pytest-conda-solvers' shared YAML cases, run through a conda solver with file:// channels.

pytest-conda-solvers (PyPI, BSD-3) ships conda's solver tests as YAML plus the channel data they
use, and runs them with a pytest plugin that serves the channels over HTTP (fastapi, uvicorn) and
parses the YAML with msgspec. This small runner needs neither: it writes the channels as
``DIR/<channel>/<subdir>/repodata.json``, reads the YAML with PyYAML and follows the plugin's
``base_tests/install.py`` semantics for the four kinds of case (solve, solve_for_diff,
determine_constricting_specs, unsatisfiable). It runs in its own process, one solver per run:

    python -m tests.conda_solvers_cases --solver solvent [--cases DIR] [--json OUT]

The package is found through ``SOLVENT_CONDA_SOLVERS_DIR``, an importable ``pytest_conda_solvers``
(only located, never imported: its pytest plugin imports conda and fastapi), or
``~/.cache/solvent-peers/pytest-conda-solvers`` (``pip install --no-deps --target`` there; do not
install it into an environment whose pytest runs without conda: pytest would load its plugin).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest.mock import patch

import yaml

from tests import conda_source

ARCH = "linux-64"
CHANNELS = ("channel-1", "channel-2", "channel-4", "channel-5", "channel-6")
SUBDIR_INFO = {"noarch": {}, "linux-64": {"arch": "x86_64", "platform": "linux"}}
DIST_STR_RE = re.compile(
    r"(?P<channel>.*)/(?P<subdir>.*)::(?P<name>.*)-(?P<version>.*)-(?P<build>.*?_?(?P<build_number>[0-9]+))"
)


def package_dir() -> Path | None:
    """The installed ``pytest_conda_solvers`` package directory, or None."""
    candidates = []
    if os.environ.get("SOLVENT_CONDA_SOLVERS_DIR"):
        candidates.append(Path(os.environ["SOLVENT_CONDA_SOLVERS_DIR"]))
    spec = importlib.util.find_spec("pytest_conda_solvers")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))).parent)
    candidates.append(Path.home() / ".cache" / "solvent-peers" / "pytest-conda-solvers")
    for base in candidates:
        pkg = base / "pytest_conda_solvers" if (base / "pytest_conda_solvers").is_dir() else base
        if (pkg / "conda-solver-tests").is_dir() and (pkg / "data").is_dir():
            return pkg
    return fetch_package()


WHEEL = "pytest_conda_solvers-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "43c63e67e39a24717f2159dc88a30b18fb82bab3e44da460ab2a374a9ad01353"


def fetch_package() -> Path | None:
    """The cases and channel data from PyPI's wheel, unpacked into a per-user test cache.

    The wheel cannot be installed here: it requires Python >= 3.12, and its pytest plugin imports
    conda whenever pytest starts. ``pip download`` fetches it through the same index (and
    proxies) as every other test dependency; its hash is checked against the one recorded here,
    so the cases cannot change under the tests. None when the index cannot be reached.
    """
    import hashlib
    import subprocess
    import zipfile

    if os.environ.get("SOLVENT_NO_DOWNLOADS") == "1":
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "solvent-tests" / WHEEL_SHA256[:16]
    pkg = cache / "pytest_conda_solvers"
    if (pkg / "conda-solver-tests").is_dir():
        return pkg
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--python-version", "3.12", "-q", "-d", tmp, "pytest-conda-solvers==0.1.0"]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return None
        wheel = Path(tmp) / WHEEL
        if not wheel.is_file() or hashlib.sha256(wheel.read_bytes()).hexdigest() != WHEEL_SHA256:
            return None
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=_mkdir(cache.parent)))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(staging)
        try:
            staging.rename(cache)  # whole or not at all: another process may have won the race
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return pkg if (pkg / "conda-solver-tests").is_dir() else None


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_cases(pkg: Path) -> list[dict[str, Any]]:
    cases = []
    for path in sorted((pkg / "conda-solver-tests").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["tests"]:
            case["file"] = path.name
            cases.append(case)
    return cases


def write_channels(pkg: Path, dest: Path) -> None:
    """Each test channel as ``dest/<channel>/<subdir>/{repodata,current_repodata}.json``."""
    data = pkg / "data"
    for channel in CHANNELS:
        for subdir, source in (("noarch", "noarch"), (ARCH, "non-noarch")):
            packages_file = data / f"{channel}_{source}.json"
            packages = json.loads(packages_file.read_text()) if packages_file.exists() else {}
            out = dest / channel / subdir
            out.mkdir(parents=True, exist_ok=True)
            doc = json.dumps({"info": {"subdir": subdir, **SUBDIR_INFO[subdir]}, "packages": packages})
            (out / "repodata.json").write_text(doc)
            (out / "current_repodata.json").write_text(doc)
    if (data / "conda_format_repo").is_dir():
        shutil.copytree(data / "conda_format_repo", dest / "conda_format_repo")


def _tuple(value: Any) -> tuple:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _dists(base: str, values: Any) -> list[str]:
    return [f"{base}/{str(v).replace('${{ arch }}', ARCH)}" for v in _tuple(values)]


class Runner:
    """Runs cases with one solver backend; conda is imported by the constructor."""

    def __init__(self, solver: str, channels_dir: Path) -> None:
        from conda.base.context import context

        import solvent.conda_plugin

        context.plugin_manager.register(solvent.conda_plugin)
        self.solver_name = solver
        self.backend = context.plugin_manager.get_solver_backend(solver)
        self.base = channels_dir.as_uri()
        self.channels_dir = channels_dir
        self._parsed: dict[bool, dict[Any, Any]] = {}
        self._packages: dict[Path, dict[str, Any]] = {}

    def _record(self, dist: str) -> Any:
        from conda.models.records import PackageRecord

        fields: dict[str, Any] = DIST_STR_RE.fullmatch(dist).groupdict()  # type: ignore[union-attr]
        fields["build_number"] = int(fields["build_number"])
        channel_name = fields["channel"].rsplit("/", 1)[-1]
        fn = f"{fields['name']}-{fields['version']}-{fields['build']}.tar.bz2"
        fields["channel"] = f"{fields['channel']}/{fields['subdir']}"
        repodata = self.channels_dir / channel_name / fields["subdir"] / "repodata.json"
        if repodata not in self._packages:
            self._packages[repodata] = json.loads(repodata.read_text())["packages"] if repodata.exists() else {}
        index = self._packages[repodata]
        fields["depends"] = index.get(fn, {}).get("depends", [])
        return PackageRecord.from_objects(**fields)

    def run(self, case: dict[str, Any], tmp: Path) -> None:
        """Raises AssertionError (or the solver's error) when the case fails."""
        from conda.base.context import conda_tests_ctxt_mgmt_def_pol
        from conda.common.io import env_vars
        from conda.core.prefix_data import PrefixData
        from conda.core.subdir_data import SubdirData
        from conda.history import History
        from conda.models.channel import Channel
        from conda.models.match_spec import MatchSpec
        from conda.models.records import PrefixRecord
        from conda.plugins.virtual_packages import cuda

        inp = case.get("input", {})
        add_pip = bool(inp.get("add_pip", False))
        env = {"CONDA_ADD_PIP_AS_PYTHON_DEPENDENCY": str(add_pip).lower()}
        for key, var, sep in (
            ("pinned_packages", "CONDA_PINNED_PACKAGES", "&"),
            ("aggressive_update_packages", "CONDA_AGGRESSIVE_UPDATE_PACKAGES", ","),
            ("auto_update_conda", "CONDA_AUTO_UPDATE_CONDA", ""),
            ("channel_priority", "CONDA_CHANNEL_PRIORITY", ""),
            ("override_cuda", "CONDA_OVERRIDE_CUDA", ""),
            ("override_glibc", "CONDA_OVERRIDE_GLIBC", ""),
        ):
            value = inp.get(key)
            if value is not None:
                env[var] = sep.join(value) if isinstance(value, list) else str(value)
        # No case depends on this machine's GPU: without an override, no driver (as on the
        # machines the suite was written for). Probing the driver forks a process per case.
        env.setdefault("CONDA_OVERRIDE_CUDA", "")
        flags = {
            k: inp[k]
            for k in ("ignore_pinned", "force_reinstall", "update_modifier", "deps_modifier")
            if inp.get(k) is not None
        }
        channels = [Channel(f"{self.base}/{name}") for name in _tuple(inp.get("channels"))]
        subdirs = tuple(str(s) for s in _tuple(inp.get("subdirs", [ARCH, "noarch"])))
        prefix_records = [self._record(d) for d in _dists(self.base, inp.get("prefix"))]
        specs_to_add = [MatchSpec(s) for s in _tuple(inp.get("specs_to_add"))]
        history = {MatchSpec(s).name: MatchSpec(s) for s in _tuple(inp.get("history_specs"))}
        prefix = str(tmp)
        PrefixData(prefix)._PrefixData__prefix_records = {
            rec.name: PrefixRecord.from_objects(rec) for rec in prefix_records
        }
        saved_prefix = sys.prefix
        with ExitStack() as stack:
            stack.enter_context(patch.object(History, "get_requested_specs_map", return_value=history))
            stack.enter_context(env_vars(env, stack_callback=conda_tests_ctxt_mgmt_def_pol))
            # Parsed channels are reused between cases (parsing them is most of a case's time),
            # one set per add_pip value: add_pip is baked into the records conda builds.
            SubdirData._cache_.clear()
            SubdirData._cache_.update(self._parsed.setdefault(add_pip, {}))
            cuda.cached_cuda_version.cache_clear()
            if inp.get("set_sys_prefix"):
                sys.prefix = prefix
            try:
                solver = self.backend(prefix, channels, subdirs, specs_to_add=specs_to_add)
                self._check(case, solver, flags, [PrefixRecord.from_objects(r) for r in prefix_records])
            finally:
                sys.prefix = saved_prefix
                self._parsed[add_pip].update(SubdirData._cache_)

    def _check(self, case: dict[str, Any], solver: Any, flags: dict[str, Any], _prefix: list[Any]) -> None:
        kind = case["kind"]
        out = case.get("output") or {}
        if kind == "solve":
            state = solver.solve_final_state(**flags)
            if out.get("final_state") is not None:
                got = [p.dist_str() for p in state]
                assert got == _dists(self.base, out["final_state"]), f"final state {got}"
        elif kind == "solve_for_diff":
            unlink, link = solver.solve_for_diff(**flags)
            assert [p.dist_str() for p in unlink] == _dists(self.base, out.get("unlink_precs")), "unlink"
            assert [p.dist_str() for p in link] == _dists(self.base, out.get("link_precs")), "link"
        elif kind == "determine_constricting_specs":
            self._constricting(case, solver)
        elif kind == "unsatisfiable":
            self._unsatisfiable(case, solver, flags)
        else:
            raise ValueError(f"unknown case kind {kind!r}")

    def _constricting(self, case: dict[str, Any], solver: Any) -> None:
        from conda.models.match_spec import MatchSpec
        from conda.models.records import PrefixRecord

        records = []
        for raw in _tuple(case["input"].get("solution_records")):
            fields = {k: v for k, v in raw.items() if k != "record_type"}
            records.append(PrefixRecord.from_objects(**fields))
        spec = MatchSpec(_tuple(case["input"].get("specs_to_add"))[0])
        got = solver.determine_constricting_specs(spec, records)
        wanted = (case.get("output") or {}).get("constrictions")
        expected = None if wanted is None else [(c["package"], MatchSpec(c["constricting_match_spec"])) for c in wanted]
        assert got == expected, f"constrictions {got}"

    def _unsatisfiable(self, case: dict[str, Any], solver: Any, flags: dict[str, Any]) -> None:
        from conda.exceptions import (
            PackagesNotFoundError,
            ResolvePackageNotFound,
            SpecsConfigurationConflictError,
            UnsatisfiableError,
        )
        from conda.models.match_spec import MatchSpec

        error = case["error"]
        expected_type = {
            "UnsatisfiableError": UnsatisfiableError,
            "PackagesNotFoundError": PackagesNotFoundError,
            "ResolvePackageNotFound": ResolvePackageNotFound,
            "SpecsConfigurationConflictError": SpecsConfigurationConflictError,
        }[error["exception"]]
        try:
            if case.get("operation") == "solve_for_diff":
                solver.solve_for_diff(**flags)
            else:
                solver.solve_final_state(**flags)
        except (
            UnsatisfiableError,
            PackagesNotFoundError,
            ResolvePackageNotFound,
            SpecsConfigurationConflictError,
        ) as exc:
            raised: Exception = exc
        else:
            raise AssertionError(f"expected {expected_type.__name__}, the solve succeeded")
        assert isinstance(raised, expected_type), f"expected {expected_type.__name__}, got {type(raised).__name__}"
        entries = {tuple(MatchSpec(s) for s in _tuple(e)) for e in _tuple(error.get("entries"))}
        message = str(raised)
        if isinstance(raised, UnsatisfiableError) and entries:
            unsatisfiable = getattr(raised, "unsatisfiable", None)
            if unsatisfiable is not None:  # classic's structured chains
                assert set(unsatisfiable) == entries, f"unsatisfiable {unsatisfiable}"
            else:  # other solvers: both ends of each chain named in the message
                for chain in entries:
                    for name in {chain[0].name, chain[-1].name}:
                        assert name in message, f"{name!r} not in the message"
        elif isinstance(raised, ResolvePackageNotFound):
            assert {raised.bad_deps} == entries, f"bad_deps {raised.bad_deps}"
        elif isinstance(raised, PackagesNotFoundError) and entries:
            assert {p.name for p in raised.packages} == {s.name for chain in entries for s in chain}
        elif isinstance(raised, SpecsConfigurationConflictError):
            kwargs = raised._kwargs
            assert set(kwargs["requested_specs"]) == {str(s) for s in _tuple(error.get("requested_specs"))}
            assert set(kwargs["pinned_specs"]) == {str(s) for s in _tuple(error.get("pinned_specs"))}
        for fragment in _tuple(error.get("message_excludes")):
            assert fragment not in message, f"{fragment!r} in the message"
        for fragment in _tuple(error.get("message_includes")):
            assert fragment in message, f"{fragment!r} not in the message"


def run_all(solver: str, pkg: Path, shard: tuple[int, int] = (0, 1)) -> dict[str, dict[str, Any]]:
    """``{case id: {"outcome": passed|failed|skipped, ...}}`` for every case (of the shard
    ``(k, n)``: every n-th case from the k-th, so that n processes share the run)."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="solvent-conda-solvers-") as tmp:
        channels = Path(tmp) / "channels"
        write_channels(pkg, channels)
        runner = Runner(solver, channels)
        for i, case in enumerate(load_cases(pkg)):
            if i % shard[1] != shard[0]:
                continue
            key = f"{case['id']} {case['name']}"
            allowed = _tuple(case.get("solvers"))
            entry: dict[str, Any] = {"kind": case["kind"], "solvers": list(allowed) or None}
            prefix = Path(tmp) / f"prefix{i}"
            prefix.mkdir()
            t0 = time.perf_counter()
            try:
                runner.run(case, prefix)
                entry["outcome"] = "passed"
            except Exception as exc:
                entry["outcome"] = "failed"
                entry["error"] = f"{type(exc).__name__}: {str(exc)[:400]}"
                entry["where"] = traceback.format_exc(limit=-2)[-600:]
            entry["seconds"] = round(time.perf_counter() - t0, 3)
            entry["xfail_solvers"] = list(_tuple(case.get("xfail_solvers")))
            results[key] = entry
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--solver", default="solvent")
    ap.add_argument("--cases", type=Path, default=None, help="pytest_conda_solvers package directory")
    ap.add_argument("--json", dest="json_out", type=Path, default=None)
    ap.add_argument("--shard", default="0/1", help="K/N: run every N-th case from the K-th (N processes share a run)")
    args = ap.parse_args()
    k, _, n = args.shard.partition("/")
    pkg = args.cases or package_dir()
    if pkg is None:
        sys.exit("pytest-conda-solvers not found: pip install --no-deps --target DIR pytest-conda-solvers==0.1.0")
    src = conda_source.source_dir()
    sys.path.insert(0, str(src))
    results = run_all(args.solver, pkg, (int(k), int(n)))
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    counts: dict[str, int] = {}
    for entry in results.values():
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    print(args.solver, counts)
    for key, entry in results.items():
        if entry["outcome"] != "passed":
            print(f"  {entry['outcome']:7} {key} [{entry['kind']}] {entry.get('error', '')[:200]}")


if __name__ == "__main__":
    main()
