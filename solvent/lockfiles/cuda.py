"""What a solution (or lockfile) chose for CUDA, and the traps worth a warning.

CUDA compatibility in conda lives in the records themselves: framework builds depend on a toolkit
(``cudatoolkit``, ``cuda-version``, ``pytorch-cuda``), toolkits and builds depend on or constrain the
``__cuda`` virtual package (the driver), and metapackages such as ``pytorch-mutex`` pin a variant.
The solver honours all of that; this module reads the answer back: which packages carry CUDA
constraints, the toolkit and cuDNN chosen, whether each framework got a CUDA or a CPU build, and the
oldest driver the environment can run on. See ``docs/cuda.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from solvent.errors import LockfileError
from solvent.version import parse_version

FRAMEWORKS = ("pytorch", "torchvision", "torchaudio", "tensorflow", "tensorflow-gpu", "jaxlib", "cupy", "faiss")
TOOLKITS = ("cuda-version", "cudatoolkit", "pytorch-cuda", "cuda-toolkit", "cuda-runtime", "cuda-cudart")
_CUDA_NAME = re.compile(r"^(__cuda|cuda[a-z0-9._-]*|cudatoolkit|cudnn|nccl|pytorch-cuda|magma-cuda\d*)$")
_LOWER = re.compile(r">=\s*([0-9][0-9A-Za-z._]*)")


@dataclass
class LockedPackage:
    """The part of a record the analysis needs (lockfiles carry no more than this)."""

    name: str
    version: str
    build: str
    depends: list[str] = field(default_factory=list)
    constrains: list[str] = field(default_factory=list)


@dataclass
class CudaReport:
    platform: str
    target_cuda: str | None
    constrained: list[dict[str, Any]] = field(default_factory=list)
    toolkit: dict[str, str] = field(default_factory=dict)
    cudnn: str | None = None
    frameworks: list[dict[str, str]] = field(default_factory=list)
    min_driver: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        lines = [f"CUDA report for {self.platform} (target __cuda: {self.target_cuda or 'none'})"]
        if self.toolkit:
            lines.append("  toolkit: " + ", ".join(f"{k} {v}" for k, v in sorted(self.toolkit.items())))
        if self.cudnn:
            lines.append(f"  cuDNN: {self.cudnn}")
        for fw in self.frameworks:
            lines.append(f"  {fw['name']} {fw['version']} ({fw['build']}): {fw['variant']} build")
        lines.append(f"  minimum driver (__cuda): {self.min_driver or 'none required'}")
        if self.constrained:
            lines.append("  packages with CUDA constraints:")
            for c in self.constrained:
                lines.append(f"    {c['package']}: {'; '.join(c['constraints'])}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


def _name(spec: str) -> str:
    return re.split(r"[\s=<>!~\[]", spec.strip(), maxsplit=1)[0].lower()


def variant(pkg: LockedPackage, chosen: dict[str, LockedPackage]) -> str:
    """``cuda`` or ``cpu`` for a framework build, from its build string and its dependencies."""
    build = pkg.build.lower()
    if "cuda" in build or "gpu" in build:
        return "cuda"
    if "cpu" in build:
        return "cpu"
    names = {_name(d) for d in pkg.depends}
    if names & {"pytorch-cuda", "cudatoolkit", "cudnn", "cuda-cudart", "cuda-version"} or "__cuda" in names:
        return "cuda"
    mutex = chosen.get("pytorch-mutex")
    if mutex is not None and pkg.name in ("pytorch", "torchvision", "torchaudio"):
        return "cuda" if "cuda" in mutex.build else "cpu"
    return "cpu"


def analyze(
    packages: Iterable[LockedPackage], platform: str, target_cuda: str | None, requested: Sequence[str] = ()
) -> CudaReport:
    chosen = {p.name: p for p in packages}
    report = CudaReport(platform=platform, target_cuda=target_cuda)
    driver_floor = None
    for pkg in sorted(chosen.values(), key=lambda p: p.name):
        hits = [f"depends {d}" for d in pkg.depends if _CUDA_NAME.match(_name(d))]
        hits += [f"constrains {c}" for c in pkg.constrains if _CUDA_NAME.match(_name(c))]
        if hits:
            report.constrained.append({"package": f"{pkg.name} {pkg.version} ({pkg.build})", "constraints": hits})
        for spec in [*pkg.depends, *pkg.constrains]:
            if _name(spec) == "__cuda":
                for m in _LOWER.finditer(spec):
                    v = m.group(1).rstrip(".")
                    if driver_floor is None or parse_version(v) > parse_version(driver_floor):
                        driver_floor = v
        if pkg.name in TOOLKITS:
            report.toolkit[pkg.name] = pkg.version
        if pkg.name == "cudnn":
            report.cudnn = f"{pkg.version} ({pkg.build})"
        if pkg.name in FRAMEWORKS:
            report.frameworks.append(
                {"name": pkg.name, "version": pkg.version, "build": pkg.build, "variant": variant(pkg, chosen)}
            )
    report.min_driver = driver_floor
    for fw in report.frameworks:
        if fw["variant"] == "cpu" and target_cuda:
            report.warnings.append(
                f"{fw['name']} resolved to a CPU build ({fw['build']}) although the target has __cuda {target_cuda}"
            )
    wants_cuda = [s for s in requested if "cuda" in s.lower() or "gpu" in s.lower()]
    if wants_cuda and not target_cuda:
        report.warnings.append(
            f"a CUDA build was requested ({', '.join(wants_cuda)}) but the target has no __cuda virtual package"
        )
    return report


def packages_from_conda_lock(doc: dict[str, Any], platform: str) -> list[LockedPackage]:
    out = []
    for entry in doc.get("package", []):
        if entry.get("platform") != platform or entry.get("manager") != "conda":
            continue
        url = entry.get("url", "")
        fn = url.rsplit("/", 1)[-1]
        stem = fn[: -len(".tar.bz2")] if fn.endswith(".tar.bz2") else fn.rsplit(".", 1)[0]
        build = stem.rsplit("-", 2)[-1] if stem.count("-") >= 2 else ""
        deps = [f"{k} {v}" if v != "*" else k for k, v in (entry.get("dependencies") or {}).items()]
        out.append(LockedPackage(entry["name"], str(entry["version"]), build, deps))
    return out


def packages_from_explicit(urls: Iterable[str]) -> list[LockedPackage]:
    out = []
    for url in urls:
        fn = url.rsplit("/", 1)[-1]
        stem = fn[: -len(".tar.bz2")] if fn.endswith(".tar.bz2") else fn.rsplit(".", 1)[0]
        parts = stem.rsplit("-", 2)
        if len(parts) == 3:
            out.append(LockedPackage(parts[0], parts[1], parts[2]))
    return out


def run_explain_cuda(args: Any) -> int:
    """``solvent explain-cuda LOCKFILE``: a report per platform of a conda-lock.yml or explicit file."""
    from solvent.lockfiles.conda_lock import read_conda_lock
    from solvent.lockfiles.explicit import parse_explicit

    path = Path(args.lockfile)
    try:
        text = path.read_text()
    except OSError as exc:
        raise LockfileError(f"cannot read {path}: {exc.strerror}") from None
    reports = []
    if "@EXPLICIT" in text:
        parsed = parse_explicit(text, str(path))
        header = {}
        for line in text.splitlines():
            if line.startswith("# ") and ":" in line:
                key, _, value = line[2:].partition(":")
                header[key.strip()] = value.strip() or None
        pkgs = packages_from_explicit(u for u, _, _ in parsed.urls)
        report = analyze(pkgs, parsed.platform or "unknown", header.get("target_cuda"))
        report.min_driver = report.min_driver or header.get("min_cuda_driver")
        reports.append(report)
    else:
        doc = read_conda_lock(text, str(path))
        cuda_meta = (doc.get("metadata") or {}).get("custom_metadata") or {}
        for platform in doc["metadata"]["platforms"]:
            target = cuda_meta.get(f"target_cuda.{platform}") or None
            report = analyze(packages_from_conda_lock(doc, platform), platform, target)
            # constrains are not part of conda-lock.yml: the lock recorded the driver floor they imply
            report.min_driver = cuda_meta.get(f"min_cuda_driver.{platform}") or report.min_driver
            reports.append(report)
    if getattr(args, "json", False):
        print(json.dumps({"ok": True, "reports": [r.to_dict() for r in reports]}, indent=1))
    else:
        print("\n\n".join(r.render() for r in reports))
    return 0
