"""pip locking pieces on their own: requirement lines, targets, the conda->PyPI mapping, the resolver."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.tags import Tag
from packaging.version import Version

from solvent.errors import InvalidInput, LockfileError
from solvent.lockfiles.pip.mapping import conda_provided, is_python_package, load_mapping
from solvent.lockfiles.pip.requirements import DEFAULT_INDEX, read_pip_section
from solvent.lockfiles.pip.resolve import PipResolutionError, resolve
from solvent.lockfiles.pip.target import make_target, manylinux_platforms
from solvent.virtual_packages import parse_virtual_package
from tests.helpers import rec
from tests.pip_fake import FakeIndex


def _lines(*texts: str) -> list[tuple[str, str]]:
    return [(t, f"environment.yml:{i}") for i, t in enumerate(texts, 10)]


def _target(platform: str = "linux-64", python: str = "3.9.18", virtual: tuple[str, ...] = ("__glibc=2.28",)):  # type: ignore[no-untyped-def]
    vp = [parse_virtual_package(v, platform) for v in virtual]
    return make_target(platform, [rec("python", python, build="h0_cpython", subdir=platform)], vp)


# -- requirements -------------------------------------------------------------------------------
def test_requirement_lines_options_and_included_files(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text("# comment\nattrs>=22 ; python_version >= '3.8'\n-r more.txt\n")
    (tmp_path / "reqs" / "more.txt").write_text("--extra-index-url https://extra.invalid/simple/\nsix\n")
    got = read_pip_section(
        _lines(
            "requests[socks]>=2.31",
            "-r reqs/base.txt",
            "--index-url=https://mirror.invalid/simple",
            "./w/x-1.0-py3-none-any.whl",
        ),
        tmp_path,
        environ={},
    )
    assert [r.name for r in got.requirements] == ["requests", "attrs", "six", "x"]
    assert got.requirements[1].source.endswith("base.txt:2")
    assert got.requirements[3].requirement.url == (tmp_path / "w" / "x-1.0-py3-none-any.whl").as_uri()
    assert got.index_urls == ["https://mirror.invalid/simple", "https://extra.invalid/simple"]


def test_index_url_precedence() -> None:
    env = {
        "PIP_INDEX_URL": "https://env.invalid/simple",
        "PIP_EXTRA_INDEX_URL": "https://e1.invalid https://e2.invalid",
    }
    assert read_pip_section(_lines("six"), Path("."), environ={}).index_urls == [DEFAULT_INDEX]
    assert read_pip_section(_lines("six"), Path("."), environ=env).index_urls == [
        "https://env.invalid/simple",
        "https://e1.invalid",
        "https://e2.invalid",
    ]
    got = read_pip_section(_lines("-i https://file.invalid", "six"), Path("."), environ=env)
    assert got.index_url == "https://file.invalid"
    got = read_pip_section(
        _lines("-i https://file.invalid"), Path("."), cli_urls=["https://cli.invalid", "https://x.invalid"], environ=env
    )
    assert got.index_urls == ["https://cli.invalid", "https://x.invalid", "https://e1.invalid", "https://e2.invalid"]
    secret = read_pip_section(_lines("six"), Path("."), cli_urls=["https://u:s3cret@cli.invalid"], environ={})
    other = read_pip_section(_lines("six"), Path("."), cli_urls=["https://u:rotated@cli.invalid"], environ={})
    assert secret.hash_document() == other.hash_document() and "s3cret" not in str(secret.hash_document())


@pytest.mark.parametrize("line", ["-e ./src", "--find-links ./wheels", "--no-binary :all:", "./src"])
def test_unlockable_lines_are_refused_by_name(line: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(InvalidInput, match=r"environment.yml:10"):
        read_pip_section(_lines(line), tmp_path, environ={})


def test_bad_requirement_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"environment.yml:10: invalid pip requirement"):
        read_pip_section(_lines("requests >=="), tmp_path, environ={})
    with pytest.raises(InvalidInput, match=r"cannot read requirements file"):
        read_pip_section(_lines("-r nope.txt"), tmp_path, environ={})


# -- target ---------------------------------------------------------------------------------------
def test_linux_tags_follow_glibc_and_leave_out_linux_tag() -> None:
    t = _target()
    assert t.interpreter == "cp39"
    assert t.tags[0] == Tag("cp39", "cp39", "manylinux_2_28_x86_64")
    names = {tag.platform for tag in t.tags}
    assert {"manylinux_2_5_x86_64", "manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"} <= names
    assert "manylinux_2_29_x86_64" not in names and "linux_x86_64" not in names
    assert Tag("cp39", "abi3", "manylinux_2_17_x86_64") in t.tags and Tag("py3", "none", "any") in t.tags
    assert Tag("cp310", "cp310", "manylinux_2_17_x86_64") not in t.tags
    assert manylinux_platforms("aarch64", (2, 17)) == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    rank = t.tag_rank()
    assert rank[Tag("cp39", "cp39", "manylinux_2_17_x86_64")] < rank[Tag("py3", "none", "any")]


def test_osx_and_windows_tags_and_markers() -> None:
    mac = _target("osx-arm64", virtual=("__osx=12.3",))
    assert mac.platforms[0] == "macosx_12_0_arm64" and "macosx_11_0_universal2" in mac.platforms
    intel = _target("osx-64", virtual=("__osx=10.13",))
    assert "macosx_10_9_x86_64" in intel.platforms and "macosx_10_14_x86_64" not in intel.platforms
    win = _target("win-64", virtual=())
    assert win.platforms == ("win_amd64",)
    env = win.environment()
    assert env["sys_platform"] == "win32" and env["platform_system"] == "Windows" and env["os_name"] == "nt"
    assert env["python_version"] == "3.9" and env["python_full_version"] == "3.9.18"
    marker = Marker("sys_platform == 'win32' and python_version < '3.10'")
    assert win.evaluate(marker) and not mac.evaluate(marker)
    assert mac.environment()["platform_machine"] == "arm64"


def test_target_needs_python() -> None:
    with pytest.raises(LockfileError, match="no python"):
        make_target("linux-64", [rec("zlib", "1")], [])


# -- mapping --------------------------------------------------------------------------------------
def test_conda_records_that_count_for_pip(tmp_path: Path) -> None:
    recs = [
        rec("python", "3.9.18"),
        rec("pyyaml", "6.0.1", depends=["python >=3.9,<3.10.0a0", "yaml"]),
        rec("yaml", "0.2.5"),
        rec("pytorch", "2.1.0", depends=["python_abi 3.9.* *_cp39", "python"]),
        rec("typing_extensions", "4.8.0", build="pyha", subdir="noarch", noarch="python"),
        rec("six", "1.16.0", depends=["python"]),
    ]
    assert not is_python_package(recs[2])
    got = conda_provided(recs, {})
    assert sorted(got) == ["pyyaml", "six", "torch", "typing-extensions"]
    assert "torch" in got and got["torch"].record.name == "pytorch"
    assert conda_provided([rec("oddver", "1.0.0_1", depends=["python"])], {})["oddver"].version == Version("1.0.0.1")
    mapping = tmp_path / "m.yml"
    mapping.write_text("six: six-renamed\n")
    assert "six-renamed" in conda_provided(recs, load_mapping(mapping))
    mapping.write_text("- a\n")
    with pytest.raises(InvalidInput, match="conda_name: pypi_name"):
        load_mapping(mapping)


# -- resolver -------------------------------------------------------------------------------------
def _reqs(*texts: str):  # type: ignore[no-untyped-def]
    return read_pip_section(_lines(*texts), Path("."), environ={}).requirements


def test_newest_compatible_wheel_best_tag_markers_and_extras() -> None:
    idx = FakeIndex()
    idx.add("app", "1.0", ["lib>=1", "winonly ; sys_platform == 'win32'", "fancy ; extra == 'fancy'"])
    idx.add("app", "2.0", ["lib>=2"], tags=["cp310-cp310-manylinux_2_17_x86_64"])  # wrong python
    idx.add("lib", "1.0")
    idx.add("lib", "2.0", tags=["cp39-cp39-manylinux_2_17_x86_64"])
    idx.add("lib", "2.0", tags=["cp39-abi3-manylinux_2_17_x86_64"])
    idx.add("lib", "2.0", tags=["cp39-cp39-win_amd64"])
    idx.add("lib", "3.0", yanked=True)
    idx.add("winonly", "1.0")
    idx.add("fancy", "0.5")
    locked = resolve(_reqs("app"), idx, _target(), {})
    assert [(p.name, p.version) for p in locked] == [("app", "1.0"), ("lib", "2.0")]
    assert locked[1].filename == "lib-2.0-cp39-cp39-manylinux_2_17_x86_64.whl"
    assert locked[0].dependencies == {"lib": ">=1"}
    win = resolve(_reqs("app[fancy]"), idx, _target("win-64", virtual=()), {})
    assert [(p.name, p.version) for p in win] == [("app", "1.0"), ("fancy", "0.5"), ("lib", "2.0"), ("winonly", "1.0")]
    assert win[2].filename.endswith("win_amd64.whl")
    assert win[0].dependencies == {"fancy": "*", "lib": ">=1", "winonly": "*"}
    assert [p.version for p in resolve(_reqs("lib==3.0"), idx, _target(), {})] == ["3.0"]


def test_backtracking_and_conflict_explanation() -> None:
    idx = FakeIndex()
    idx.add("a", "1.0", ["c<2"])
    idx.add("a", "2.0", ["c>=3"])
    idx.add("b", "1.0", ["c<3"])
    for v in ("1.0", "2.5", "3.0"):
        idx.add("c", v)
    got = resolve(_reqs("a", "b"), idx, _target(), {})
    assert [(p.name, p.version) for p in got] == [("a", "1.0"), ("b", "1.0"), ("c", "1.0")]
    with pytest.raises(PipResolutionError) as info:
        resolve(_reqs("a>=2", "b"), idx, _target(), {})
    text = str(info.value)
    assert "a 2.0 requires c>=3" in text and "b 1.0 requires c<3" in text and "linux-64" in text


def test_no_wheel_for_target_and_sdists() -> None:
    idx = FakeIndex()
    idx.add("maconly", "1.0", tags=["cp39-cp39-macosx_11_0_arm64"])
    with pytest.raises(PipResolutionError, match=r"no file of maconly 1.0 fits linux-64.*manylinux_2_28"):
        resolve(_reqs("maconly"), idx, _target(), {})
    idx.add("pure", "1.0", ["dep"], sdist=True)
    idx.add("dep", "1.0")
    idx.add("dynamic", "1.0", sdist=True, static_metadata=False)
    assert [p.filename for p in resolve(_reqs("pure"), idx, _target(), {})] == [
        "dep-1.0-py3-none-any.whl",
        "pure-1.0.tar.gz",
    ]
    with pytest.raises(PipResolutionError, match="no file of dynamic"):
        resolve(_reqs("dynamic"), idx, _target(), {})
    with pytest.raises(PipResolutionError, match=r"nothere.*not found on any index"):
        resolve(_reqs("nothere"), idx, _target(), {})


def test_requires_python_and_prereleases() -> None:
    idx = FakeIndex()
    idx.add("x", "1.0")
    idx.add("x", "2.0", requires_python=">=3.10")
    idx.add("x", "3.0rc1")
    assert [p.version for p in resolve(_reqs("x"), idx, _target(), {})] == ["1.0"]
    assert [p.version for p in resolve(_reqs("x>=3.0rc1"), idx, _target(), {})] == ["3.0rc1"]


def test_requires_python_only_in_the_files_metadata() -> None:
    """An index without data-requires-python: the wheel's METADATA says it, and pip honours it."""
    idx = FakeIndex()
    idx.add("x", "1.0")
    newer = idx.add("x", "2.0")
    idx.metadata_python[newer.filename] = ">=3.10"
    assert [p.version for p in resolve(_reqs("x"), idx, _target(), {})] == ["1.0"]
    with pytest.raises(PipResolutionError) as info:
        resolve(_reqs("x>=2"), idx, _target(), {})
    text = str(info.value)
    assert "x 2.0 requires Requires-Python >=3.10" in text and "the target has python 3.9" in text


def test_conda_provides_and_clashes() -> None:
    idx = FakeIndex()
    idx.add("app", "1.0", ["requests>=2", "pyyaml"])
    idx.add("requests", "2.99")
    conda = conda_provided(
        [
            rec("requests", "2.31.0", subdir="noarch", noarch="python", channel="conda-forge"),
            rec("pyyaml", "6.0", depends=["python"]),
        ],
        {},
    )
    got = resolve(_reqs("app"), idx, _target(), conda)
    assert [p.name for p in got] == ["app"] and got[0].dependencies == {"pyyaml": "*", "requests": ">=2"}
    assert "requests" not in idx.calls
    with pytest.raises(
        PipResolutionError, match=r"pip requirement `requests>=3` but conda installs requests 2.31.0 \(conda-forge\)"
    ):
        resolve(_reqs("requests>=3"), idx, _target(), conda)
    idx.add("b", "1.0", ["requests<2"])
    with pytest.raises(PipResolutionError, match=r"b 1.0 requires requests<2, but conda installs requests 2.31.0"):
        resolve(_reqs("b"), idx, _target(), conda)


def test_hash_covers_lines_as_written_and_local_archive_content(tmp_path: Path) -> None:
    docs = []
    for where in ("a", "b"):
        (tmp_path / where / "dist").mkdir(parents=True)
        (tmp_path / where / "dist" / "x-1.0-py3-none-any.whl").write_bytes(b"same")
        docs.append(
            read_pip_section(_lines("./dist/x-1.0-py3-none-any.whl"), tmp_path / where, environ={}).hash_document()
        )
    assert docs[0] == docs[1]  # another checkout folder, the same hash
    (tmp_path / "b" / "dist" / "x-1.0-py3-none-any.whl").write_bytes(b"rebuilt")
    assert (
        read_pip_section(_lines("./dist/x-1.0-py3-none-any.whl"), tmp_path / "b", environ={}).hash_document() != docs[0]
    )


def test_extras_of_a_conda_installed_project_still_get_installed() -> None:
    idx = FakeIndex()
    idx.add("requests", "2.31.0", ["idna", "pysocks!=1.5.7 ; extra == 'socks'"])
    idx.add("pysocks", "1.7.1")
    conda = conda_provided([rec("requests", "2.31.0", subdir="noarch", noarch="python")], {})
    got = resolve(_reqs("requests[socks]>=2"), idx, _target(), conda)
    assert [(p.name, p.version) for p in got] == [("pysocks", "1.7.1")]  # idna is conda's business
