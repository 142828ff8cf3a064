"""The ``solvent`` command: exit codes, JSON shape, readable errors, ``python -m solvent``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from solvent.cli import main
from tests.helpers import rec, write_channel


@pytest.fixture
def channel(tmp_path: Path) -> Path:
    records = [
        rec("python", "3.9.1", depends=["libz"]),
        rec("libz", "1.0"),
        rec("libz", "2.0"),
        rec("numpy", "1.26", depends=["python 3.9.*"]),
        rec("gpu", "1.0", depends=["__cuda >=12"]),
    ]
    return write_channel(tmp_path / "chan", records)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_solve_json(channel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "solve", "-c", str(channel), "-p", "linux-64", "--cache-dir", str(tmp_path / "c"), "--json", "numpy"
    )
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True and data["platform"] == "linux-64"
    assert [p["name"] for p in data["packages"]] == ["libz", "numpy", "python"]
    keys = {
        "name",
        "version",
        "build",
        "build_number",
        "channel",
        "subdir",
        "fn",
        "url",
        "md5",
        "sha256",
        "depends",
        "constrains",
    }
    assert all(set(p) == keys for p in data["packages"])
    assert set(data["timings"]) == {"load_s", "solve_s"}
    assert data["optimal"] is True


def test_solve_table(channel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "solve", "-c", str(channel), "-p", "linux-64", "--cache-dir", str(tmp_path / "c"), "numpy"
    )
    assert code == 0
    assert out.splitlines()[0].split() == ["name", "version", "build", "channel"]
    assert "3 packages for linux-64" in out


def test_unsatisfiable_exit_1(channel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["solve", "-c", str(channel), "-p", "linux-64", "--cache-dir", str(tmp_path / "c")]
    code, out, _ = run(capsys, *args, "--virtual-package", "__cuda=", "--json", "gpu")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and data["error"]["kind"] == "unsatisfiable"
    assert "__cuda" in data["error"]["message"]
    assert data["error"]["conflict"]["causes"]
    code, _, err = run(capsys, *args, "--virtual-package", "__cuda=11.8", "gpu")
    assert code == 1 and "the target has __cuda 11.8" in err and "Traceback" not in err
    code, out, _ = run(capsys, *args, "--virtual-package", "__cuda=12.4", "--json", "gpu")
    assert code == 0


def test_bad_input_exit_2(channel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["solve", "-c", str(channel), "--cache-dir", str(tmp_path / "c")]
    code, out, _ = run(capsys, *args, "-p", "linux-64", "--json", "numpy >=1.2,,<2")
    assert code == 2
    assert json.loads(out)["error"]["kind"] == "invalid-spec"
    code, _, err = run(capsys, *args, "-p", "linux-46", "numpy")
    assert code == 2 and "unknown platform 'linux-46'" in err
    code, _, err = run(
        capsys, "solve", "-c", str(tmp_path / "nope"), "-p", "linux-64", "--cache-dir", str(tmp_path / "c"), "numpy"
    )
    assert code == 2 and "nope" in err


def test_offline_without_cache_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "solve",
        "-c",
        "https://conda.example.invalid/nothing",
        "-p",
        "linux-64",
        "--offline",
        "--cache-dir",
        str(tmp_path / "c"),
        "numpy",
    )
    assert code == 3
    assert "nothing" in err and "Traceback" not in err


def test_installed_file(channel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / "env.txt"
    env.write_text("libz-1.0-0\n")
    args = ["solve", "-c", str(channel), "-p", "linux-64", "--cache-dir", str(tmp_path / "c"), "--json"]
    code, out, _ = run(capsys, *args, "--installed", str(env), "--update-modifier", "freeze-installed", "numpy")
    assert code == 0
    assert {p["name"]: p["version"] for p in json.loads(out)["packages"]}["libz"] == "1.0"
    env.write_text("libz-9.9-0\n")
    code, _, _ = run(capsys, *args, "--installed", str(env), "numpy")
    assert code == 2


def test_fetch_and_info(channel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "fetch", "-c", str(channel), "-p", "linux-64", "--cache-dir", str(tmp_path / "c"), "--json"
    )
    assert code == 0
    fetched = json.loads(out)["fetched"]
    assert {f["subdir"] for f in fetched} == {"linux-64", "noarch"}
    code, out, _ = run(capsys, "info", "--json")
    assert code == 0
    data = json.loads(out)
    assert {"cache_dir", "platform", "virtual_packages"} <= set(data)


def test_python_dash_m(channel: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "solvent",
            "solve",
            "-c",
            str(channel),
            "-p",
            "linux-64",
            "--cache-dir",
            str(tmp_path / "c"),
            "--json",
            "numpy",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    help_text = subprocess.run(
        [sys.executable, "-m", "solvent", "solve", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "examples:" in help_text
    # the command's own exit path (console_main: main(), then gc.freeze) keeps main's exit code
    args = ["solve", "-c", str(channel), "-p", "linux-64", "--cache-dir", str(tmp_path / "c")]
    unsat = subprocess.run(
        [sys.executable, "-m", "solvent", *args, "--virtual-package", "__cuda=", "--json", "gpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unsat.returncode == 1 and json.loads(unsat.stdout)["error"]["kind"] == "unsatisfiable"


def test_the_command_is_console_main() -> None:
    from solvent.cli import console_main

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert f'solvent = "{console_main.__module__}:{console_main.__name__}"' in pyproject


def test_installed_from_explicit_lockfile_and_conda_meta(
    channel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["solve", "-c", str(channel), "-p", "linux-64", "--cache-dir", str(tmp_path / "c"), "--json"]
    explicit = tmp_path / "env.lock"
    explicit.write_text(f"# platform: linux-64\n@EXPLICIT\n{channel.as_uri()}/linux-64/libz-1.0-0.tar.bz2#{'0' * 32}\n")
    code, out, _ = run(capsys, *args, "--installed", str(explicit), "--update-modifier", "freeze-installed", "numpy")
    assert code == 0
    assert {p["name"]: p["version"] for p in json.loads(out)["packages"]}["libz"] == "1.0"
    meta = tmp_path / "prefix" / "conda-meta"
    meta.mkdir(parents=True)
    (meta / "libz-1.0-0.json").write_text(
        json.dumps({"name": "libz", "version": "1.0", "build": "0", "build_number": 0, "channel": "test"})
    )
    code, out, _ = run(
        capsys, *args, "--installed", str(tmp_path / "prefix"), "--update-modifier", "freeze-installed", "numpy"
    )
    assert code == 0
    assert {p["name"]: p["version"] for p in json.loads(out)["packages"]}["libz"] == "1.0"
