"""An in-memory package index for the pip resolver tests (no network, no files), and the conda side.

``FakeIndex.add("pkg", "1.0", requires=["dep>=1"], tags=["py3-none-any"])`` publishes one file;
the resolver reads it through the same ``files``/``metadata`` protocol as the real index client.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from solvent.lockfiles.pip.errors import PipMetadataError, PipProjectNotFound
from tests.helpers import rec, write_channel


@dataclass(frozen=True)
class FakeFile:
    project: str
    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    yanked: bool
    has_metadata: bool
    metadata_sha256: str | None
    version: Version
    is_wheel: bool
    tags: frozenset[Tag]
    index_url: str


@dataclass(frozen=True)
class FakeMetadata:
    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]


@dataclass
class FakeIndex:
    url: str = "https://fake.invalid/simple"
    published: dict[str, list[FakeFile]] = field(default_factory=dict)
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)
    static: dict[str, bool] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # Requires-Python only the file's own metadata states (the index listing leaves it out)
    metadata_python: dict[str, str] = field(default_factory=dict)

    def add(
        self,
        name: str,
        version: str,
        requires: Sequence[str] = (),
        tags: Sequence[str] = ("py3-none-any",),
        *,
        sdist: bool = False,
        static_metadata: bool = True,
        yanked: bool = False,
        requires_python: str | None = None,
    ) -> FakeFile:
        project = canonicalize_name(name)
        dist = project.replace("-", "_")
        if sdist:
            filename, tagset = f"{dist}-{version}.tar.gz", frozenset()
        else:
            filename = f"{dist}-{version}-{'.'.join(tags)}.whl" if len(tags) > 1 else f"{dist}-{version}-{tags[0]}.whl"
            tagset = frozenset(t for tag in tags for t in parse_tag(tag))
        url = f"https://files.fake.invalid/{filename}"
        f = FakeFile(
            project=project,
            filename=filename,
            url=url,
            sha256=hashlib.sha256(filename.encode()).hexdigest(),
            requires_python=requires_python,
            yanked=yanked,
            has_metadata=not sdist,
            metadata_sha256=None,
            version=Version(version),
            is_wheel=not sdist,
            tags=tagset,
            index_url=self.url,
        )
        self.published.setdefault(project, []).append(f)
        self.requires[filename] = tuple(requires)
        self.static[filename] = static_metadata
        return f

    def files(self, project: str) -> list[FakeFile]:
        self.calls.append(project)
        if project not in self.published:
            raise PipProjectNotFound(project, [self.url])
        return list(self.published[project])

    def metadata(self, file: FakeFile) -> FakeMetadata:
        if not self.static[file.filename]:
            raise PipMetadataError(f"{file.filename}: no static metadata", project=file.project, filename=file.filename)
        python = self.metadata_python.get(file.filename, file.requires_python)
        return FakeMetadata(file.project, str(file.version), self.requires[file.filename], python, ())


PLATFORMS = ("linux-64", "osx-arm64", "win-64")


def conda_channel(root: Path) -> Path:
    """python 3.9 on three platforms, plus requests and six from conda (noarch: python)."""
    noarch = [
        rec("requests", "2.31.0", build="pyhd8ed1ab_0", subdir="noarch", noarch="python", depends=["python >=3.7"]),
        rec("six", "1.16.0", build="pyh6c4a22f_0", subdir="noarch", noarch="python", depends=["python"]),
        rec("pip", "23.3", build="pyhd8ed1ab_0", subdir="noarch", noarch="python", depends=["python >=3.7"]),
    ]
    for sd in PLATFORMS:
        write_channel(root, [rec("python", "3.9.18", build="h0_cpython", subdir=sd), *noarch], subdir=sd)
    return root


def write_env(tmp_path: Path, pip: list[str], conda: tuple[str, ...] = ("python=3.9", "pip")) -> Path:
    env = tmp_path / "environment.yml"
    body = "".join(f"  - {c}\n" for c in conda)
    body += "  - pip:\n" + "".join(f"      - {p!r}\n" for p in pip)
    env.write_text(f"channels: [conda-forge]\ndependencies:\n{body}")
    return env
