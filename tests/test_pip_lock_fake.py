"""``solvent lock`` with a ``pip:`` section against an in-memory index (no server): resolver cases end to end.

The package index is injected: an in-memory one here (``tests/pip_fake.py``), so these tests need
no server and never reach PyPI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.lockfiles.explicit import parse_explicit
from solvent.lockfiles.pip import lock as pip_lock
from tests.pip_fake import PLATFORMS, FakeIndex, conda_channel, write_env


def fake_index() -> FakeIndex:
    idx = FakeIndex()
    idx.add("app", "1.0", ["lib>=1", "colorama ; sys_platform == 'win32'", "fancy>=0.5 ; extra == 'fancy'"])
    idx.add("app", "1.1", ["lib>=1", "colorama ; sys_platform == 'win32'", "fancy>=0.5 ; extra == 'fancy'"])
    idx.add("lib", "1.0")
    idx.add("lib", "2.0", tags=["cp39-cp39-manylinux_2_17_x86_64", "cp39-cp39-manylinux2014_x86_64"])
    idx.add("lib", "2.0", tags=["cp39-cp39-macosx_11_0_arm64"])
    idx.add("lib", "2.0", tags=["cp39-cp39-win_amd64"])
    idx.add("lib", "2.0", sdist=True, static_metadata=False)
    idx.add("colorama", "0.4.6", tags=["py2-none-any", "py3-none-any"])
    idx.add("fancy", "0.5")
    idx.add("fancy", "0.6", sdist=True)  # sdist-only, static metadata: usable
    idx.add("needs-new-requests", "1.0", ["requests>=3"])
    idx.add("left", "1.0", ["shared<2"])
    idx.add("right", "1.0", ["shared>=2"])
    idx.add("shared", "1.0")
    idx.add("shared", "2.0")
    idx.add("uses-six", "1.0", ["six>=1.10"])
    return idx


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> FakeIndex:
    idx = fake_index()
    seen: list[Any] = []

    def make(urls: Any, *, cache_dir: Any, offline: bool) -> FakeIndex:
        seen.append((list(urls), offline))
        return idx

    monkeypatch.setattr(pip_lock, "make_index", make)
    idx.made = seen  # type: ignore[attr-defined]
    return idx


def lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path, *extra: str, out: str = "out"
) -> tuple[int, str, str]:
    ch = tmp_path / "channel"
    if not ch.exists():
        conda_channel(ch)
    argv = ["lock", str(env), "-c", str(ch), "--format", "all", "-o", str(tmp_path / out)]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    for p in PLATFORMS:
        argv += ["-p", p]
    code = main([*argv, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pip_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith(("#", "--"))]


def test_markers_extras_sdists_per_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: FakeIndex
) -> None:
    env = write_env(tmp_path, ["app[fancy]", "uses-six"], conda=("python=3.9", "pip", "six"))
    code, _, err = lock(tmp_path, capsys, env)
    assert code == 0, err
    out = tmp_path / "out"
    linux = pip_lines(out / "conda-linux-64.pip.txt")
    assert [line.split(" ")[0] for line in linux] == ["app==1.1", "fancy==0.6", "lib==2.0", "uses-six==1.0"]
    win = [line.split(" ")[0] for line in pip_lines(out / "conda-win-64.pip.txt")]
    assert "colorama==0.4.6" in win  # the marker holds on win-64 only
    assert all(line.split(" ")[1].startswith("--hash=sha256:") for line in linux)
    text = (out / "conda-linux-64.pip.txt").read_text()
    assert "--index-url http://127.0.0.1:9/simple" in text  # PIP_INDEX_URL, set by conftest
    assert "# pip_lock: conda-linux-64.pip.txt" in (out / "conda-linux-64.lock").read_text()
    parse_explicit((out / "conda-linux-64.lock").read_text())

    conda_lock = pytest.importorskip("conda_lock.lockfile")
    parsed = conda_lock.parse_conda_lock_file(out / "conda-lock.yml")
    pip_pkgs = {(p.name, p.platform): p for p in parsed.package if p.manager == "pip"}
    assert set(pip_pkgs) >= {("app", "linux-64"), ("colorama", "win-64"), ("lib", "osx-arm64")}
    assert ("colorama", "linux-64") not in pip_pkgs and ("six", "linux-64") not in pip_pkgs
    lib = pip_pkgs[("lib", "osx-arm64")]
    assert str(lib.url).endswith("lib-2.0-cp39-cp39-macosx_11_0_arm64.whl") and lib.hash.sha256
    assert pip_pkgs[("app", "win-64")].dependencies == {"colorama": "*", "fancy": ">=0.5", "lib": ">=1"}
    assert pip_pkgs[("uses-six", "linux-64")].dependencies == {"six": ">=1.10"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pip_txt_is_accepted_by_pip(tmp_path: Path, capsys: pytest.CaptureFixture[str], index: FakeIndex) -> None:
    pytest.importorskip("pip")
    from pip._internal.network.session import PipSession
    from pip._internal.req.req_file import parse_requirements

    code, _, err = lock(tmp_path, capsys, write_env(tmp_path, ["app"]))
    assert code == 0, err
    reqs = list(parse_requirements(str(tmp_path / "out" / "conda-linux-64.pip.txt"), session=PipSession()))
    assert [r.requirement for r in reqs] == ["app==1.1", "lib==2.0"]
    assert all(set(r.options["hashes"]) == {"sha256"} for r in reqs)


def test_deterministic_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str], index: FakeIndex) -> None:
    env = write_env(tmp_path, ["app[fancy]"])
    assert lock(tmp_path, capsys, env, out="a")[0] == 0
    assert lock(tmp_path, capsys, env, out="b")[0] == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(
        [*(f"conda-{p}.lock" for p in PLATFORMS), *(f"conda-{p}.pip.txt" for p in PLATFORMS), "conda-lock.yml"]
    )
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    code, out, _ = lock(tmp_path, capsys, env, "--check", out="a")
    assert code == 0 and "up to date" in out
    write_env(tmp_path, ["app[fancy]", "colorama"])
    code, _, err = lock(tmp_path, capsys, env, "--check", out="a")
    assert code == 1 and "does not match" in err
    write_env(tmp_path, ["app[fancy]"])
    code, _, err = lock(tmp_path, capsys, env, "--check", "--pypi-url", "https://other.invalid/simple", out="a")
    assert code == 1, "a different index is a different lock"


def test_included_requirements_file_is_covered_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: FakeIndex
) -> None:
    (tmp_path / "requirements.txt").write_text("app\n")
    env = write_env(tmp_path, ["-r requirements.txt"])
    assert lock(tmp_path, capsys, env)[0] == 0
    assert lock(tmp_path, capsys, env, "--check")[0] == 0
    (tmp_path / "requirements.txt").write_text("app==1.0\n")
    assert lock(tmp_path, capsys, env, "--check")[0] == 1


def test_conda_satisfies_and_clashes(tmp_path: Path, capsys: pytest.CaptureFixture[str], index: FakeIndex) -> None:
    env = write_env(tmp_path, ["requests>=2.30"], conda=("python=3.9", "requests"))
    code, _, err = lock(tmp_path, capsys, env)
    assert code == 0, err
    assert pip_lines(tmp_path / "out" / "conda-linux-64.pip.txt") == []
    assert "requests" not in index.calls
    env = write_env(tmp_path, ["requests>=3"], conda=("python=3.9", "requests"))
    code, _, err = lock(tmp_path, capsys, env)
    assert code == 1
    assert "pip requirement `requests>=3` but conda installs requests 2.31.0 (channel)" in err
    env = write_env(tmp_path, ["needs-new-requests"], conda=("python=3.9", "requests"))
    code, _, err = lock(tmp_path, capsys, env)
    assert code == 1 and "needs-new-requests 1.0 requires requests>=3, but conda installs requests 2.31.0" in err


def test_conflict_and_bad_lines_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: FakeIndex
) -> None:
    code, _, err = lock(tmp_path, capsys, write_env(tmp_path, ["left", "right"]))
    assert code == 1
    assert "left 1.0 requires shared<2" in err and "right 1.0 requires shared>=2" in err
    code, _, err = lock(tmp_path, capsys, write_env(tmp_path, ["-e ./src"]))
    assert code == 2 and "environment.yml:6" in err and "-e ./src" in err
    code, _, err = lock(tmp_path, capsys, write_env(tmp_path, ["missing-project"]))
    assert code == 1 and "missing-project" in err


def test_index_urls_and_offline_pass_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], index: FakeIndex
) -> None:
    env = write_env(tmp_path, ["--extra-index-url https://extra.invalid/simple", "app"])
    code, _, err = lock(tmp_path, capsys, env, "--pypi-url", "https://user:secret@cli.invalid/simple", "--offline")
    assert code == 0, err
    assert index.made[-1] == (["https://user:secret@cli.invalid/simple", "https://extra.invalid/simple"], True)  # type: ignore[attr-defined]
    text = (tmp_path / "out" / "conda-linux-64.pip.txt").read_text()
    assert "--index-url https://cli.invalid/simple\n--extra-index-url https://extra.invalid/simple\n" in text
    assert "secret" not in (tmp_path / "out" / "conda-lock.yml").read_text()
