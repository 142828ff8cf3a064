"""Synthetic conda channels for the scaling and real-scale benchmarks, deterministic from a seed.

Two shapes:

- ``synthetic_channel``: N package names with version histories, build variants per Python,
  a dependency fan-out into earlier names (a DAG, so most requests are solvable), version bounds
  taken from the dependency's own history, and a few deliberately conflicting builds;
- ``realscale_channel``: a real snapshot (by default conda-forge-py39-2024, linux-64 + noarch)
  embedded in enough synthetic records to reach conda-forge's size (about 465,000 records over
  31,000 names), so the real problems run against a real-scale index. The synthetic names never
  collide with real ones; their Python builds depend on the snapshot's real ``python``.

Generated channels are written under ``benchmarks/results/generated`` (git-ignored) or wherever
the caller says, as ``<dir>/<subdir>/repodata.json``; nothing generated is ever committed. The same
seed and parameters give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "benchmarks" / "results" / "generated"
SHARED_CHANNELS = Path(os.environ.get("SOLVENT_SHARED", ROOT.parent / "shared")) / "data" / "channels"

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "st", "tr"]
_NUCLEI = ["a", "e", "i", "o", "u", "ai", "ou", "io"]
_CODAS = ["", "n", "r", "s", "x", "l", "m", "t"]
_PREFIXES = ["", "", "", "py", "lib", "r-", "ros-", "jupyter-", "perl-", "font-"]
_SUFFIXES = ["", "", "", "-core", "-base", "-dev", "-tools", "-data", "lib", "-cpp"]
_PYTHONS = ("3.10", "3.11", "3.12")


@dataclass(frozen=True)
class ChannelShape:
    """What to generate. ``versions`` and ``fanout`` are means; the rest are fractions."""

    names: int
    versions: float = 8.0
    fanout: float = 3.0
    python_share: float = 0.5  # names built once per Python version
    upper_bound_share: float = 0.3  # dependencies with an upper bound as well as a lower one
    conflict_share: float = 0.02  # builds pinned to a dependency version that others exclude
    seed: int = 0
    subdir: str = "linux-64"
    prefix: str = "x"  # keeps synthetic names apart from real ones when embedding


def _name(rng: random.Random, taken: set[str], prefix: str) -> str:
    while True:
        stem = "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS) for _ in range(rng.randint(2, 3)))
        name = f"{rng.choice(_PREFIXES)}{prefix}{stem}{rng.choice(_SUFFIXES)}"
        if name not in taken:
            taken.add(name)
            return name


def _history(rng: random.Random, mean: float) -> list[str]:
    """A plausible release history, oldest first: minors and patches, now and then a major."""
    count = max(1, min(int(rng.expovariate(1 / mean)) + 1, int(mean * 6)))
    major, minor, patch = rng.choice([(0, rng.randint(1, 9), 0), (1, rng.randint(0, 5), 0), (rng.randint(2, 24), 0, 0)])
    out = []
    for _ in range(count):
        out.append(f"{major}.{minor}.{patch}")
        roll = rng.random()
        if roll < 0.05:
            major, minor, patch = major + 1, 0, 0
        elif roll < 0.45:
            minor, patch = minor + 1, 0
        else:
            patch += 1
    return out


def _h(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _records(
    shape: ChannelShape, python_name: str, python_versions: tuple[str, ...]
) -> Iterator[tuple[str, dict[str, Any]]]:
    rng = random.Random(shape.seed)
    taken: set[str] = set()
    names = [_name(rng, taken, shape.prefix) for _ in range(shape.names)]
    histories = [_history(rng, shape.versions) for _ in names]
    is_python = [rng.random() < shape.python_share for _ in names]
    base_ts = 1_600_000_000_000
    for i, name in enumerate(names):
        history = histories[i]
        deps_pool = range(max(0, i - 2000), i)  # recent names: a fan-out into a realistic neighbourhood
        for vi, version in enumerate(history):
            k = min(len(deps_pool), int(rng.expovariate(1 / shape.fanout))) if deps_pool else 0
            chosen = sorted(rng.sample(deps_pool, k)) if k else []
            depends = []
            for j in chosen:
                dep_hist = histories[j]
                lo = dep_hist[rng.randrange(len(dep_hist))]
                if rng.random() < shape.conflict_share:
                    depends.append(f"{names[j]} {dep_hist[0]}.*")  # an old pin: conflicts with newer users
                    continue
                spec = f"{names[j]} >={lo}"
                if rng.random() < shape.upper_bound_share:
                    spec += f",<{int(dep_hist[-1].split('.')[0]) + 1}"
                depends.append(spec)
            variants = [(f"py{p.replace('.', '')}", p) for p in python_versions] if is_python[i] else [("h0", None)]
            build_number = rng.randint(0, 2)
            for tag, py in variants:
                build = f"{tag}_{build_number}"
                deps = list(depends)
                if py is not None:
                    deps.append(f"{python_name} {py}.*")
                fn = f"{name}-{version}-{build}.conda"
                yield (
                    fn,
                    {
                        "name": name,
                        "version": version,
                        "build": build,
                        "build_number": build_number,
                        "depends": deps,
                        "license": "BSD-3-Clause",
                        "md5": _h(fn),
                        "sha256": hashlib.sha256(fn.encode()).hexdigest(),
                        "size": 10_000 + (int(_h(fn)[:6], 16) % 5_000_000),
                        "subdir": shape.subdir,
                        "timestamp": base_ts + i * 1000 + vi * 86_400_000,
                    },
                )


def _python_records(subdir: str) -> dict[str, dict[str, Any]]:
    out = {}
    for p in _PYTHONS:
        fn = f"python-{p}.0-h0_0.conda"
        out[fn] = {
            "name": "python",
            "version": f"{p}.0",
            "build": "h0_0",
            "build_number": 0,
            "depends": [],
            "md5": _h(fn),
            "subdir": subdir,
            "timestamp": 1_600_000_000_000,
        }
    return out


def _write(
    directory: Path, subdir: str, packages_conda: dict[str, Any], packages: dict[str, Any] | None = None
) -> None:
    target = directory / subdir
    target.mkdir(parents=True, exist_ok=True)
    doc = {
        "info": {"subdir": subdir},
        "packages": packages or {},
        "packages.conda": packages_conda,
        "repodata_version": 1,
    }
    tmp = target / "repodata.json.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, sort_keys=True, separators=(",", ":"))
    os.replace(tmp, target / "repodata.json")


def synthetic_channel(shape: ChannelShape, directory: Path) -> dict[str, int]:
    """Write a synthetic channel (``subdir`` + an empty ``noarch``); return its size."""
    records = _python_records(shape.subdir)
    records.update(_records(shape, "python", _PYTHONS))
    _write(directory, shape.subdir, records)
    _write(directory, "noarch", {})
    return {"records": len(records), "names": len({r["name"] for r in records.values()})}


def top_names(shape: ChannelShape, count: int) -> list[str]:
    """The last-generated names (the deepest dependency trees), for requests against the channel."""
    rng = random.Random(shape.seed)
    taken: set[str] = set()
    names = [_name(rng, taken, shape.prefix) for _ in range(shape.names)]
    return names[-count:][::-1]


def realscale_channel(
    directory: Path,
    base: str = "conda-forge-py39-2024",
    target_records: int = 465_000,
    target_names: int = 31_000,
    seed: int = 0,
) -> dict[str, int]:
    """A real snapshot's linux-64 + noarch, grown with synthetic records to conda-forge's size."""
    base_dir = SHARED_CHANNELS / base
    real: dict[str, dict[str, Any]] = {}
    for subdir in ("linux-64", "noarch"):
        doc = json.loads((base_dir / subdir / "repodata.json").read_text())
        real[subdir] = doc
    real_linux = {**real["linux-64"].get("packages", {}), **real["linux-64"].get("packages.conda", {})}
    real_noarch = {**real["noarch"].get("packages", {}), **real["noarch"].get("packages.conda", {})}
    real_count = len(real_linux) + len(real_noarch)
    real_names = {r["name"] for r in real_linux.values()} | {r["name"] for r in real_noarch.values()}
    extra_names = max(1, target_names - len(real_names))
    # records per name = versions x builds; python names get one build per python here (just 3.9)
    per_name = max(1.0, (target_records - real_count) / extra_names)
    shape = ChannelShape(
        names=extra_names,
        versions=per_name,
        python_share=0.5,
        seed=seed,
        prefix="q",
    )
    synthetic = dict(_records(shape, "python", ("3.9",)))
    clash = {r["name"] for r in synthetic.values()} & real_names
    synthetic = {fn: r for fn, r in synthetic.items() if r["name"] not in clash}
    linux = dict(real["linux-64"].get("packages.conda", {}))
    linux.update(synthetic)
    _write(directory, "linux-64", linux, real["linux-64"].get("packages", {}))
    _write(directory, "noarch", real["noarch"].get("packages.conda", {}), real["noarch"].get("packages", {}))
    records = real_count + len(synthetic)
    names = len(real_names | {r["name"] for r in synthetic.values()})
    return {
        "records": records,
        "names": names,
        "real_records": real_count,
        "synthetic_records": len(synthetic),
        "synthetic_top": [n for n in top_names(shape, 10) if n not in clash],
    }
