"""The pip step of ``solvent lock``: after the conda solves, before anything is written.

Reading the inputs happens before the solves, because the lock's content hash covers them (the
requirements with ``-r`` files expanded, the index URLs from every source, the name overrides), so
``--check`` notices an edit to any of them without touching the network. Resolving happens per
platform against one index client, whose cache every platform then shares.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from solvent.channels.progress import Progress
from solvent.lockfiles.envfile import EnvironmentSpec
from solvent.lockfiles.pip.mapping import conda_provided, load_mapping
from solvent.lockfiles.pip.requirements import PipInputs, read_pip_section
from solvent.lockfiles.pip.resolve import LockedPip, PackageIndex, resolve
from solvent.lockfiles.pip.target import make_target
from solvent.record import PackageRecord


@dataclass
class PipPlan:
    """What the pip step needs from the command line and the environment file."""

    inputs: PipInputs
    overrides: dict[str, str] = field(default_factory=dict)

    def hash_document(self) -> dict[str, Any]:
        return {**self.inputs.hash_document(), "pypi_mapping": self.overrides}


def plan(env: EnvironmentSpec, args: Any) -> PipPlan | None:
    """None when the environment has no ``pip:`` section (and then nothing below runs)."""
    if not env.pip:
        return None
    where = env.pip_where if len(env.pip_where) == len(env.pip) else [env.source] * len(env.pip)
    inputs = read_pip_section(
        list(zip(env.pip, where)),
        Path(env.source).resolve().parent,
        cli_urls=getattr(args, "pypi_url", None) or [],
        environ=os.environ,
    )
    return PipPlan(inputs, load_mapping(getattr(args, "pypi_mapping", None)))


def make_index(
    index_urls: Sequence[str], *, cache_dir: Path | None, offline: bool, progress: Progress | None = None
) -> PackageIndex:
    """The index client; tests replace this function to lock against an in-memory index."""
    from solvent.lockfiles.pip.index import PypiIndex

    return PypiIndex(index_urls, cache_dir=cache_dir, offline=offline, progress=progress)


class _LazyIndex:
    """Made on first use: when conda installs every pip requirement, no index client is needed."""

    def __init__(self, urls: Sequence[str], cache_dir: Path | None, offline: bool, progress: Progress | None) -> None:
        self._args = (list(urls), cache_dir, offline)
        self._progress = progress
        self._index: PackageIndex | None = None

    def _get(self) -> PackageIndex:
        if self._index is None:
            urls, cache_dir, offline = self._args
            if self._progress is None:
                self._index = make_index(urls, cache_dir=cache_dir, offline=offline)
            else:
                self._index = make_index(urls, cache_dir=cache_dir, offline=offline, progress=self._progress)
        return self._index

    def files(self, project: str) -> Sequence[Any]:
        return self._get().files(project)

    def metadata(self, file: Any) -> Any:
        return self._get().metadata(file)


def lock_pip(
    pip: PipPlan,
    solutions: Mapping[str, Sequence[PackageRecord]],
    virtual: Mapping[str, Sequence[PackageRecord]],
    *,
    cache_dir: str | None,
    offline: bool,
    show_progress: bool = False,
) -> dict[str, list[LockedPip]]:
    """Platform -> the pip packages to install there, sorted by name."""
    offline = offline or os.environ.get("SOLVENT_OFFLINE", "") not in ("", "0")
    # Resolving walks index pages one by one over the network: a count of what was read so far
    # shows that a long pip step is moving (the total is not known until resolvelib is done).
    progress = Progress(None, "solvent: pip index", quiet=False) if show_progress else None
    index = _LazyIndex(pip.inputs.index_urls, Path(cache_dir) if cache_dir else None, offline, progress)
    out = {}
    try:
        for platform in sorted(solutions):
            target = make_target(platform, solutions[platform], virtual[platform])
            conda = conda_provided(solutions[platform], pip.overrides)
            out[platform] = resolve(pip.inputs.requirements, index, target, conda)
    finally:
        if progress is not None:
            progress.close()
    return out
