"""Shared fixtures: where the real conda data lives, and skipping cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SOLVENT_SHARED", ROOT.parent / "shared")) / "data"
CHANNELS = SHARED / "channels"
VERSIONS = SHARED / "versions"


def shared_path(*parts: str) -> Path:
    """Path inside ../shared/data, skipping the calling test when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


def shared_channels() -> list[Path]:
    """Every channel directory in the shared snapshots (empty when ../shared is absent)."""
    if not CHANNELS.is_dir():
        return []
    return sorted(p for p in CHANNELS.iterdir() if p.is_dir())


@pytest.fixture
def shared_channels_dir() -> Path:
    return shared_path("channels")


@pytest.fixture(autouse=True)
def _no_real_package_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip locking never reaches PyPI from a test: the default index is a closed loopback port."""
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
