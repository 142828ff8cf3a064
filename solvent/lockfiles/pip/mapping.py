"""Which PyPI projects the conda solution already installs, so pip must not install them again.

A conda package that is a Python package leaves a ``*.dist-info`` in site-packages, and pip sees
it as installed. Its PyPI name is the conda name after PEP 503 normalization for almost every
package (``pyyaml``/``PyYAML``, ``typing_extensions``, ``ruamel.yaml``, ``python-dateutil``,
``pillow``, ...); ``KNOWN_DIFFERENCES`` lists the few well-known exceptions, and ``--pypi-mapping``
reads a user's table (YAML or JSON ``{conda_name: pypi_name}``) that wins over both. The table is
small on purpose: a wrong entry would make a lock skip a project pip needs, and a missing one only
makes pip report a requirement conda already meets, which the user can then map.

Only records that are Python packages count (they depend on ``python`` or are ``noarch: python``),
so a C library that happens to share a PyPI project's name does not satisfy a pip requirement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from solvent.errors import InvalidInput
from solvent.record import PackageRecord

#: conda name -> PyPI name, only where normalization does not already make them equal.
KNOWN_DIFFERENCES: dict[str, str] = {
    "pytorch": "torch",
    "msgpack-python": "msgpack",
    "matplotlib-base": "matplotlib",
    "python-graphviz": "graphviz",
}
#: conda records that are Python itself or its packaging tools and are installed for pip too.
_ALWAYS_PYTHON = {"python", "pip", "setuptools", "wheel"}


@dataclass(frozen=True)
class CondaProvided:
    """A PyPI project that a conda record installs: what pip will find in site-packages."""

    project: str  # PEP 503 normalized
    record: PackageRecord

    @property
    def version(self) -> Version | None:
        """The conda version read as a PyPI version (conda's ``_`` separator as ``.``), or None."""
        for text in (self.record.version, self.record.version.replace("_", ".")):
            try:
                return Version(text)
            except InvalidVersion:
                continue
        return None

    def describe(self) -> str:
        channel = self.record.channel.rstrip("/").rsplit("/", 1)[-1] if self.record.channel else "conda"
        return f"{self.record.name} {self.record.version} ({channel})"


def load_mapping(path: str | Path | None) -> dict[str, str]:
    """``--pypi-mapping FILE``: a mapping of conda names to PyPI names (YAML is a superset of JSON)."""
    if path is None:
        return {}
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read the PyPI mapping {p}: {exc.strerror}") from None
    try:
        doc = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{p}: not a YAML or JSON mapping: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        raise InvalidInput(f"{p}: the PyPI mapping must be {{conda_name: pypi_name}} with string names")
    return {k: v for k, v in sorted(doc.items())}


def is_python_package(record: PackageRecord) -> bool:
    """A conda record pip sees as an installed distribution."""
    if record.name in _ALWAYS_PYTHON or record.noarch == "python":
        return True
    return any(spec.split()[0] == "python" for spec in record.depends if spec.strip())


def pypi_name(conda_name: str, overrides: Mapping[str, str]) -> str:
    return canonicalize_name(overrides.get(conda_name) or KNOWN_DIFFERENCES.get(conda_name) or conda_name)


def conda_provided(solution: Sequence[PackageRecord], overrides: Mapping[str, str]) -> dict[str, CondaProvided]:
    """Normalized PyPI name -> the conda record that installs it (``python`` itself excluded)."""
    out: dict[str, CondaProvided] = {}
    for record in sorted(solution, key=lambda r: r.name):
        if record.name == "python" or not is_python_package(record):
            continue
        project = pypi_name(record.name, overrides)
        out.setdefault(project, CondaProvided(project, record))
    return out
