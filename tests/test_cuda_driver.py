"""``__cuda`` detection: the driver is asked in a subprocess, and its answer or silence is honoured.

A fake ``libcuda`` is compiled when a C compiler is available, so the real probe runs end to end:
``cuInit`` then ``cuDriverGetVersion`` (12040 means 12.4), and a driver whose ``cuInit`` fails or
that crashes the process loading it gives no ``__cuda`` rather than taking solvent down.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from solvent import virtual_packages as vp
from solvent.cli import main

FAKE_DRIVER = """
int cuInit(unsigned int flags) { return %(init)d; }
int cuDriverGetVersion(int *v) { %(body)s; *v = %(version)d; return 0; }
"""


def _compile(tmp_path: Path, name: str, init: int = 0, version: int = 12040, body: str = "") -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a fake driver library")
    src = tmp_path / f"{name}.c"
    src.write_text(FAKE_DRIVER % {"init": init, "version": version, "body": body or "(void)0"})
    lib = tmp_path / f"{name}.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, capture_output=True)
    return str(lib)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    vp.detect_cuda_version.cache_clear()
    monkeypatch.delenv("CONDA_OVERRIDE_CUDA", raising=False)
    yield
    vp.detect_cuda_version.cache_clear()


def _use(monkeypatch: pytest.MonkeyPatch, *libs: str) -> None:
    monkeypatch.setattr(vp, "_cuda_libraries", lambda: list(libs))
    monkeypatch.setattr(vp.sys, "platform", "linux")


def test_driver_version_is_read_from_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, str(tmp_path / "missing.so"), _compile(tmp_path, "cuda124", version=12040))
    assert vp.detect_cuda_version() == "12.4"
    records = {r.name: r.version for r in vp.detect_virtual_packages("linux-64")}
    assert records["__cuda"] == "12.4"


def test_a_failing_or_crashing_driver_means_no_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _compile(tmp_path, "noinit", init=100))  # CUDA_ERROR_NO_DEVICE
    assert vp.detect_cuda_version() is None
    vp.detect_cuda_version.cache_clear()
    _use(monkeypatch, _compile(tmp_path, "crash", body="*(volatile int *)0 = 1"))
    assert vp.detect_cuda_version() is None  # the probe's process died, not this one


def test_override_wins_and_info_says_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(monkeypatch, _compile(tmp_path, "cuda118", version=11080))
    assert main(["info"]) == 0
    assert "cuda_driver: 11.8 (detected: cuDriverGetVersion)" in capsys.readouterr().out
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "12.9")
    assert {r.name: r.version for r in vp.detect_virtual_packages("linux-64")}["__cuda"] == "12.9"
    assert main(["info"]) == 0
    assert "cuda_driver: 12.9 (CONDA_OVERRIDE_CUDA)" in capsys.readouterr().out
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "")
    assert "__cuda" not in {r.name for r in vp.detect_virtual_packages("linux-64")}
    assert main(["info", "--json"]) == 0
    assert '"cuda_driver": "none (CONDA_OVERRIDE_CUDA is empty)"' in capsys.readouterr().out


def _loader_cache_lists_cuda() -> bool | None:
    cache = Path("/etc/ld.so.cache")
    return b"libcuda.so" in cache.read_bytes() if cache.is_file() else None


def test_no_driver_anywhere_starts_no_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a driver library, detection answers from the loader's cache and LD_LIBRARY_PATH: no
    ``ldconfig``, no compiler, no probe (about 25 ms of every command's start otherwise)."""
    if _loader_cache_lists_cuda() is not False:
        pytest.skip("this machine's loader cache lists a CUDA driver (or there is no loader cache)")
    _use(monkeypatch, str(tmp_path / "libcuda.so.1"))
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"started a process: {args}")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert vp.detect_cuda_version() is None


def test_a_driver_on_ld_library_path_is_probed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library the loader would find through LD_LIBRARY_PATH counts as a driver to ask."""
    lib = Path(_compile(tmp_path, "cuda121", version=12010))
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    lib.rename(lib_dir / "libcuda.so.1")
    monkeypatch.setattr(vp.sys, "platform", "linux")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{tmp_path / 'nowhere'}:{lib_dir}")
    assert vp._may_have_cuda_driver(["libcuda.so.1", "libcuda.so"])
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path / "nowhere"))
    if _loader_cache_lists_cuda() is False:
        assert not vp._may_have_cuda_driver(["libcuda.so.1", "libcuda.so"])
