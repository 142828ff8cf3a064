"""conda from its source tarball, for the conda-plugin tests.

conda is not on PyPI, and none of its source goes into this repository: the tests extract the
tarball in ``../shared/peers`` (conda's ``conda/`` package, ``tests/data/index*.json`` and
``tests/core/test_solve.py`` at a known commit) into a temporary directory once per process,
write the ``conda/_version.py`` that conda's build would generate (as setup.sh does) and put it on
``sys.path``. Everything skips with the reason when the tarball is absent or Python is too old.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("SOLVENT_SHARED", ROOT.parent / "shared")) / "peers"
_extracted: Path | None = None


def tarball() -> Path | None:
    found = sorted(PEERS.glob("conda-src-*.tar.gz"))
    return found[-1] if found else None


def skip_reason() -> str | None:
    """Why conda cannot be used here, or None."""
    if sys.version_info < (3, 10):
        return "conda needs Python >= 3.10"
    if tarball() is None:
        return f"conda's source tarball is not available ({PEERS}/conda-src-*.tar.gz)"
    try:
        import boltons  # noqa: F401
        import frozendict  # noqa: F401
        import pluggy  # noqa: F401
        import ruamel.yaml  # noqa: F401
    except ImportError as exc:
        return f"conda's runtime dependencies are not installed ({exc}): pip install -e '.[conda]'"
    return None


def source_dir() -> Path:
    """The extracted ``conda-src`` directory (``conda/``, ``tests/``), extracted on first use."""
    global _extracted
    if _extracted is None:
        path = tarball()
        assert path is not None
        dest = Path(tempfile.mkdtemp(prefix="solvent-conda-src-"))
        atexit.register(shutil.rmtree, dest, True)
        with tarfile.open(path) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(dest, filter="data")
            else:
                tar.extractall(dest)
        src = dest / "conda-src"
        rev = path.name[len("conda-src-") : -len(".tar.gz")]
        (src / "conda" / "_version.py").write_text(f'__version__ = "0.0.0+src.{rev}"\n')
        _extracted = src
    return _extracted


def require() -> Path:
    """Put conda on ``sys.path`` (skipping the calling module when it cannot be) and return the
    source directory. conda's test helpers find ``tests/data`` next to the package by default."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason, allow_module_level=True)
    src = source_dir()
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    return src


def isolated_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a conda process (or in-process context) that reads no user config, writes
    only under ``tmp`` and never touches the network: peer_solve.py's recipe."""
    condarc = tmp / "condarc"
    if not condarc.exists():
        condarc.write_text("add_pip_as_python_dependency: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA")}
    env.update(
        CONDARC=str(condarc),
        CONDA_PKGS_DIRS=str(tmp / "pkgs"),
        CONDA_ROOT_PREFIX=str(tmp / "root"),
        CONDA_ENVS_DIRS=str(tmp / "envs"),
        CONDA_NUMBER_CHANNEL_NOTICES="0",
        CONDA_REPORT_ERRORS="false",
        CONDA_NOTIFY_OUTDATED_CONDA="false",
    )
    env.update(extra)
    return env
