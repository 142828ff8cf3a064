"""Small builders for synthetic channels, shared by the solver tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

from solvent.record import PackageRecord


def rec(
    name: str,
    version: str,
    build: str = "0",
    build_number: int = 0,
    depends: Sequence[str] = (),
    constrains: Sequence[str] = (),
    channel: str = "test",
    subdir: str = "linux-64",
    track_features: str = "",
    features: str = "",
    timestamp: int = 0,
    **extra: Any,
) -> PackageRecord:
    """A record as a channel would publish it."""
    fn = f"{name}-{version}-{build}.tar.bz2"
    entry: dict[str, Any] = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": build_number,
        "depends": list(depends),
        "constrains": list(constrains),
        "subdir": subdir,
        "md5": "0" * 32,
        "size": 1,
        **extra,
    }
    if track_features:
        entry["track_features"] = track_features
    if features:
        entry["features"] = features
    if timestamp:
        entry["timestamp"] = timestamp
    return PackageRecord.from_repodata(fn, entry, channel=channel, subdir=subdir)


def write_channel(root: Path, records: Iterable[PackageRecord], subdir: str = "linux-64") -> Path:
    """Write records as ``root/<subdir>/repodata.json`` (plus an empty noarch) and return root."""
    packages = {}
    noarch = {}
    for r in records:
        entry = r.to_repodata()
        (noarch if r.subdir == "noarch" else packages)[r.fn] = entry
    for sd, pk in ((subdir, packages), ("noarch", noarch)):
        path = root / sd
        path.mkdir(parents=True, exist_ok=True)
        (path / "repodata.json").write_text(
            json.dumps({"info": {"subdir": sd}, "packages": pk, "packages.conda": {}}, sort_keys=True)
        )
    return root


def names_versions(records: Iterable[PackageRecord]) -> dict[str, str]:
    return {r.name: r.version for r in records}
