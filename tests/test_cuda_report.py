"""The CUDA report's reading of build strings and dependency specs, and each warning, on small
hand-written environments (the real stacks are in test_cuda_real.py)."""

from __future__ import annotations

import pytest

from solvent.lockfiles.cuda import LockedPackage, analyze, build_cuda, build_cudnn, spec_line


@pytest.mark.parametrize(
    ("build", "cuda"),
    [
        ("py3.9_cuda11.8_cudnn8.7.0_0", "11.8"),
        ("cuda129_mkl_py313_h392364f_301", "12.9"),
        ("cuda126py313hb1b46e1_200", "12.6"),
        ("py39_cu117", "11.7"),
        ("py3.8_cuda10.1.243_cudnn7.6.3_0", "10.1"),
        ("cuda92_0", "9.2"),
        ("cuda130_generic_h63a1e35_203", "13.0"),
        ("cpu_mkl_py313_h19d87ba_102", None),
        ("h1cu2ab_0", None),  # letters before "cu": a hash, not a CUDA tag
        ("cuda_py313_h6be0d2c_2", None),
    ],
)
def test_build_cuda(build: str, cuda: str | None) -> None:
    assert build_cuda(build) == cuda


def test_build_cudnn_and_spec_lines() -> None:
    assert build_cudnn("py3.9_cuda12.1_cudnn8.9.2_0") == "8.9.2"
    assert build_cudnn("py3.12_cuda12.4_cudnn9_0") == "9"
    assert build_cudnn("cuda129_mkl_py313_h392364f_301") is None
    assert spec_line("cudatoolkit 11.*") == "11.x"
    assert spec_line("cudatoolkit 10.1|10.1.*") == "10.1"
    assert spec_line("cuda-version >=12.0,<13.0a0") == "12.x"
    assert spec_line("cuda-version >=12,<13") == "12.x"
    assert spec_line("cuda-version >=12.9,<12.10.0a0") == "12.9"
    assert spec_line("cudatoolkit >=11.2,<12") == "11.x"
    assert spec_line("cudatoolkit") is None


def _pkg(name: str, version: str, build: str, depends: tuple[str, ...] = (), constrains: tuple[str, ...] = ()):
    return LockedPackage(name, version, build, list(depends), list(constrains))


def test_mixed_cpu_and_cuda_builds_of_one_family_are_flagged() -> None:
    env = [
        _pkg("pytorch", "2.3.0", "py3.9_cuda12.1_cudnn8.9.2_0", ("pytorch-cuda >=12.1,<12.2",)),
        _pkg("pytorch-cuda", "12.1", "ha16c6d3_5"),
        _pkg("torchvision", "0.18.0", "py39_cpu"),
    ]
    report = analyze(env, "linux-64", "12.4")
    assert any(w.startswith("CPU and CUDA builds of pytorch are mixed") for w in report.warnings)
    assert any("torchvision resolved to a CPU build" in w for w in report.warnings)
    fw = {f["name"]: f for f in report.frameworks}
    assert (fw["pytorch"]["cuda"], fw["pytorch"]["cudnn"]) == ("12.1", "8.9.2")


def test_toolkit_lines_and_driver_floor() -> None:
    env = [
        _pkg("cuda-cudart", "12.1.105", "0"),  # the nvidia channel's runtime: no __cuda anywhere
        _pkg("cudatoolkit", "11.8.0", "h4ba93d1_13", constrains=("__cuda >=11",)),
        _pkg("cudnn", "8.3.2.44", "hed8a83a_1", ("cudatoolkit 11.*",)),
        _pkg("nccl", "2.27.3.1", "h03a54cd_0", ("cuda-version >=11,<12.0a0",)),
        _pkg("jaxlib", "0.4.20", "cuda118py39h0", ("cudnn >=8.3,<9",)),
    ]
    report = analyze(env, "linux-64", "11.8")
    assert (report.toolkit_line, report.toolkit_source) == ("12.1", "cuda-cudart")
    assert report.min_driver == "12" and "CUDA 12.1 runtime" in (report.min_driver_reason or "")
    text = "\n".join(report.warnings)
    assert "(__cuda 11.8) is older than this environment needs" in text
    assert "toolkits of different CUDA major versions are installed together" in text
    assert "cuDNN 8.3.2.44 was built for CUDA 11.x but the environment runs CUDA 12.1" in text
    assert "NCCL 2.27.3.1 was built for CUDA 11.x" in text
    assert "jaxlib was built for CUDA 11.8 but the environment runs CUDA 12.1" in text
    rendered = report.render()
    assert "toolkit: CUDA 12.1 (cuda-cudart 12.1.105); also cudatoolkit 11.8.0" in rendered
    assert "cuDNN: cudnn 8.3.2.44 (hed8a83a_1), built for CUDA 11.x (cudatoolkit 11.*)" in rendered


def test_a_consistent_environment_has_no_warnings() -> None:
    env = [
        _pkg("cuda-version", "12.9", "h4f385c5_3", constrains=("__cuda >=12", "cudatoolkit 12.9|12.9.*")),
        _pkg("cuda-cudart", "12.9.79", "h5888daf_0", ("cuda-version >=12.9,<12.10.0a0",)),
        _pkg("cudnn", "9.13.1.26", "hbcb9cd8_0", ("cuda-version >=12,<13.0a0",)),
        _pkg("pytorch", "2.8.0", "cuda129_mkl_py313_h392364f_301", ("__cuda", "cuda-version >=12.9,<13")),
        _pkg("cupy", "13.6.0", "py310h8c3aed4_2", ("cuda-version >=12,<13.0a0",)),
    ]
    report = analyze(env, "linux-64", "12.4")
    assert report.warnings == [] and report.notes == []
    assert report.min_driver == "12" and report.min_driver_reason == "cuda-version 12.9 constrains __cuda >=12"
    assert {f["name"]: (f["variant"], f["cuda"]) for f in report.frameworks} == {
        "cupy": ("cuda", "12.9"),
        "pytorch": ("cuda", "12.9"),
    }
    # the same environment without a driver installs, and says it cannot use a GPU
    none = analyze(env, "linux-64", None)
    assert any("no __cuda virtual package: they need a driver (12 or newer)" in w for w in none.warnings)
