"""CEP-23 explicit lockfiles: what ``conda create --file`` installs without solving.

Layout::

    # This file may be used to create an environment using:
    # $ conda create --name <env> --file <this file>
    # platform: linux-64
    # input_hash: <sha256 of the inputs>
    # generator: solvent 0.1.0
    @EXPLICIT
    https://conda.anaconda.org/conda-forge/linux-64/libzlib-1.2.13-hd590300_5.conda#<md5>
    ...

One URL per package with its md5 as the fragment (every conda version accepts ``#<md5>``; the
sha256 goes to conda-lock.yml, and is used here only when a record has no md5). Packages come in
install order: every package after its dependencies, ties broken by name, so the same solution
always gives the same bytes. The pip packages of the environment are not in this format: they go to
a sibling ``.pip.txt`` (``solvent.lockfiles.pip.output``), which a ``# pip_lock:`` comment names.
Files written before pip was locked carried the raw requirements as ``# pip: ...`` comments; those
are still read.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from typing import Sequence

from solvent import __version__
from solvent.errors import LockfileError
from solvent.record import PackageRecord

MARKER = "@EXPLICIT"
_HASH = re.compile(r"^(?P<url>[^#]+?)(?:#(?:(?P<md5>[0-9a-f]{32})|(?:sha256:)?(?P<sha256>[0-9a-f]{64})))?$")


def install_order(records: Sequence[PackageRecord]) -> list[PackageRecord]:
    """Dependencies before dependents (Kahn's algorithm, smallest name first); cycles broken by name."""
    by_name = {r.name: r for r in records}
    deps: dict[str, set[str]] = {}
    for r in records:
        deps[r.name] = {s.name for s in r.depends_specs if s.name in by_name and s.name != r.name}
    dependents: dict[str, set[str]] = {n: set() for n in by_name}
    for n, ds in deps.items():
        for d in ds:
            dependents[d].add(n)
    remaining = {n: len(ds) for n, ds in deps.items()}
    ready = [n for n, k in remaining.items() if k == 0]
    heapq.heapify(ready)
    out: list[PackageRecord] = []
    while len(out) < len(by_name):
        if not ready:  # a dependency cycle: release the smallest name still waiting
            n = min(k for k, v in remaining.items() if v > 0)
            remaining[n] = 0
            heapq.heappush(ready, n)
        n = heapq.heappop(ready)
        if remaining.get(n, 0) < 0:
            continue
        remaining[n] = -1
        out.append(by_name[n])
        for m in sorted(dependents[n]):
            if remaining[m] > 0:
                remaining[m] -= 1
                if remaining[m] == 0:
                    heapq.heappush(ready, m)
    return out


def package_url(record: PackageRecord) -> str:
    if not record.url:
        raise LockfileError(f"{record.dist_str()} has no download URL")
    return record.url


def render_explicit(
    records: Sequence[PackageRecord], platform: str, input_hash: str, pip_lock: str | None = None
) -> str:
    lines = [
        "# This file may be used to create an environment using:",
        "# $ conda create --name <env> --file <this file>",
        f"# platform: {platform}",
        f"# input_hash: {input_hash}",
        f"# generator: solvent {__version__}",
    ]
    if pip_lock:
        lines.append(f"# pip_lock: {pip_lock} (then: pip install --no-deps --require-hashes -r {pip_lock})")
    lines.append(MARKER)
    for record in install_order(records):
        url = package_url(record)
        if record.md5:
            url += f"#{record.md5}"
        elif record.sha256:
            url += f"#sha256:{record.sha256}"
        lines.append(url)
    return "\n".join(lines) + "\n"


@dataclass
class ExplicitFile:
    platform: str | None = None
    input_hash: str | None = None
    urls: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (url, md5, sha256)
    pip: list[str] = field(default_factory=list)


def parse_explicit(text: str, source: str = "<explicit>") -> ExplicitFile:
    out = ExplicitFile()
    seen_marker = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            body = line[1:].strip()
            for key in ("platform", "input_hash"):
                if body.startswith(f"{key}:"):
                    setattr(out, key, body.split(":", 1)[1].strip())
            if body.startswith("pip:"):
                out.pip.append(body[4:].strip())
            continue
        if line == MARKER:
            seen_marker = True
            continue
        if not seen_marker:
            raise LockfileError(f"{source}:{lineno}: package line before {MARKER}")
        m = _HASH.match(line)
        if m is None or not m.group("url").endswith((".tar.bz2", ".conda")):
            raise LockfileError(f"{source}:{lineno}: not a package URL: {line!r}")
        out.urls.append((m.group("url"), m.group("md5"), m.group("sha256")))
    if not seen_marker:
        raise LockfileError(f"{source}: no {MARKER} line: not an explicit lockfile")
    return out
