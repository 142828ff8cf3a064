"""Lockfiles: environment files, explicit and conda-lock.yml output, determinism, CUDA analysis."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from solvent.atomic import write_atomic
from solvent.cli import main
from solvent.errors import InvalidInput, LockfileError
from solvent.lockfiles.envfile import load_environment
from solvent.lockfiles.explicit import install_order, parse_explicit, render_explicit
from tests.conftest import shared_path
from tests.helpers import rec, write_channel


def base_records() -> list[Any]:
    """A synthetic base channel for the pytorch snapshot: python, blas/mkl, CUDA runtime pieces."""
    r = []
    for v in ("3.9.18", "3.10.13"):
        r.append(rec("python", v, build="h0", depends=["libzlib >=1.2"]))
    r.append(rec("libzlib", "1.2.13", build="h1"))
    r.append(rec("mkl", "2023.1.0", build="h2"))
    r.append(rec("blas", "1.0", build="mkl", depends=["mkl"]))
    r.append(rec("blas", "1.0", build="openblas"))
    for name in ("filelock", "jinja2", "networkx", "sympy", "typing_extensions"):
        r.append(rec(name, "1.0", build="py_0", subdir="noarch", depends=["python"]))
    r.append(rec("pytorch-mutex", "1.0", build="cuda"))
    # as on the pytorch channel: the cpu variant tracks a feature, so CUDA wins when it is feasible
    r.append(rec("pytorch-mutex", "1.0", build="cpu", track_features="pytorch-mutex"))
    r.append(rec("cpuonly", "2.0", build="0", depends=["pytorch-mutex 1.0 cpu"]))
    for cuda, nxt in (("11.8", "12.0"), ("12.1", "12.2")):
        r.append(rec("cuda-version", cuda, build="h3", constrains=[f"__cuda >={cuda}", f"cudatoolkit {cuda}|{cuda}.*"]))
        for lib in ("cuda-cudart", "cuda-cupti", "cuda-libraries", "cuda-nvrtc", "cuda-nvtx", "cuda-runtime"):
            # the runtime needs a driver: no __cuda, no CUDA runtime
            r.append(rec(lib, f"{cuda}.0", build="h4", depends=[f"cuda-version >={cuda},<{nxt}", "__cuda"]))
    for lib, vs in {
        "libcublas": ("11.11.3.6", "12.1.0.26"),
        "libcufft": ("10.9.0.58", "11.0.2.4"),
        "libcusolver": ("11.4.1.48", "11.4.4.55"),
        "libcusparse": ("11.7.5.86", "12.0.2.55"),
        "libnpp": ("11.8.0.86", "12.0.2.50"),
        "libnvjpeg": ("11.9.0.86", "12.1.0.39"),
        "libnvjitlink": ("12.1.105", "12.1.105"),
    }.items():
        for v in sorted(set(vs)):
            r.append(rec(lib, v, build="h5"))
    r.append(rec("cudnn", "8.9.2", build="cuda11_0", depends=["cuda-version >=11.8,<12"]))
    return r


def _rec_url(records: list[Any], base: str) -> list[Any]:
    for x in records:
        x.url = f"{base}/{x.subdir}/{x.fn}"
    return records


@pytest.fixture
def base_channel(tmp_path: Path) -> Path:
    return write_channel(tmp_path / "base", base_records())


def test_envfile_parsing_and_errors(tmp_path: Path) -> None:
    env = tmp_path / "environment.yml"
    env.write_text(
        "name: demo\nchannels:\n  - conda-forge\n  - nodefaults\ndependencies:\n  - python=3.9\n"
        "  - conda-forge::numpy >=1.20\n  - pip:\n      - requests>=2.31\n"
        "x-solvent:\n  platforms: [linux-64, osx-arm64]\n  virtual-packages:\n    linux-64: ['__cuda=12.2']\n"
    )
    spec = load_environment(env)
    assert spec.name == "demo" and spec.channels == ["conda-forge"] and spec.nodefaults
    assert spec.specs == ["python=3.9", "conda-forge::numpy >=1.20"]
    assert spec.pip == ["requests>=2.31"]
    assert spec.platforms == ["linux-64", "osx-arm64"]
    assert spec.virtual_packages == {"linux-64": ["__cuda=12.2"]}
    bad = tmp_path / "bad.yml"
    bad.write_text("channels: [conda-forge]\ndependencies:\n  - python=3.9\n  - numpy >=1.2,,<2\n")
    with pytest.raises(InvalidInput, match=r"bad.yml:4: .*numpy >=1.2,,<2"):
        load_environment(bad)
    bad.write_text("channels: [conda-forge]\ndependecies:\n  - python\n")
    with pytest.raises(InvalidInput, match=r"bad.yml:2: unknown key 'dependecies'"):
        load_environment(bad)
    bad.write_text("channels: [conda-forge\ndependencies: [python]\n")
    with pytest.raises(InvalidInput, match="malformed YAML"):
        load_environment(bad)
    bad.write_text("dependencies:\n  - python\n  - pip:\n      - 'requests >=='\n")
    with pytest.raises(InvalidInput, match=r"bad.yml:4: invalid pip requirement"):
        load_environment(bad)
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# comment\npython=3.9\nnumpy  # inline\n")
    assert load_environment(reqs).specs == ["python=3.9", "numpy"]


def test_install_order_and_round_trip() -> None:
    records = _rec_url(
        [rec("app", "1", depends=["lib", "py"]), rec("lib", "1", depends=["py"]), rec("py", "3")],
        "https://example.invalid/ch",
    )
    assert [r.name for r in install_order(records)] == ["py", "lib", "app"]
    text = render_explicit(records, "linux-64", "abc", "conda-linux-64.pip.txt")
    assert "# pip_lock: conda-linux-64.pip.txt" in text
    parsed = parse_explicit(text)
    assert parsed.platform == "linux-64" and parsed.input_hash == "abc" and parsed.pip == []
    assert parse_explicit("# pip: requests\n@EXPLICIT\n").pip == ["requests"]  # files from before pip locking
    assert [u.rsplit("/", 1)[-1] for u, _, _ in parsed.urls] == ["py-3-0.tar.bz2", "lib-1-0.tar.bz2", "app-1-0.tar.bz2"]
    assert all(md5 == "0" * 32 for _, md5, _ in parsed.urls)
    with pytest.raises(LockfileError, match="before @EXPLICIT"):
        parse_explicit("https://x/a-1-0.tar.bz2\n")


def test_atomic_write_never_leaves_half_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "conda-linux-64.lock"
    write_atomic(target, "old\n")

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new content that must not appear\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["conda-linux-64.lock"]


def _lock(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["lock", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_lock_is_deterministic_and_parsed_by_conda_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ch = shared_path("channels", "conda-forge-py39-2024")
    env = tmp_path / "environment.yml"
    # six comes from conda, so the pip section needs no index
    env.write_text(
        "channels: [conda-forge]\ndependencies:\n  - python=3.9\n  - pip\n  - six\n  - pip:\n      - six>=1.10\n"
    )
    args = [
        str(env),
        "-c",
        str(ch),
        "-p",
        "linux-64",
        "-p",
        "osx-arm64",
        "--format",
        "all",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    code, _, err = _lock(capsys, *args, "-o", str(tmp_path / "a"))
    assert code == 0, err
    code, _, _ = _lock(capsys, *args, "-o", str(tmp_path / "b"))
    assert code == 0
    for name in ("conda-linux-64.lock", "conda-osx-arm64.lock", "conda-lock.yml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

    conda_lock = pytest.importorskip("conda_lock.lockfile")
    lock = conda_lock.parse_conda_lock_file(tmp_path / "a" / "conda-lock.yml")
    by_platform: dict[str, set[str]] = {}
    for dep in lock.package:
        by_platform.setdefault((dep.categories and dep.platform) or dep.platform, set()).add(dep.name)
    explicit = parse_explicit((tmp_path / "a" / "conda-linux-64.lock").read_text())
    names = {u.rsplit("/", 1)[-1].rsplit("-", 2)[0] for u, _, _ in explicit.urls}
    assert by_platform["linux-64"] == names
    assert "python" in by_platform["osx-arm64"]

    code, out, _ = _lock(capsys, *args, "-o", str(tmp_path / "a"), "--check")
    assert code == 0 and "up to date" in out
    env.write_text("channels: [conda-forge]\ndependencies:\n  - python=3.9\n  - wheel\n")
    code, _, err = _lock(capsys, *args, "-o", str(tmp_path / "a"), "--check")
    assert code == 1 and "does not match" in err


def test_exclude_newer_reproduces_an_older_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [rec("x", "1", timestamp=1_600_000_000_000), rec("x", "2", timestamp=1_700_000_000_000)]
    ch = write_channel(tmp_path / "ch", _rec_url(records, "file://" + str(tmp_path / "ch")))
    env = tmp_path / "env.txt"
    env.write_text("x\n")
    out = tmp_path / "x.lock"
    code, _, err = _lock(
        capsys,
        str(env),
        "-c",
        str(ch),
        "-p",
        "linux-64",
        "-o",
        str(out),
        "--exclude-newer",
        "2021-01-01",
        "--cache-dir",
        str(tmp_path / "c"),
    )
    assert code == 0, err
    assert "x-1-0.tar.bz2" in out.read_text()


def _pytorch_lock(
    tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str], spec: str, *extra: str
) -> tuple[int, str, str, Path]:
    torch = shared_path("channels", "pytorch-2023")
    env = tmp_path / "environment.yml"
    env.write_text(f"channels: [pytorch]\ndependencies:\n  - python=3.9\n  - {spec}\n")
    out = tmp_path / "lock"
    code, stdout, err = _lock(
        capsys,
        str(env),
        "-c",
        str(torch),
        "-c",
        str(base),
        "-p",
        "linux-64",
        "--format",
        "all",
        "-o",
        str(out),
        "--cache-dir",
        str(tmp_path / "c"),
        *extra,
    )
    return code, stdout, err, out


def test_pytorch_cuda_build_follows_the_driver(
    tmp_path: Path, base_channel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err, out = _pytorch_lock(
        tmp_path, base_channel, capsys, "pytorch=2.0.1", "--virtual-package", "__cuda=12.2"
    )
    assert code == 0, err
    text = (out / "conda-linux-64.lock").read_text()
    assert "pytorch-2.0.1-py3.9_cuda11.8_cudnn8.7.0_0" in text
    code = main(["explain-cuda", str(out / "conda-lock.yml"), "--json"])
    report = json.loads(capsys.readouterr().out)["reports"][0]
    assert code == 0
    assert report["target_cuda"] == "12.2"
    assert {f["name"]: f["variant"] for f in report["frameworks"]} == {"pytorch": "cuda"}
    assert report["toolkit"]["cuda-version"] == "11.8"
    assert report["min_driver"] == "11.8"

    # An old driver: cuda-version 11.8 constrains __cuda >=11.8, so only a CPU build is possible.
    code, _, err, out = _pytorch_lock(
        tmp_path, base_channel, capsys, "pytorch=2.0.1", "--virtual-package", "__cuda=11.2"
    )
    assert code == 0
    assert "CPU build" in err
    assert "pytorch-2.0.1-py3.9_cpu_0" in (out / "conda-linux-64.lock").read_text()
    code, _, err, _ = _pytorch_lock(
        tmp_path, base_channel, capsys, "pytorch=2.0.1", "--virtual-package", "__cuda=11.2", "--require-cuda"
    )
    assert code == 1
    assert "__cuda" in err and "Traceback" not in err


def test_cuda_without_driver(tmp_path: Path, base_channel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No driver: the CUDA runtime needs __cuda, so pytorch quietly becomes a CPU build ...
    code, _, err, out = _pytorch_lock(tmp_path, base_channel, capsys, "pytorch=2.0.1", "--virtual-package", "__cuda=")
    assert code == 0, err
    assert "pytorch-2.0.1-py3.9_cpu_0" in (out / "conda-linux-64.lock").read_text()
    # ... asking for the CUDA build explains which requirement fails ...
    code, _, err, _ = _pytorch_lock(tmp_path, base_channel, capsys, "pytorch-cuda=11.8", "--virtual-package", "__cuda=")
    assert code == 1
    assert "no __cuda virtual package" in err
    # ... and a CUDA package that needs no driver to install still gets a warning.
    code, _, err, _ = _pytorch_lock(tmp_path, base_channel, capsys, "cuda-version=11.8", "--virtual-package", "__cuda=")
    assert code == 0
    assert "target has no __cuda" in err


@pytest.mark.parametrize(
    ("cuda", "glibc", "spec", "expected"),
    [
        ("10.2", "2.28", "cudatoolkit", "cudatoolkit-10.0-0"),
        ("9.2", "2.28", "cudatoolkit", "cudatoolkit-9.0-0"),
        ("11.2", "2.28", "cuda-constrain", "cuda-constrain-11.0-0"),
        # conda classic answers 11.0 here (it ignores constrains on virtual packages; conda's own
        # test_cuda_constrain_sat is skipped as "known broken"); libmamba and rattler say 10.0
        ("10.1", "2.28", "cuda-constrain", "cuda-constrain-10.0-0"),
        ("", "2.28", "cuda-constrain", "cuda-constrain-11.0-0"),  # absent driver: constrains hold
        ("10.1", "2.28", "cuda-glibc", "cuda-glibc-10.0-0"),
        ("10.1", "2.12", "cuda-glibc", None),  # cuda-glibc constrains __glibc >=2.17
        ("", "2.28", "cudatoolkit", None),  # cudatoolkit depends on __cuda
    ],
)
def test_conda_test_index_cuda_packages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cuda: str, glibc: str, spec: str, expected: str | None
) -> None:
    ch = shared_path("channels", "conda-test-defaults-2016")
    env = tmp_path / "env.txt"
    env.write_text(f"{spec}\n")
    out = tmp_path / "out.lock"
    code, _, err = _lock(
        capsys,
        str(env),
        "-c",
        str(ch),
        "-p",
        "linux-64",
        "-o",
        str(out),
        "--virtual-package",
        f"__cuda={cuda}",
        "--virtual-package",
        f"__glibc={glibc}",
        "--cache-dir",
        str(tmp_path / "c"),
    )
    if expected is None:
        assert code == 1, err
        assert "__cuda" in err or "__glibc" in err
        assert not out.exists()
    else:
        assert code == 0, err
        assert f"/{expected}.tar.bz2#" in out.read_text()


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_written_files_get_the_umask_mode_and_keep_a_replaced_files_mode(tmp_path: Path) -> None:
    """A temporary file is 0600; a lockfile must be readable as a plain open() would have left it."""
    old = os.umask(0o022)
    try:
        fresh = write_atomic(tmp_path / "fresh.lock", "x\n")
        assert fresh.stat().st_mode & 0o777 == 0o644
        os.umask(0o027)
        assert write_atomic(tmp_path / "group.lock", "x\n").stat().st_mode & 0o777 == 0o640
        kept = tmp_path / "kept.lock"
        kept.write_text("old\n")
        kept.chmod(0o664)
        write_atomic(kept, "new\n")
        assert kept.stat().st_mode & 0o777 == 0o664
        assert kept.read_text() == "new\n"
    finally:
        os.umask(old)


def test_lock_bad_outputs_and_inputs_are_one_line_errors(
    tmp_path: Path, base_channel: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / "environment.yml"
    env.write_text("dependencies:\n  - python\n")
    blocker = tmp_path / "existing"
    blocker.write_text("not a directory\n")
    # Many files into a path that is a file: refused before solving, nothing written, exit 2.
    code, _, err = _lock(
        capsys, str(env), "-c", str(base_channel), "-p", "linux-64", "-p", "osx-64", "-o", str(blocker)
    )
    assert code == 2
    assert "is a file" in err and "Traceback" not in err
    assert blocker.read_text() == "not a directory\n"
    # One explicit file to an existing file without a suffix: that file is the lockfile.
    code, _, err = _lock(capsys, str(env), "-c", str(base_channel), "-p", "linux-64", "-o", str(blocker))
    assert code == 0, err
    assert "@EXPLICIT" in blocker.read_text()
    # --format all with a .yml name: conda-lock.yml as named, the explicit files beside it.
    named = tmp_path / "locks" / "team.yml"
    code, _, err = _lock(
        capsys, str(env), "-c", str(base_channel), "-p", "linux-64", "--format", "all", "-o", str(named)
    )
    assert code == 0, err
    assert named.is_file() and (tmp_path / "locks" / "conda-linux-64.lock").is_file()
    # No dependencies is bad input.
    empty = tmp_path / "empty.yml"
    empty.write_text("name: x\ndependencies: []\n")
    code, _, err = _lock(capsys, str(empty), "-c", str(base_channel), "-p", "linux-64")
    assert code == 2 and "no conda dependencies" in err
    # A relative channel path without ./ is a channel name, but a directory of that name exists.
    (tmp_path / "data" / "channels").mkdir(parents=True)
    base_channel.rename(tmp_path / "data" / "channels" / "base")
    monkeypatch.chdir(tmp_path)
    code, _, err = _lock(capsys, str(env), "-c", "data/channels/base", "-p", "linux-64", "-o", str(tmp_path / "o"))
    assert code == 2
    assert "did you mean ./data/channels/base" in err
    assert not (tmp_path / "o").exists()
