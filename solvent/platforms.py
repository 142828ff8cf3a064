"""conda's platform subdirs and the running machine's one."""

from __future__ import annotations

import os
import sys

from solvent.errors import InvalidInput

KNOWN_PLATFORMS = (
    "emscripten-wasm32",
    "freebsd-64",
    "linux-32",
    "linux-64",
    "linux-aarch64",
    "linux-armv6l",
    "linux-armv7l",
    "linux-ppc64",
    "linux-ppc64le",
    "linux-riscv64",
    "linux-s390x",
    "noarch",
    "osx-64",
    "osx-arm64",
    "wasi-wasm32",
    "win-32",
    "win-64",
    "win-arm64",
    "zos-z",
)

_MACHINES = {
    "x86_64": "64",
    "amd64": "64",
    "aarch64": "aarch64",
    "arm64": "arm64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "armv7l": "armv7l",
    "armv6l": "armv6l",
    "riscv64": "riscv64",
    "i686": "32",
    "x86": "32",
}


def is_known_platform(subdir: str) -> bool:
    return subdir in KNOWN_PLATFORMS


def platform_os(subdir: str) -> str:
    """``linux``, ``osx``, ``win``, ... (the part before the dash)."""
    return subdir.split("-", 1)[0]


def machine() -> str:
    """What :func:`platform.machine` says, without importing :mod:`platform` (1.5 ms of every
    command's start) where ``os.uname`` gives the same answer."""
    if hasattr(os, "uname"):
        return os.uname().machine
    import platform

    return platform.machine()


def native_platform() -> str:
    """The subdir conda would use on this machine."""
    system = sys.platform
    machine_ = machine().lower()
    arch = _MACHINES.get(machine_, machine_)
    if system.startswith("linux"):
        os_name = "linux"
    elif system == "darwin":
        os_name = "osx"
        arch = "arm64" if machine_ == "arm64" else "64"
    elif system.startswith("win"):
        os_name = "win"
        arch = {"64": "64", "32": "32", "arm64": "arm64", "aarch64": "arm64"}.get(arch, arch)
    elif system.startswith("freebsd"):
        os_name = "freebsd"
    else:
        os_name = system
    return f"{os_name}-{arch}"


def validate_platform(subdir: str) -> str:
    """Return ``subdir`` if conda knows it, else raise naming the closest known ones."""
    value = subdir.strip()
    if value in KNOWN_PLATFORMS and value != "noarch":
        return value
    import difflib

    close = difflib.get_close_matches(value, KNOWN_PLATFORMS, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise InvalidInput(
        f"unknown platform {subdir!r}{hint}; known platforms: " + ", ".join(p for p in KNOWN_PLATFORMS if p != "noarch")
    )
