"""What a wheel must fit, and what markers see, on one conda platform with its conda python.

pip on the locked environment will run the conda python of that platform, so the interpreter and
ABI come from the ``python`` record of the solution (3.9.18 -> ``cp39``) and the platform tags from
the conda platform and its virtual packages: ``__glibc`` bounds the manylinux tags a wheel may
use, ``__osx`` the macOS deployment target. The plain ``linux_x86_64`` tag is left out on purpose:
such wheels are built for one machine and are not portable, so a lock must not pick them.

Tags come from ``packaging.tags`` (``cpython_tags`` then ``compatible_tags``) with explicit
platforms, so the order is pip's order: earlier is preferred. Markers are evaluated against an
environment for the target, never against the machine running solvent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.version import InvalidVersion, Version

from solvent.errors import LockfileError
from solvent.record import PackageRecord

#: conda platform -> (sys_platform, platform_system, os_name, platform_machine, wheel arch)
_PLATFORMS: dict[str, tuple[str, str, str, str, str]] = {
    "linux-64": ("linux", "Linux", "posix", "x86_64", "x86_64"),
    "linux-32": ("linux", "Linux", "posix", "i686", "i686"),
    "linux-aarch64": ("linux", "Linux", "posix", "aarch64", "aarch64"),
    "linux-ppc64le": ("linux", "Linux", "posix", "ppc64le", "ppc64le"),
    "linux-s390x": ("linux", "Linux", "posix", "s390x", "s390x"),
    "linux-armv7l": ("linux", "Linux", "posix", "armv7l", "armv7l"),
    "osx-64": ("darwin", "Darwin", "posix", "x86_64", "x86_64"),
    "osx-arm64": ("darwin", "Darwin", "posix", "arm64", "arm64"),
    "win-64": ("win32", "Windows", "nt", "AMD64", "win_amd64"),
    "win-32": ("win32", "Windows", "nt", "x86", "win32"),
    "win-arm64": ("win32", "Windows", "nt", "ARM64", "win_arm64"),
}
DEFAULT_GLIBC = (2, 17)
DEFAULT_OSX = {"osx-64": (10, 15), "osx-arm64": (11, 0)}
#: manylinux PEP 600 tags that older names alias: (glibc minor, legacy name, arches that had it)
_LEGACY_MANYLINUX = {
    17: ("manylinux2014", None),
    12: ("manylinux2010", ("x86_64", "i686")),
    5: ("manylinux1", ("x86_64", "i686")),
}


def _version_tuple(text: str, what: str) -> tuple[int, int]:
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise LockfileError(f"cannot read the {what} version {text!r}") from None


def manylinux_platforms(arch: str, glibc: tuple[int, int]) -> list[str]:
    """``manylinux_2_Y_arch`` from the target glibc down, each followed by its legacy alias (as pip)."""
    lowest = 5 if arch in ("x86_64", "i686") else 17
    out: list[str] = []
    for minor in range(glibc[1], lowest - 1, -1):
        out.append(f"manylinux_2_{minor}_{arch}")
        legacy = _LEGACY_MANYLINUX.get(minor)
        if legacy is not None and (legacy[1] is None or arch in legacy[1]):
            out.append(f"{legacy[0]}_{arch}")
    return out


@dataclass(frozen=True)
class Target:
    """One conda platform with its python: wheel tags in preference order and marker values."""

    platform: str
    python_version: str  # full, e.g. 3.9.18
    platforms: tuple[str, ...]
    tags: tuple[Tag, ...] = field(repr=False)

    @property
    def python_tuple(self) -> tuple[int, int]:
        return _version_tuple(self.python_version, "python")

    @property
    def interpreter(self) -> str:
        major, minor = self.python_tuple
        return f"cp{major}{minor}"

    def tag_rank(self) -> dict[Tag, int]:
        """Tag -> preference (0 = best): the rank of a wheel is the best rank among its tags."""
        return {tag: i for i, tag in reversed(list(enumerate(self.tags)))}

    def environment(self, extra: str = "") -> dict[str, str]:
        """The PEP 508 marker environment of the target (none of this machine's values)."""
        sys_platform, system, os_name, machine, _ = _PLATFORMS[self.platform]
        major, minor = self.python_tuple
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python_version,
            "os_name": os_name,
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": self.python_version,
            "python_version": f"{major}.{minor}",
            "sys_platform": sys_platform,
            "extra": extra,
        }

    def evaluate(self, marker: Marker | None, extras: Iterable[str] = ()) -> bool:
        """Whether a marker holds on the target; with extras, whether it holds for any of them."""
        if marker is None:
            return True
        return any(marker.evaluate(self.environment(extra)) for extra in ("", *sorted(extras)))

    def python_ok(self, requires_python: str | None) -> bool:
        """``Requires-Python`` against the target interpreter; an unreadable one is not held against a file."""
        if not requires_python:
            return True
        try:
            return SpecifierSet(requires_python).contains(self.python_version, prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return True

    def describe(self) -> str:
        """The tags in short: interpreter and ABIs, the platform tag range, pure-Python wheels."""
        plats = self.platforms[0] if len(self.platforms) == 1 else f"{self.platforms[0]} ... {self.platforms[-1]}"
        return (
            f"{self.platform} (python {self.python_version}: tags {self.interpreter}-{{{self.interpreter},abi3,none}}-"
            f"{{{plats}}} and py3-none-any, {len(self.tags)} in all)"
        )


def _virtual(virtual: Sequence[PackageRecord], name: str) -> str | None:
    return next((r.version for r in virtual if r.name == name), None)


def platform_tags(platform: str, virtual: Sequence[PackageRecord]) -> list[str]:
    """Wheel platform tags for a conda platform, most specific first."""
    if platform not in _PLATFORMS:
        raise LockfileError(f"pip requirements cannot be locked for {platform}: no wheel platform is known for it")
    arch = _PLATFORMS[platform][4]
    if platform.startswith("linux-"):
        glibc = _virtual(virtual, "__glibc")
        return manylinux_platforms(arch, _version_tuple(glibc, "__glibc") if glibc else DEFAULT_GLIBC)
    if platform.startswith("osx-"):
        osx = _virtual(virtual, "__osx")
        version = _version_tuple(osx, "__osx") if osx else DEFAULT_OSX[platform]
        if version[0] >= 11:
            version = (version[0], 0)  # macOS 11+ wheels are tagged by major version only
        return list(mac_platforms(version, arch))
    return [arch]


def make_target(platform: str, solution: Sequence[PackageRecord], virtual: Sequence[PackageRecord]) -> Target:
    """The target of ``platform``; the solution must contain python (pip needs an interpreter)."""
    python = next((r for r in solution if r.name == "python"), None)
    if python is None:
        raise LockfileError(f"{platform}: the environment has pip requirements but the conda solution has no python")
    if "pypy" in python.build:
        raise LockfileError(f"{platform}: python {python.version} is a PyPy build: solvent locks pip for CPython only")
    try:
        Version(python.version)
    except InvalidVersion:
        raise LockfileError(f"{platform}: cannot read the python version {python.version!r}") from None
    plats = platform_tags(platform, virtual)
    version = _version_tuple(python.version, "python")
    interp = f"cp{version[0]}{version[1]}"
    tags = [
        *cpython_tags(version, abis=[interp], platforms=plats),
        *compatible_tags(version, interpreter=interp, platforms=plats),
    ]
    return Target(platform, python.version, tuple(plats), tuple(dict.fromkeys(tags)))
