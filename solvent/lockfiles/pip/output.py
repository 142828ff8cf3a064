"""Writing the pip part of a lock: conda-lock.yml entries and ``<name>-<platform>.pip.txt`` files.

conda-lock.yml carries pip packages as ``manager: pip`` entries with the same keys as conda ones
(url and a sha256 hash; conda-lock's own parser reads them). The explicit format has no place for
pip packages, so each explicit file gets a sibling requirements file that
``pip install --no-deps --require-hashes -r`` installs exactly: one ``name==version
--hash=sha256:...`` line per project, sorted by name, after the index options pip needs to find
those files (``name @ url`` for a direct requirement). ``--no-deps`` is safe because the file
already lists every dependency pip needs.

Credentials in index URLs (``https://user:token@host/simple``, ``.../t/<token>/...``) are cut from everything written: a
lockfile gets committed, and pip finds the credentials again in netrc, a keyring or
``PIP_INDEX_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from solvent import __version__
from solvent.channels.redact import strip_secrets
from solvent.lockfiles.pip.resolve import LockedPip


def pip_txt_path(explicit: Path) -> Path:
    """``conda-linux-64.lock`` -> ``conda-linux-64.pip.txt``, beside it."""
    return explicit.with_name(explicit.stem + ".pip.txt")


def render_pip_txt(locked: Sequence[LockedPip], platform: str, input_hash: str, index_urls: Sequence[str]) -> str:
    lines = [
        "# pip packages of this environment, after the conda ones are installed:",
        "# $ pip install --no-deps --require-hashes -r <this file>",
        f"# platform: {platform}",
        f"# input_hash: {input_hash}",
        f"# generator: solvent {__version__}",
    ]
    if locked:
        urls = [strip_secrets(u) for u in index_urls]
        lines.append(f"--index-url {urls[0]}")
        lines += [f"--extra-index-url {u}" for u in urls[1:]]
    for p in sorted(locked, key=lambda p: p.name):
        pin = f"{p.name} @ {strip_secrets(p.url)}" if p.direct else f"{p.name}=={p.version}"
        lines.append(f"{pin} --hash=sha256:{p.sha256}")
    return "\n".join(lines) + "\n"


def read_input_hash(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# input_hash:"):
            return line.split(":", 1)[1].strip()
    return None


def conda_lock_entries(locked: Sequence[LockedPip], platform: str) -> list[dict[str, Any]]:
    """``manager: pip`` entries in the key order conda-lock writes."""
    return [
        {
            "name": p.name,
            "version": p.version,
            "manager": "pip",
            "platform": platform,
            "dependencies": dict(p.dependencies),
            "url": strip_secrets(p.url),
            "hash": {"sha256": p.sha256},
            "category": "main",
            "optional": False,
        }
        for p in sorted(locked, key=lambda p: p.name)
    ]
