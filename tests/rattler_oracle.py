"""Solving with py-rattler on local channel directories: the differential oracle for the solver."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Sequence

import pytest


def rattler_solve(
    channel_dirs: Sequence[Path],
    specs: Sequence[str],
    platform: str = "linux-64",
    virtual_packages: Sequence[str] = (),
    strict: bool = True,
) -> tuple[bool, dict[str, str], str]:
    """(ok, {name: "version-build"}, error) as rattler answers."""
    rattler = pytest.importorskip("rattler")
    sources = []
    for ch in channel_dirs:
        channel = rattler.Channel(Path(ch).resolve().as_uri())
        for subdir in (platform, "noarch"):
            path = Path(ch) / subdir / "repodata.json"
            if path.exists():
                sources.append(rattler.SparseRepoData(channel, subdir, str(path)))
    vps = []
    for item in virtual_packages:
        name, _, rest = item.partition("=")
        version, _, build = rest.partition("=")
        vps.append(
            rattler.GenericVirtualPackage(
                rattler.PackageName(name), rattler.Version(version or "0"), rattler.BuildString(build or "0")
            )
        )
    priority = rattler.ChannelPriority.Strict if strict else rattler.ChannelPriority.Disabled
    try:
        records = asyncio.run(
            rattler.solve_with_sparse_repodata(list(specs), sources, virtual_packages=vps, channel_priority=priority)
        )
    except Exception as exc:  # rattler raises SolverError with its explanation
        return False, {}, str(exc)
    return True, {r.name.normalized: f"{r.version}-{r.build}" for r in records}, ""
