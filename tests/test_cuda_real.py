"""CUDA on real records: the harvest channels of ../shared/data, solved for many drivers.

Every case is a real stack from public lockfiles: the pytorch channel's CUDA builds with the
nvidia channel's runtime and conda-forge's cuDNN (CUDA 10/11/12 era), conda-forge's split CUDA 12
packages with ``pytorch-gpu``, ``jaxlib`` CUDA builds, and ``cudatoolkit`` + ``cudnn`` pairs. For
each driver the test checks what was chosen, what is warned and why a framework fell back to CPU;
the rendered matrices and reports are kept as snapshots in tests/data/cuda/ (rewrite them with
``SOLVENT_UPDATE_SNAPSHOTS=1`` after a deliberate change, and read the diff). Every solution
passes the independent verifier.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.lockfiles.cuda_matrix import CudaMatrix, cuda_matrix
from solvent.solver.verify import verify_solution
from solvent.virtual_packages import resolve_virtual_packages
from tests.conftest import CHANNELS

SNAPSHOTS = Path(__file__).parent / "data" / "cuda"
OLD = "harvest-cuda-nolicense"  # CUDA 10/11 era: pytorch, nvidia, conda-forge
NEW = "harvest-cuda"  # CUDA 12/13 era: conda-forge split packages

pytestmark = pytest.mark.skipif(not (CHANNELS / f"{OLD}__pytorch").is_dir(), reason="../shared/data not available")


@pytest.fixture(scope="module")
def alias(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``pytorch``, ``nvidia`` and ``conda-forge`` as channel names, the way users write them.

    The harvest channels live under long directory names; a channel alias pointing at a
    directory of links gives them their real names, so ``pytorch::pytorch`` means what it says.
    """
    out = {}
    for era in (OLD, NEW):
        root = tmp_path_factory.mktemp(era)
        for name in ("pytorch", "nvidia", "conda-forge"):
            (root / name).symlink_to(CHANNELS / f"{era}__{name}")
        out[era] = root.as_uri()
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("cache"))


def _matrix(
    monkeypatch: pytest.MonkeyPatch,
    alias_url: str,
    cache: str,
    specs: list[str],
    channels: list[str],
    drivers: list[str | None],
    platform: str = "linux-64",
) -> CudaMatrix:
    monkeypatch.setenv("CONDA_CHANNEL_ALIAS", alias_url)
    job: dict[str, Any] = dict(
        specs=specs,
        channels=channels,
        platform=platform,
        virtual_packages=resolve_virtual_packages(platform, ["__glibc=2.35"] if platform.startswith("linux") else []),
        channel_priority="strict",
        cache_dir=cache,
    )
    matrix = cuda_matrix(job, drivers, jobs=1)
    for row in matrix.rows:
        if row.report is None:
            continue
        virtual = resolve_virtual_packages(platform, [f"__cuda={row.driver or ''}"])
        assert verify_solution(row.records, specs, virtual_packages=virtual, platform=platform) == []
    return matrix


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("SOLVENT_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    assert path.exists(), f"no snapshot {path}: run with SOLVENT_UPDATE_SNAPSHOTS=1"
    assert text + "\n" == path.read_text()


def _row(matrix: CudaMatrix, driver: str | None) -> Any:
    return next(r for r in matrix.rows if r.driver == driver)


def _fw(row: Any, name: str) -> dict[str, Any]:
    return next(fw for fw in row.report.frameworks if fw["name"] == name)


def test_pytorch_channel_stack_per_driver(monkeypatch: pytest.MonkeyPatch, alias: dict[str, str], cache: str) -> None:
    # The seed's environment: python 3.9, the pytorch channel's pytorch, a pytorch-cuda and cuDNN.
    specs = ["python=3.9", "pytorch::pytorch", "pytorch-cuda", "cudnn"]
    matrix = _matrix(
        monkeypatch, alias[OLD], cache, specs, ["pytorch", "nvidia", "conda-forge"], [None, "10.2", "11.8", "12.4"]
    )
    _snapshot("pytorch-channel-matrix", matrix.render())

    new = _row(matrix, "12.4")
    assert _fw(new, "pytorch")["build"] == "py3.9_cuda12.1_cudnn8.9.2_0"
    assert (_fw(new, "pytorch")["cuda"], _fw(new, "pytorch")["cudnn"]) == ("12.1", "8.9.2")
    assert new.report.toolkit_line == "12.1" and new.report.toolkit_source == "cuda-cudart"
    assert new.report.cudnn_build["built_for"] == "12.x"
    assert new.report.min_driver == "12" and new.report.warnings == []

    old = _row(matrix, "11.8")
    assert _fw(old, "pytorch")["build"] == "py3.9_cuda11.7_cudnn8.5.0_0"
    assert old.report.cudnn_build["version"] == "8.3.2.44" and old.report.cudnn_build["built_for"] == "11.x"
    assert old.report.warnings == []
    # cudatoolkit 11.8 (pulled by conda-forge's cuDNN) beside nvidia's 11.7 runtime: same major, a note
    assert any("different CUDA minor versions" in n for n in old.report.notes)

    # Driver 10.2: nothing in the pytorch or nvidia records constrains __cuda, so conda installs the
    # CUDA 11.7 build with cuDNN 7.6 for CUDA 10.1: three traps, three warnings.
    trap = _row(matrix, "10.2").report
    assert trap.cudnn_build["built_for"] == "10.1"
    warnings = "\n".join(trap.warnings)
    assert "(__cuda 10.2) is older than this environment needs: the CUDA 11.7 runtime" in warnings
    assert "different CUDA major versions" in warnings
    assert "cuDNN 7.6.5.32 was built for CUDA 10.1 but the environment runs CUDA 11.7" in warnings

    # No driver: the pytorch channel has only CUDA builds and they need no driver to install.
    none = _row(matrix, None).report
    assert _fw(_row(matrix, None), "pytorch")["variant"] == "cuda"
    assert any("no __cuda virtual package: they need a driver (12 or newer)" in w for w in none.warnings)


def test_cudatoolkit_and_cudnn_pairs(monkeypatch: pytest.MonkeyPatch, alias: dict[str, str], cache: str) -> None:
    specs = ["python=3.9", "cudatoolkit", "cudnn"]
    matrix = _matrix(monkeypatch, alias[OLD], cache, specs, ["conda-forge"], [None, "10.0", "10.2", "11.2"])
    _snapshot("cudatoolkit-cudnn-matrix", matrix.render())
    assert _row(matrix, "10.0").report is None
    assert "cudatoolkit" in (_row(matrix, "10.0").error or "") and "__cuda 10.0" in (_row(matrix, "10.0").error or "")
    r102 = _row(matrix, "10.2").report
    assert (r102.toolkit["cudatoolkit"], r102.cudnn_build["version"]) == ("10.1.243", "7.6.5.32")
    assert r102.cudnn_build["built_for_spec"] == "cudatoolkit 10.1|10.1.*"
    r112 = _row(matrix, "11.2").report
    assert r112.toolkit["cudatoolkit"] == "11.8.0" and r112.cudnn_build["built_for"] == "11.x"
    assert r112.min_driver == "11" and r112.warnings == []
    # without a driver cudatoolkit's constrains on __cuda hold vacuously: installable, with a warning
    assert any("no __cuda" in w for w in _row(matrix, None).report.warnings)


def test_conda_forge_pytorch_gpu(monkeypatch: pytest.MonkeyPatch, alias: dict[str, str], cache: str) -> None:
    specs = ["pytorch-gpu", "torchvision", "matplotlib"]
    matrix = _matrix(monkeypatch, alias[NEW], cache, specs, ["conda-forge"], [None, "11.8", "12.4", "13.0"])
    _snapshot("pytorch-gpu-matrix", matrix.render())
    # As rattler and libsolv say: pytorch-gpu needs a driver, and a CUDA 12 one.
    assert "requires __cuda, but the target has no __cuda virtual package" in (_row(matrix, None).error or "")
    assert "constrains __cuda >=12, but the target has __cuda 11.8" in (_row(matrix, "11.8").error or "")
    for driver in ("12.4", "13.0"):
        row = _row(matrix, driver)
        assert {fw["name"]: (fw["variant"], fw["cuda"]) for fw in row.report.frameworks} == {
            "pytorch": ("cuda", "12.9"),
            "torchvision": ("cuda", "12.9"),
        }
        assert row.report.nccl and row.report.nccl["built_for"] == "12.x"
        assert row.report.cudnn_build["name"] == "cudnn" and row.report.cudnn_build["version"].startswith("9.")


def test_plain_pytorch_falls_back_to_cpu_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, alias: dict[str, str], cache: str
) -> None:
    specs = ["pytorch", "torchvision"]
    linux = _matrix(monkeypatch, alias[NEW], cache, specs, ["conda-forge"], [None, "11.8", "12.4"])
    _snapshot("pytorch-linux-matrix", linux.render())
    assert _fw(_row(linux, None), "pytorch")["variant"] == "cpu"
    assert "requires __cuda, but the target has no __cuda" in _row(linux, None).report.cpu_reasons["pytorch"]
    assert "constrains __cuda >=12, but the target has __cuda 11.8" in _row(linux, "11.8").report.cpu_reasons["pytorch"]
    assert _fw(_row(linux, "12.4"), "pytorch")["variant"] == "cuda"
    # On win-64 the harvest's newest CUDA pytorch is older than its newest CPU one: conda's order
    # (newest version first) takes the CPU build even with a driver, and the reason says so.
    win = _matrix(monkeypatch, alias[NEW], cache, specs, ["conda-forge"], ["12.4"], platform="win-64")
    reason = _row(win, "12.4").report.cpu_reasons["pytorch"]
    assert "older than the CPU build's" in reason and "pytorch=*=*cuda*" in reason


def test_jaxlib_cuda_builds(monkeypatch: pytest.MonkeyPatch, alias: dict[str, str], cache: str) -> None:
    matrix = _matrix(monkeypatch, alias[NEW], cache, ["jax", "jaxlib"], ["conda-forge"], [None, "12.1", "12.9"])
    _snapshot("jaxlib-matrix", matrix.render())
    assert _fw(_row(matrix, None), "jaxlib")["variant"] == "cpu"
    for driver in ("12.1", "12.9"):
        jaxlib = _fw(_row(matrix, driver), "jaxlib")
        assert (jaxlib["variant"], jaxlib["cuda"]) == ("cuda", "12.9")
        assert jaxlib["cudnn"] and jaxlib["cudnn"].startswith("9.")


def test_seed_environment_locked_with_and_without_a_driver(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alias: dict[str, str],
    cache: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONDA_CHANNEL_ALIAS", alias[OLD])
    env = tmp_path / "environment.yml"
    env.write_text(
        "name: seed\nchannels: [pytorch, nvidia, conda-forge]\n"
        "dependencies:\n  - python=3.9\n  - pytorch::pytorch\n  - pytorch-cuda=12.1\n  - cudnn\n"
    )
    base = ["lock", str(env), "-p", "linux-64", "--channel-priority", "strict", "--cache-dir", cache, "--format", "all"]
    code = main([*base, "-o", str(tmp_path / "gpu"), "--virtual-package", "__cuda=12.4"])
    _, err = capsys.readouterr()
    assert code == 0, err
    text = (tmp_path / "gpu" / "conda-linux-64.lock").read_text()
    assert "/pytorch-2.3.0-py3.9_cuda12.1_cudnn8.9.2_0.tar.bz2" in text and "/cudnn-8.9.7.29-" in text
    assert "# target_cuda: 12.4" in text and "# min_cuda_driver: 12" in text
    assert main(["explain-cuda", str(tmp_path / "gpu" / "conda-lock.yml")]) == 0
    report = capsys.readouterr().out
    _snapshot("seed-explain-cuda-12.4", report.split("  packages with CUDA constraints:")[0].rstrip())
    assert "cuDNN: cudnn 8.9.7.29" in report
    assert "pytorch 2.3.0 (py3.9_cuda12.1_cudnn8.9.2_0): CUDA 12.1 build" in report

    # Without a driver the lock still holds the CUDA build (nothing here needs __cuda to install)
    # and says it cannot use a GPU there; --require-cuda refuses.
    code = main([*base, "-o", str(tmp_path / "cpu"), "--virtual-package", "__cuda="])
    _, err = capsys.readouterr()
    assert code == 0 and "they need a driver (12 or newer) to use a GPU" in err
    code = main([*base, "-o", str(tmp_path / "req"), "--virtual-package", "__cuda=", "--require-cuda"])
    _, err = capsys.readouterr()
    assert code == 1 and "no __cuda virtual package" in err and "Traceback" not in err
    assert not (tmp_path / "req").exists()


def test_conda_forge_lock_says_why_the_cpu_build(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alias: dict[str, str],
    cache: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONDA_CHANNEL_ALIAS", alias[NEW])
    env = tmp_path / "environment.yml"
    env.write_text("name: t\nchannels: [conda-forge]\ndependencies:\n  - pytorch\n")
    args = ["lock", str(env), "-p", "linux-64", "--cache-dir", cache, "--format", "all", "-o", str(tmp_path)]
    code = main([*args, "--virtual-package", "__cuda=11.8"])
    _, err = capsys.readouterr()
    assert code == 0, err
    why = (
        "pytorch is a CPU build: cuda-version 12.9 (h4f385c5_3) constrains __cuda >=12, but the target has __cuda 11.8"
    )
    assert why in err
    # the reason travels with the lock, and explain-cuda shows it later
    assert "# cpu_build: pytorch: cuda-version 12.9" in (tmp_path / "conda-linux-64.lock").read_text()
    assert main(["explain-cuda", str(tmp_path / "conda-lock.yml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["reports"][0]
    assert "constrains __cuda >=12" in report["cpu_reasons"]["pytorch"]
    code = main([*args, "--virtual-package", "__cuda=11.8", "--require-cuda"])
    _, err = capsys.readouterr()
    assert code == 1 and "can only be a CPU build on linux-64" in err and "__cuda >=12" in err


def test_cuda_matrix_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alias: dict[str, str],
    cache: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONDA_CHANNEL_ALIAS", alias[NEW])
    env = tmp_path / "environment.yml"
    env.write_text("name: t\nchannels: [conda-forge]\ndependencies:\n  - pytorch\n")
    args = ["cuda-matrix", str(env), "-p", "linux-64", "--cache-dir", cache, "--jobs", "1"]
    assert main([*args, "--drivers", "none,12.4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["matrices"][0]["rows"]
    assert [r["driver"] for r in rows] == [None, "12.4"]
    assert [r["report"]["frameworks"][0]["variant"] for r in rows] == ["cpu", "cuda"]
    assert main([*args, "--drivers", "12.4,banana"]) == 2
    assert "'banana' is not a driver version" in capsys.readouterr().err


def test_explanations_are_the_same_in_every_process(alias: dict[str, str], cache: str) -> None:
    # The core comes out of the engine as a set; Python salts string hashes per process, so
    # without an order of its own the tree's branches came out in a different order each run.
    import subprocess
    import sys

    args = [sys.executable, "-m", "solvent", "solve", "-c", "conda-forge", "-p", "linux-64", "--cache-dir", cache]
    args += ["--virtual-package", "__cuda=", "--channel-priority", "strict", "pytorch", "torchvision[build=*cuda*]"]
    texts = set()
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed, CONDA_CHANNEL_ALIAS=alias[NEW])
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 1, proc.stderr
        texts.add(proc.stderr)
    assert len(texts) == 1
    assert "requires __cuda, but the target has no __cuda virtual package" in texts.pop()
