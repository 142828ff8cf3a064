"""What a solution (or lockfile) chose for CUDA, and the traps worth a warning.

CUDA compatibility in conda lives in the records themselves: framework builds depend on a toolkit
(``cudatoolkit``, ``cuda-version``, ``pytorch-cuda``), toolkits and builds depend on or constrain the
``__cuda`` virtual package (the driver), and metapackages such as ``pytorch-mutex`` pin a variant.
The solver honours all of that; this module reads the answer back: the toolkit line, the cuDNN and
NCCL builds and the toolkit each was built for, whether each framework got a CUDA or a CPU build
(and for which CUDA and cuDNN), and the oldest driver the environment can run on.

The records do not say everything a user can trip over. Two channels can install two toolkit lines
side by side (the nvidia channel's split runtime next to a ``cudatoolkit`` that a conda-forge cuDNN
pulled in), the nvidia channel's old runtime packages do not constrain ``__cuda`` at all, and a
CUDA build installs happily on a machine without a driver. Those are flagged as warnings here. See
``docs/cuda.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from solvent.errors import LockfileError
from solvent.version import parse_version

#: Packages whose CUDA or CPU build the report names (the ones a user asks for).
FRAMEWORKS = (
    "pytorch",
    "torchvision",
    "torchaudio",
    "tensorflow",
    "tensorflow-base",
    "tensorflow-gpu",
    "jaxlib",
    "cupy",
    "cudf",
    "faiss",
    "faiss-gpu",
    "onnxruntime",
)
#: Frameworks that only exist as CUDA builds, whatever their build string says.
CUDA_ONLY = frozenset({"cupy", "cudf", "faiss-gpu", "tensorflow-gpu"})
#: Packages whose versions are a CUDA toolkit line, most telling first: the runtime that is loaded,
#: then the metapackages that pin it.
TOOLKITS = ("cuda-cudart", "cudatoolkit", "cuda-version", "pytorch-cuda", "cuda-toolkit", "cuda-runtime")
#: Frameworks that must agree on CPU or CUDA (torchvision's CUDA kernels need torch's CUDA build).
FAMILIES = {
    "pytorch": ("pytorch", "torchvision", "torchaudio", "libtorch", "pytorch-mutex"),
    "tensorflow": ("tensorflow", "tensorflow-base"),
    "jax": ("jaxlib",),
}
_CUDA_NAME = re.compile(r"^(__cuda|cuda[a-z0-9._-]*|cudatoolkit|cudnn|libcudnn|nccl|pytorch-cuda|magma-cuda\d*)$")
_LOWER = re.compile(r">=\s*([0-9][0-9A-Za-z._]*)")
_BUILD_CUDA = re.compile(r"(?<![a-z])cu(?:da)?_?(\d+)(?:\.(\d+))?")
_BUILD_CUDNN = re.compile(r"cudnn_?(\d+(?:\.\d+)*)")
_FIRST_VERSION = re.compile(r"(\d+(?:\.\d+)*)")
_UPPER_MAJOR = re.compile(r"<\s*(\d+)(?:\.0)?(?:a0)?(?:[,|\s]|$)")


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
    #: The CUDA line the environment runs (``12.1``) and the package that says so.
    toolkit_line: str | None = None
    toolkit_source: str | None = None
    cudnn: str | None = None
    #: cuDNN / NCCL: version, build and the toolkit line they were built for.
    cudnn_build: dict[str, str] | None = None
    nccl: dict[str, str] | None = None
    frameworks: list[dict[str, Any]] = field(default_factory=list)
    min_driver: str | None = None
    min_driver_reason: str | None = None
    #: Why each CPU framework is not a CUDA build (filled by whoever can solve again).
    cpu_reasons: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def cpu_frameworks(self) -> list[str]:
        return [fw["name"] for fw in self.frameworks if fw["variant"] == "cpu"]

    def render(self) -> str:
        lines = [f"CUDA report for {self.platform} (target __cuda: {self.target_cuda or 'none'})"]
        if self.toolkit_line:
            others = [f"{k} {v}" for k, v in sorted(self.toolkit.items()) if k != self.toolkit_source]
            lines.append(
                f"  toolkit: CUDA {self.toolkit_line} ({self.toolkit_source} {self.toolkit[self.toolkit_source or '']})"
                + (f"; also {', '.join(others)}" if others else "")
            )
        for label, lib in (("cuDNN", self.cudnn_build), ("NCCL", self.nccl)):
            if lib:
                built = f", built for CUDA {lib['built_for']} ({lib['built_for_spec']})" if lib.get("built_for") else ""
                lines.append(f"  {label}: {lib['name']} {lib['version']} ({lib['build']}){built}")
        for fw in self.frameworks:
            if fw["variant"] == "cuda":
                what = f"CUDA {fw['cuda']} build" if fw.get("cuda") else "CUDA build"
                if fw.get("cudnn"):
                    what += f", cuDNN {fw['cudnn']}"
            else:
                what = "CPU build"
            lines.append(f"  {fw['name']} {fw['version']} ({fw['build']}): {what}")
            if fw["name"] in self.cpu_reasons:
                lines.append(f"    not a CUDA build because: {self.cpu_reasons[fw['name']]}")
        driver = self.min_driver or "none required"
        lines.append(
            f"  minimum driver (__cuda): {driver}" + (f" ({self.min_driver_reason})" if self.min_driver_reason else "")
        )
        if self.constrained:
            lines.append("  packages with CUDA constraints:")
            for c in self.constrained:
                lines.append(f"    {c['package']}: {'; '.join(c['constraints'])}")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _name(spec: str) -> str:
    return re.split(r"[\s=<>!~\[]", spec.strip(), maxsplit=1)[0].lower()


def _major_minor(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2])


def _major(line: str) -> int:
    return int(line.split(".")[0])


def build_cuda(build: str) -> str | None:
    """The CUDA line in a build string: ``py3.9_cuda11.8_...`` 11.8, ``cuda129_mkl_...`` 12.9, ``py39_cu117`` 11.7."""
    m = _BUILD_CUDA.search(build.lower())
    if m is None:
        return None
    digits, minor = m.group(1), m.group(2)
    if minor is not None:
        return f"{int(digits)}.{int(minor)}"
    if len(digits) == 2:
        return f"{digits[0]}.{digits[1]}"
    if len(digits) in (3, 4):
        return f"{int(digits[:2])}.{int(digits[2:])}"
    return None


def build_cudnn(build: str) -> str | None:
    m = _BUILD_CUDNN.search(build.lower())
    return m.group(1) if m else None


def spec_line(spec: str) -> str | None:
    """The toolkit line a dependency spec pins: ``cudatoolkit 11.*`` 11.x, ``cuda-version >=12.0,<13`` 12.x."""
    rest = spec.strip()[len(_name(spec)) :]
    m = _FIRST_VERSION.search(rest)
    if m is None:
        return None
    lower = m.group(1)
    upper = _UPPER_MAJOR.search(rest)
    whole_major = re.search(r"\d\.\*", rest) is not None and lower.count(".") == 0
    if whole_major or (upper is not None and int(upper.group(1)) == _major(lower) + 1):
        return f"{_major(lower)}.x"
    return _major_minor(lower)


def _same_line(a: str, b: str) -> bool:
    """12.x and 12.1 agree; 11.8 and 12.1 do not (CUDA's minor-version compatibility within a major)."""
    return _major(a) == _major(b)


def variant(pkg: LockedPackage, chosen: dict[str, LockedPackage]) -> str:
    """``cuda`` or ``cpu`` for a framework build, from its build string and its dependencies."""
    build = pkg.build.lower()
    if pkg.name in CUDA_ONLY or "cuda" in build or "gpu" in build or _BUILD_CUDA.search(build):
        return "cuda"
    if "cpu" in build:
        return "cpu"
    names = {_name(d) for d in pkg.depends}
    if names & {"pytorch-cuda", "cudatoolkit", "cudnn", "libcudnn", "cuda-cudart", "cuda-version"} or "__cuda" in names:
        return "cuda"
    mutex = chosen.get("pytorch-mutex")
    if mutex is not None and pkg.name in ("pytorch", "torchvision", "torchaudio"):
        return "cuda" if "cuda" in mutex.build else "cpu"
    return "cpu"


def _framework_cuda(pkg: LockedPackage, chosen: dict[str, LockedPackage]) -> str | None:
    found = build_cuda(pkg.build)
    if found:
        return found
    for dep in pkg.depends:
        name = _name(dep)
        if name in TOOLKITS:
            if name in chosen:
                return _major_minor(chosen[name].version)
            return spec_line(dep)
    return None


def _framework_cudnn(pkg: LockedPackage, chosen: dict[str, LockedPackage]) -> str | None:
    found = build_cudnn(pkg.build)
    if found:
        return found
    for dep in pkg.depends:
        if _name(dep) in ("cudnn", "libcudnn") and _name(dep) in chosen:
            return chosen[_name(dep)].version
    return None


def _library(pkg: LockedPackage) -> dict[str, str]:
    """A cuDNN or NCCL build and the toolkit line its dependencies tie it to."""
    out = {"name": pkg.name, "version": pkg.version, "build": pkg.build}
    for dep in pkg.depends:
        if _name(dep) in ("cudatoolkit", "cuda-version"):
            line = spec_line(dep)
            if line:
                out["built_for"] = line
                out["built_for_spec"] = dep
                break
    return out


def _driver_for_line(line: str) -> str:
    """The oldest driver a toolkit line runs on: CUDA 11+ has minor-version compatibility within a major."""
    return str(_major(line)) if _major(line) >= 11 else line


def _newer(a: str, b: str | None) -> bool:
    return b is None or parse_version(a) > parse_version(b)


def analyze(
    packages: Iterable[LockedPackage], platform: str, target_cuda: str | None, requested: Sequence[str] = ()
) -> CudaReport:
    chosen = {p.name: p for p in packages}
    report = CudaReport(platform=platform, target_cuda=target_cuda)
    for pkg in sorted(chosen.values(), key=lambda p: p.name):
        hits = [f"depends {d}" for d in pkg.depends if _CUDA_NAME.match(_name(d))]
        hits += [f"constrains {c}" for c in pkg.constrains if _CUDA_NAME.match(_name(c))]
        if hits:
            report.constrained.append({"package": f"{pkg.name} {pkg.version} ({pkg.build})", "constraints": hits})
        for spec in [*pkg.depends, *pkg.constrains]:
            if _name(spec) == "__cuda":
                for m in _LOWER.finditer(spec):
                    v = m.group(1).rstrip(".")
                    if _newer(v, report.min_driver):
                        report.min_driver = v
                        kind = "depends on" if spec in pkg.depends else "constrains"
                        report.min_driver_reason = f"{pkg.name} {pkg.version} {kind} {spec.strip()}"
        if pkg.name in TOOLKITS:
            report.toolkit[pkg.name] = pkg.version
        if pkg.name in FRAMEWORKS:
            kind = variant(pkg, chosen)
            report.frameworks.append(
                {
                    "name": pkg.name,
                    "version": pkg.version,
                    "build": pkg.build,
                    "variant": kind,
                    "cuda": _framework_cuda(pkg, chosen) if kind == "cuda" else None,
                    "cudnn": _framework_cudnn(pkg, chosen) if kind == "cuda" else None,
                }
            )
    cudnn = chosen.get("cudnn") or chosen.get("libcudnn")
    if cudnn is not None:
        report.cudnn = f"{cudnn.version} ({cudnn.build})"
        report.cudnn_build = _library(cudnn)
    if "nccl" in chosen:
        report.nccl = _library(chosen["nccl"])
    source = next((t for t in TOOLKITS if t in chosen), None)
    if source is not None:
        report.toolkit_source = source
        report.toolkit_line = _major_minor(chosen[source].version)
    _driver_floor(report)
    _warn(report, chosen, requested)
    return report


def _driver_floor(report: CudaReport) -> None:
    """The toolkit's own need joins the records' ``__cuda`` bounds: old nvidia packages declare none."""
    if report.toolkit_line is None:
        return
    need = _driver_for_line(report.toolkit_line)
    if _newer(need, report.min_driver):
        report.min_driver = need
        report.min_driver_reason = (
            f"the CUDA {report.toolkit_line} runtime ({report.toolkit_source} "
            f"{report.toolkit[report.toolkit_source or '']}) needs a CUDA {need} driver or newer"
        )


def _warn(report: CudaReport, chosen: dict[str, LockedPackage], requested: Sequence[str]) -> None:
    target = report.target_cuda
    for fw in report.frameworks:
        if fw["variant"] == "cpu" and target and fw["name"] not in CUDA_ONLY:
            report.warnings.append(
                f"{fw['name']} resolved to a CPU build ({fw['build']}) although the target has __cuda {target}"
            )
    cuda_builds = [fw for fw in report.frameworks if fw["variant"] == "cuda"]
    if not target:
        wants_cuda = [s for s in requested if "cuda" in s.lower() or "gpu" in s.lower()]
        if cuda_builds:
            names = ", ".join(f"{fw['name']} {fw['version']}" for fw in cuda_builds)
            report.warnings.append(
                f"CUDA builds were chosen ({names}) but the target has no __cuda virtual package: "
                f"they need a driver ({report.min_driver or 'any version'} or newer) to use a GPU"
            )
        elif wants_cuda:
            report.warnings.append(
                f"a CUDA build was requested ({', '.join(wants_cuda)}) but the target has no __cuda virtual package"
            )
    elif report.min_driver and parse_version(target) < parse_version(report.min_driver):
        report.warnings.append(
            f"the target's driver (__cuda {target}) is older than this environment needs: {report.min_driver_reason}"
        )
    # Two toolkit lines side by side: each library loads whichever runtime it finds first.
    lines = {name: _major_minor(v) for name, v in report.toolkit.items()}
    majors = sorted({_major(v) for v in lines.values()})
    if len(majors) > 1:
        report.warnings.append(
            "toolkits of different CUDA major versions are installed together: "
            + ", ".join(f"{k} {report.toolkit[k]}" for k in sorted(lines))
        )
    elif len(set(lines.values())) > 1:
        report.notes.append(
            "toolkit packages of different CUDA minor versions (compatible within a major): "
            + ", ".join(f"{k} {report.toolkit[k]}" for k in sorted(lines))
        )
    for label, lib in (("cuDNN", report.cudnn_build), ("NCCL", report.nccl)):
        line = report.toolkit_line
        if lib and lib.get("built_for") and line and not _same_line(lib["built_for"], line):
            report.warnings.append(
                f"{label} {lib['version']} was built for CUDA {lib['built_for']} but the environment runs "
                f"CUDA {report.toolkit_line} ({report.toolkit_source})"
            )
    for fw in cuda_builds:
        if fw.get("cuda") and report.toolkit_line and not _same_line(fw["cuda"], report.toolkit_line):
            report.warnings.append(
                f"{fw['name']} was built for CUDA {fw['cuda']} but the environment runs CUDA {report.toolkit_line} "
                f"({report.toolkit_source})"
            )
        lib = report.cudnn_build
        if fw.get("cudnn") and lib and fw["cudnn"].split(".")[0] != lib["version"].split(".")[0]:
            report.notes.append(
                f"{fw['name']} was built with cuDNN {fw['cudnn']}; the environment also has cuDNN {lib['version']}"
                + (" (pytorch-channel builds carry their own cuDNN)" if "_cudnn" in fw["build"] else "")
            )
    for family, members in FAMILIES.items():
        variants: dict[str, list[str]] = {}
        for name in members:
            pkg = chosen.get(name)
            if pkg is None:
                continue
            kind = ("cuda" if "cuda" in pkg.build else "cpu") if name == "pytorch-mutex" else variant(pkg, chosen)
            variants.setdefault(kind, []).append(f"{name} {pkg.version} ({pkg.build})")
        if len(variants) > 1:
            report.warnings.append(
                f"CPU and CUDA builds of {family} are mixed: CUDA {', '.join(variants['cuda'])}; "
                f"CPU {', '.join(variants['cpu'])}"
            )


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
        header: dict[str, str | None] = {}
        cpu_reasons = {}
        for line in text.splitlines():
            if line.startswith("# ") and ":" in line:
                key, _, value = line[2:].partition(":")
                if key.strip() == "cpu_build":
                    name, _, why = value.strip().partition(": ")
                    cpu_reasons[name] = why
                header[key.strip()] = value.strip() or None
        pkgs = packages_from_explicit(u for u, _, _ in parsed.urls)
        report = analyze(pkgs, parsed.platform or "unknown", header.get("target_cuda"))
        _recorded_floor(report, header.get("min_cuda_driver"))
        report.cpu_reasons = cpu_reasons
        reports.append(report)
    else:
        doc = read_conda_lock(text, str(path))
        cuda_meta = (doc.get("metadata") or {}).get("custom_metadata") or {}
        for platform in doc["metadata"]["platforms"]:
            target = cuda_meta.get(f"target_cuda.{platform}") or None
            report = analyze(packages_from_conda_lock(doc, platform), platform, target)
            # constrains are not part of conda-lock.yml: the lock recorded the driver floor they imply
            _recorded_floor(report, cuda_meta.get(f"min_cuda_driver.{platform}"))
            prefix = f"cpu_build.{platform}."
            report.cpu_reasons = {k[len(prefix) :]: v for k, v in cuda_meta.items() if k.startswith(prefix)}
            reports.append(report)
    if getattr(args, "json", False):
        print(json.dumps({"ok": True, "reports": [r.to_dict() for r in reports]}, indent=1))
    else:
        print("\n\n".join(r.render() for r in reports))
    return 0


def _recorded_floor(report: CudaReport, recorded: str | None) -> None:
    if recorded and _newer(str(recorded), report.min_driver):
        report.min_driver = str(recorded)
        report.min_driver_reason = "recorded by the lock (the records' constrains on __cuda)"
