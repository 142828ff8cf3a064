"""``solvent lock`` with a ``pip:`` section end to end: a synthetic conda channel + the loopback index.

Real wheels and sdists are built at test time and served on 127.0.0.1 (``tests/pypi_server.py``);
the real index client reads them over HTTP. Nothing reaches PyPI (conftest points
``PIP_INDEX_URL`` at a closed loopback port, and every lock here names the test server).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from tests.pip_fake import PLATFORMS, conda_channel, write_env
from tests.pypi_server import PypiServer, Release

RELEASES = [
    Release("app", "1.0", requires_dist=["lib>=1"]),
    Release(
        "app",
        "1.1",
        requires_dist=["lib>=1", "colorama ; sys_platform == 'win32'", "fancy>=0.5 ; extra == 'fancy'"],
        provides_extra=["fancy"],
    ),
    Release("lib", "1.0"),
    Release(
        "lib", "2.0", tags=["cp39-cp39-manylinux_2_17_x86_64", "cp39-cp39-macosx_11_0_arm64", "cp39-cp39-win_amd64"]
    ),
    Release("colorama", "0.4.6", tags=["py2.py3-none-any"]),
    Release("fancy", "0.6", sdist=True, tags=[]),  # sdist only, static metadata (2.2)
    # no PEP 658 file: the client reads the PKG-INFO, which says its Requires-Dist is dynamic
    Release("dynamic", "1.0", sdist=True, tags=[], dynamic=["Requires-Dist"], metadata_file=False),
    Release("left", "1.0", requires_dist=["shared<2"]),
    Release("right", "1.0", requires_dist=["shared>=2"]),
    Release("shared", "1.0"),
    Release("shared", "2.0"),
    Release("needs-requests", "1.0", requires_dist=["requests>=2"]),
    Release("needs-new-requests", "1.0", requires_dist=["requests>=3"]),
    Release("maconly", "1.0", tags=["cp39-cp39-macosx_11_0_arm64"]),
]


@pytest.fixture(scope="module")
def server() -> Any:
    with PypiServer.start(RELEASES) as running:
        yield running


def lock(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    server: PypiServer,
    env: Path,
    *extra: str,
    out: str = "out",
    platforms: tuple[str, ...] = PLATFORMS,
) -> tuple[int, str, str]:
    ch = tmp_path / "channel"
    if not ch.exists():
        conda_channel(ch)
    argv = ["lock", str(env), "-c", str(ch), "--format", "all", "-o", str(tmp_path / out), "--pypi-url", server.url]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    for p in platforms:
        argv += ["-p", p]
    code = main([*argv, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pins(path: Path) -> list[str]:
    return [line.split(" ")[0] for line in path.read_text().splitlines() if line and not line.startswith(("#", "--"))]


def test_lock_markers_extras_sdist_and_conda_lock_parses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: PypiServer
) -> None:
    env = write_env(tmp_path, ["app[fancy]", "needs-requests"], conda=("python=3.9", "pip", "requests"))
    code, _, err = lock(tmp_path, capsys, server, env)
    assert code == 0, err
    out = tmp_path / "out"
    assert pins(out / "conda-linux-64.pip.txt") == ["app==1.1", "fancy==0.6", "lib==2.0", "needs-requests==1.0"]
    assert pins(out / "conda-win-64.pip.txt") == [
        "app==1.1",
        "colorama==0.4.6",
        "fancy==0.6",
        "lib==2.0",
        "needs-requests==1.0",
    ]
    text = (out / "conda-linux-64.pip.txt").read_text()
    lib = server.file("lib-2.0-cp39-cp39-manylinux_2_17_x86_64.whl")
    assert lib is not None and f"lib==2.0 --hash=sha256:{lib.sha256}" in text

    conda_lock = pytest.importorskip("conda_lock.lockfile")
    parsed = conda_lock.parse_conda_lock_file(out / "conda-lock.yml")
    pip_pkgs = {(p.name, p.platform): p for p in parsed.package if p.manager == "pip"}
    conda_pkgs = {(p.name, p.platform) for p in parsed.package if p.manager == "conda"}
    assert ("requests", "linux-64") in conda_pkgs and ("requests", "linux-64") not in pip_pkgs
    mac_lib = pip_pkgs[("lib", "osx-arm64")]
    assert str(mac_lib.url) == server.file_url("lib-2.0-cp39-cp39-macosx_11_0_arm64.whl")
    fancy = pip_pkgs[("fancy", "linux-64")]
    assert str(fancy.url).endswith("fancy-0.6.tar.gz") and fancy.hash.sha256
    assert pip_pkgs[("app", "win-64")].dependencies == {"colorama": "*", "fancy": ">=0.5", "lib": ">=1"}
    assert pip_pkgs[("needs-requests", "linux-64")].dependencies == {"requests": ">=2"}


def test_pip_installs_the_pip_txt(tmp_path: Path, capsys: pytest.CaptureFixture[str], server: PypiServer) -> None:
    """pip itself reads the file, finds every pin on the index and checks every hash."""
    env = write_env(tmp_path, ["app"])
    code, _, err = lock(tmp_path, capsys, server, env, platforms=("linux-64",))
    assert code == 0, err
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--no-cache-dir", "-q"]
    cmd += ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64"]
    cmd += ["--python-version", "3.9"]
    cmd += ["--implementation", "cp", "--abi", "cp39", "-d", str(tmp_path / "dl")]
    cmd += ["-r", str(tmp_path / "out" / "conda-linux-64.pip.txt")]
    pip_env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip_env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")  # the index is on loopback
    pip_env.pop("PIP_INDEX_URL")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=pip_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [
        "app-1.1-py3-none-any.whl",
        "lib-2.0-cp39-cp39-manylinux_2_17_x86_64.whl",
    ]


def test_deterministic_check_and_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str], server: PypiServer) -> None:
    env = write_env(tmp_path, ["app[fancy]"])
    assert lock(tmp_path, capsys, server, env, out="a")[0] == 0
    assert lock(tmp_path, capsys, server, env, out="b")[0] == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 7
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    code, out, _ = lock(tmp_path, capsys, server, env, "--check", out="a")
    assert code == 0 and "up to date" in out
    write_env(tmp_path, ["app[fancy]", "shared<2"])
    code, _, err = lock(tmp_path, capsys, server, env, "--check", out="a")
    assert code == 1 and "conda-lock.yml" in err and "pip.txt" in err


def test_offline_relocks_from_the_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str], server: PypiServer) -> None:
    env = write_env(tmp_path, ["app"])
    assert lock(tmp_path, capsys, server, env, out="a")[0] == 0
    server.clear_log()
    code, _, err = lock(tmp_path, capsys, server, env, "--offline", out="b")
    assert code == 0, err
    assert server.count("/simple/*") == 0
    assert (tmp_path / "a" / "conda-lock.yml").read_bytes() == (tmp_path / "b" / "conda-lock.yml").read_bytes()


@pytest.mark.parametrize(
    ("pip", "code", "message"),
    [
        (["left", "right"], 1, "left 1.0 requires shared<2"),
        (["needs-new-requests"], 1, "needs-new-requests 1.0 requires requests>=3, but conda installs requests 2.31.0"),
        (["requests>=3"], 1, "pip requirement `requests>=3` but conda installs requests 2.31.0"),
        (["maconly"], 1, "no file of maconly 1.0 fits linux-64"),
        (["dynamic"], 1, "no file of dynamic 1.0 fits linux-64"),
        (["no-such-project"], 1, "no-such-project"),
        (["--find-links ./wheels"], 2, "environment.yml:7: pip option '--find-links ./wheels' cannot be locked"),
    ],
)
def test_failures_explain_themselves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], server: PypiServer, pip: list[str], code: int, message: str
) -> None:
    env = write_env(tmp_path, pip, conda=("python=3.9", "pip", "requests"))
    got, _, err = lock(tmp_path, capsys, server, env, platforms=("linux-64",))
    assert got == code, err
    assert message in err


def test_direct_url_and_local_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str], server: PypiServer) -> None:
    local = PypiServer.start([Release("localpkg", "0.3", requires_dist=["shared<2"])], tmp_path / "dist")
    local.stop()  # only its files are wanted
    colorama = server.file("colorama-0.4.6-py2.py3-none-any.whl")
    assert colorama is not None
    url = f"{server.file_url(colorama.filename)}#sha256={colorama.sha256}"
    env = write_env(tmp_path, [f"colorama @ {url}", "./dist/localpkg-0.3-py3-none-any.whl"])
    code, _, err = lock(tmp_path, capsys, server, env, platforms=("linux-64",))
    assert code == 0, err
    lines = [
        x
        for x in (tmp_path / "out" / "conda-linux-64.pip.txt").read_text().splitlines()
        if not x.startswith(("#", "--"))
    ]
    wheel = (tmp_path / "dist" / "localpkg-0.3-py3-none-any.whl").resolve()
    assert lines == [
        f"colorama @ {server.file_url(colorama.filename)} --hash=sha256:{colorama.sha256}",
        f"localpkg @ {wheel.as_uri()} --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}",
        lines[2],
    ]
    assert lines[2].startswith("shared==1.0 --hash=sha256:")
    env = write_env(tmp_path, [f"colorama @ {server.file_url(colorama.filename)}"])
    code, _, err = lock(tmp_path, capsys, server, env, platforms=("linux-64",))
    assert code == 2 and "needs a #sha256=<hex> fragment" in err
