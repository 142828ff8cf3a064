"""Virtual packages (CEP-30): facts about the target machine that packages can depend on.

``__linux``, ``__glibc``, ``__cuda``, ``__osx``, ``__win``, ``__unix`` and ``__archspec`` are
detected for the running machine the way conda detects them, and each can be overridden with
``CONDA_OVERRIDE_<NAME>`` (an empty value removes the package, except ``__linux``, which then
becomes version 0, as in conda). For another platform, a typical machine of that platform is
assumed (documented in ``docs/virtual-packages.md``) and the same overrides apply.

CUDA is detected by asking the driver (``cuDriverGetVersion`` in libcuda) in a subprocess with a
timeout, as conda does: loading a broken driver can crash or hang the process that loads it.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import Iterable, Sequence

from solvent.errors import InvalidInput, InvalidRecord
from solvent.platforms import machine, native_platform, platform_os, validate_platform
from solvent.record import PackageRecord

#: What a typical machine of another platform reports (conda-lock and rattler use similar ones).
DEFAULT_GLIBC = "2.17"
DEFAULT_LINUX = "5.10"
DEFAULT_OSX = {"osx-64": "10.15", "osx-arm64": "11.0"}
DEFAULT_ARCHSPEC = {
    "linux-64": "x86_64",
    "linux-aarch64": "aarch64",
    "linux-ppc64le": "ppc64le",
    "linux-s390x": "s390x",
    "linux-armv7l": "armv7l",
    "osx-64": "x86_64",
    "osx-arm64": "arm64",
    "win-64": "x86_64",
    "win-arm64": "arm64",
}
_LINUX_VERSION = re.compile(r"\d+\.\d+(\.\d+)?(\.\d+)?")
_CUDA_PROBE = r"""
import ctypes, sys
names = sys.argv[1:]
for name in names:
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        continue
    if lib.cuInit(0) != 0:
        continue
    v = ctypes.c_int(0)
    if lib.cuDriverGetVersion(ctypes.byref(v)) != 0:
        continue
    print(f"{v.value // 1000}.{(v.value % 1000) // 10}")
    break
"""


def _override(name: str) -> str | None:
    return os.environ.get(f"CONDA_OVERRIDE_{name.upper()}")


def _cuda_libraries() -> list[str]:
    if sys.platform == "win32":
        return ["nvcuda.dll"]
    if sys.platform == "darwin":
        return ["libcuda.1.dylib", "libcuda.dylib", "/usr/local/cuda/lib/libcuda.dylib"]
    candidates = []
    for lib in (
        "libcuda.so",
        "/usr/lib64/nvidia/libcuda.so",
        "/usr/lib/x86_64-linux-gnu/libcuda.so",
        "/usr/lib/wsl/lib/libcuda.so",
    ):
        candidates += [lib + ".1", lib]
    return candidates


@functools.lru_cache(maxsize=1)
def detect_cuda_version() -> str | None:
    """The CUDA driver's version (``12.2``), or None when no driver is installed."""
    if sys.platform == "darwin" and machine() == "arm64":
        return None
    libs = _cuda_libraries()
    if not _may_have_cuda_driver(libs):
        return None  # no driver library: skip the subprocess
    import subprocess  # imported here: a target given in full never asks

    try:
        proc = subprocess.run([sys.executable, "-c", _CUDA_PROBE, *libs], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = proc.stdout.strip()
    return out or None


def _may_have_cuda_driver(libs: list[str]) -> bool:
    """Whether a CUDA driver library could be loaded, decided without starting a process where
    possible: :func:`ctypes.util.find_library` runs ``ldconfig -p`` (or gcc) on Linux, about 25 ms
    of every command's start on a machine without a GPU. On Linux the dynamic loader finds a
    library through its cache file, ``LD_LIBRARY_PATH`` or a full path, so those are what is read;
    elsewhere, or when the cache cannot be read, ``find_library`` answers."""
    if any(os.path.exists(p) for p in libs if "/" in p):
        return True
    if sys.platform.startswith("linux"):
        try:
            with open("/etc/ld.so.cache", "rb") as handle:
                if b"libcuda.so" in handle.read():
                    return True
        except OSError:
            pass
        else:
            for directory in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
                try:
                    if directory and any(n.startswith("libcuda.so") for n in os.listdir(directory)):
                        return True
                except OSError:
                    continue
            return False
    import ctypes.util

    return ctypes.util.find_library("cuda") is not None


def describe_cuda_driver() -> str:
    """What ``solvent info`` says of the driver: its version and where that came from."""
    override = _override("cuda")
    if override is not None:
        value = override.strip()
        return f"{value} (CONDA_OVERRIDE_CUDA)" if value else "none (CONDA_OVERRIDE_CUDA is empty)"
    found = detect_cuda_version()
    if found:
        return f"{found} (detected: cuDriverGetVersion)"
    return "none detected (set CONDA_OVERRIDE_CUDA=12.4, say, to target a driver)"


def _glibc_version() -> str | None:
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        value = None
    if value and value.startswith("glibc "):
        return value.split()[1]
    return None


def _archspec(platform: str) -> str | None:
    if platform == native_platform():
        name = machine().lower()
        return {"amd64": "x86_64", "arm64": "arm64" if sys.platform == "darwin" else "aarch64"}.get(name, name)
    return DEFAULT_ARCHSPEC.get(platform)


def _mac_version() -> str | None:
    import platform

    return platform.mac_ver()[0] or None


def _windows_version() -> str:
    import platform

    return platform.version() or "0"


def _make(name: str, version: str | None, build: str | None, platform: str) -> PackageRecord:
    return PackageRecord.virtual(name, version or "0", build or "0", subdir=platform)


def _assemble(platform: str, native: bool) -> list[PackageRecord]:
    """Detected (native) or default values, then ``CONDA_OVERRIDE_*`` applied like conda."""
    osname = platform_os(platform)
    out: list[PackageRecord] = []

    def add(
        name: str, version: str | None, build: str | None = None, *, entity: str = "version", empty_removes: bool = True
    ) -> None:
        override = _override(name[2:])
        if override is not None:
            value = override.strip()
            if not value:
                if empty_removes:
                    return
                value = "0"
            if entity == "version":
                version = value
            else:
                build = value
        if (entity == "version" and version is None) or (entity == "build" and build is None):
            return
        out.append(_make(name, version, build, platform))

    if osname in ("linux", "osx", "freebsd"):
        out.append(_make("__unix", "0", "0", platform))
    if osname == "linux":
        kernel = None
        if native:
            m = _LINUX_VERSION.match(os.uname().release)
            kernel = m.group() if m else None
        add("__linux", kernel if native else DEFAULT_LINUX, empty_removes=False)
        add("__glibc", (_glibc_version() or DEFAULT_GLIBC) if native else DEFAULT_GLIBC)
    elif osname == "osx":
        add("__osx", _mac_version() if native else DEFAULT_OSX.get(platform, "10.15"))
    elif osname == "win":
        add("__win", _windows_version() if native else "0")
    add("__cuda", detect_cuda_version() if native else None)
    add("__archspec", "1", _archspec(platform), entity="build")
    return sorted(out, key=lambda r: r.name)


def detect_virtual_packages(platform: str | None = None) -> list[PackageRecord]:
    """What this machine has (with overrides), as records for ``platform`` (default: native)."""
    target = platform or native_platform()
    return _assemble(target, native=True)


def default_virtual_packages(platform: str) -> list[PackageRecord]:
    """What a typical machine of ``platform`` has (with overrides): for cross-platform solves."""
    return _assemble(validate_platform(platform), native=False)


def parse_virtual_package(text: str, platform: str = "noarch") -> PackageRecord:
    """``__cuda=12.2``, ``__glibc=2.28=0``, ``__archspec=1=x86_64`` -> a virtual package record."""
    name, _, rest = text.strip().partition("=")
    version, _, build = rest.partition("=")
    name = name.strip().lower()
    if not name.startswith("__") or len(name) < 3:
        raise InvalidInput(f"invalid virtual package {text!r}: names start with '__' (e.g. __cuda=12.2)")
    try:
        return PackageRecord.virtual(name, version.strip() or "0", build.strip() or "0", subdir=platform)
    except InvalidRecord as exc:
        raise InvalidInput(f"invalid virtual package {text!r}: {exc}") from None


def resolve_virtual_packages(
    platform: str, explicit: Sequence[str | PackageRecord] | None = None
) -> list[PackageRecord]:
    """The target's virtual packages: detected (native) or defaults, with ``explicit`` ones
    replacing those of the same name. ``__name=`` (no version) in ``explicit`` removes one."""
    base = detect_virtual_packages(platform) if platform == native_platform() else default_virtual_packages(platform)
    by_name = {r.name: r for r in base}
    for item in explicit or ():
        if isinstance(item, PackageRecord):
            by_name[item.name] = item
            continue
        if item.strip().endswith("=") and item.count("=") == 1:
            by_name.pop(item.strip()[:-1].lower(), None)
            continue
        record = parse_virtual_package(item, platform)
        by_name[record.name] = record
    return [by_name[n] for n in sorted(by_name)]


def describe(records: Iterable[PackageRecord]) -> list[str]:
    return [f"{r.name}={r.version}={r.build}" for r in records]
