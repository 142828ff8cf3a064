"""The PyPI index client against a loopback index serving real wheels and sdists (never real PyPI)."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import zipfile
from pathlib import Path
from typing import Callable, Iterator

import pytest
from packaging.tags import Tag
from packaging.version import Version

from solvent.channels.http import HttpClient
from solvent.channels.progress import Progress
from solvent.errors import CacheError, FetchError, InvalidInput, SolventError
from solvent.lockfiles.pip.errors import (
    PipCacheError,
    PipCorruptFile,
    PipIndexError,
    PipMetadataError,
    PipNetworkError,
    PipProjectNotFound,
)
from solvent.lockfiles.pip.index import CoreMetadata, PypiFile, PypiIndex
from solvent.lockfiles.pip.metadata import parse_fields, parse_fields_email
from solvent.lockfiles.pip.simple import JSON_TYPE, parse_page
from solvent.lockfiles.pip.wheel import RangeFile
from tests.pypi_server import PypiServer, Release, servers

MB = 1024 * 1024
PASSWORD = "s3cr3t-pass-7f2a9c"

DEMO = [
    Release("Demo.Pkg", "1.0", requires_dist=["dep>=2", "extra-dep; extra == 'fast'"], provides_extra=["fast"]),
    Release(
        "Demo.Pkg",
        "1.1",
        requires_python=">=3.9",
        tags=["cp39-cp39-manylinux_2_17_x86_64", "cp311-cp311-macosx_11_0_arm64", "cp39-cp39-win_amd64"],
        sdist=True,
        requires_dist=["dep>=2"],
    ),
    Release("Demo.Pkg", "0.9", yanked="broken build", metadata_file=False),
    Release("dep", "2.0", payload_size=2 * MB, metadata_file=False),
    Release("static-sdist", "1.0", tags=[], sdist=True, requires_dist=["dep"], requires_python=">=3.8"),
    Release("zip-sdist", "3.0", tags=[], sdist=True, sdist_format="zip", metadata_file=False),
    Release("dyn-sdist", "1.0", tags=[], sdist=True, dynamic=["Requires-Dist"]),  # PEP 658 file too
    Release("old-sdist", "1.0", tags=[], sdist=True, sdist_metadata_version="2.1", metadata_file=False),
]


@pytest.fixture
def server() -> Iterator[PypiServer]:
    with PypiServer.start(DEMO) as srv:
        yield srv


def make_index(urls: list[str] | str, cache: Path, *, offline: bool = False, retries: int = 2) -> PypiIndex:
    http = HttpClient(retries=retries, backoff=0.001, timeout=5)
    return PypiIndex([urls] if isinstance(urls, str) else urls, cache_dir=cache, offline=offline, http=http)


def by_name(files: list[PypiFile]) -> dict[str, PypiFile]:
    return {f.filename: f for f in files}


# --- listing --------------------------------------------------------------------------------------


def test_json_and_html_pages_give_identical_files(server: PypiServer, tmp_path: Path) -> None:
    from_json = make_index(server.url, tmp_path / "a").files("demo-pkg")
    assert server.log("/simple/*")[0].headers["Accept"].startswith("application/vnd.pypi.simple.v1+json")
    server.json_api = False
    from_html = make_index(server.url, tmp_path / "b").files("Demo_Pkg")
    assert from_json == from_html
    assert [f.filename for f in from_json] == [s.filename for s in server.projects["demo-pkg"]]
    assert len(from_json) == 6

    files = by_name(from_json)
    linux = files["demo_pkg-1.1-cp39-cp39-manylinux_2_17_x86_64.whl"]
    assert linux.project == "demo-pkg"
    assert linux.url == server.file_url(linux.filename)  # resolved against the page, no fragment
    assert linux.sha256 == server.file(linux.filename).sha256  # type: ignore[union-attr]
    assert linux.requires_python == ">=3.9"
    assert linux.version == Version("1.1") and linux.is_wheel
    assert Tag("cp39", "cp39", "manylinux_2_17_x86_64") in linux.tags
    assert linux.has_metadata and linux.metadata_sha256 == server.file(linux.filename).metadata_sha256  # type: ignore[union-attr]
    assert linux.index_url == server.url and not linux.yanked

    sdist = files["demo_pkg-1.1.tar.gz"]
    assert not sdist.is_wheel and sdist.tags == frozenset() and sdist.version == Version("1.1")
    yanked = files["demo_pkg-0.9-py3-none-any.whl"]
    assert yanked.yanked and yanked.yanked_reason == "broken build"
    assert not yanked.has_metadata and yanked.metadata_sha256 is None and yanked.requires_python is None
    assert files["demo_pkg-1.0-py3-none-any.whl"].tags == frozenset({Tag("py3", "none", "any")})


def test_unknown_project_is_not_found_on_any_index(server: PypiServer, tmp_path: Path) -> None:
    with PypiServer.start([Release("other", "1.0")]) as second:
        index = make_index([server.url, second.url], tmp_path / "c")
        with pytest.raises(PipProjectNotFound) as caught:
            index.files("no-such-thing")
        assert caught.value.project == "no-such-thing"
        assert server.url in str(caught.value) and second.url in str(caught.value)
        assert isinstance(caught.value, SolventError)
        # a project on the second index only is found there; first-index files come first
        assert [f.filename for f in index.files("other")] == ["other-1.0-py3-none-any.whl"]
        with PypiServer.start([Release("other", "2.0")]) as first:
            both = make_index([first.url, second.url], tmp_path / "d").files("other")
            assert [(str(f.version), f.index_url) for f in both] == [("2.0", first.url), ("1.0", second.url)]


def test_second_listing_revalidates_with_etag_and_gets_304(server: PypiServer, tmp_path: Path) -> None:
    first = make_index(server.url, tmp_path / "c").files("dep")
    server.clear_log()
    again = make_index(server.url, tmp_path / "c")
    assert again.files("dep") == first
    [request] = server.log()
    assert request.headers.get("If-None-Match") and request.status == 304
    assert again.stats["pages_not_modified"] == 1
    again.files("dep")  # memoized in the instance: no request at all
    assert server.count() == 1


def test_max_age_page_is_reused_without_a_request(server: PypiServer, tmp_path: Path) -> None:
    server.cache_control = "max-age=600"
    make_index(server.url, tmp_path / "c").files("dep")
    server.clear_log()
    assert len(make_index(server.url, tmp_path / "c").files("dep")) == 1
    assert server.count() == 0


# --- metadata -------------------------------------------------------------------------------------


def test_pep658_metadata_file_is_used_instead_of_the_wheel(server: PypiServer, tmp_path: Path) -> None:
    index = make_index(server.url, tmp_path / "c")
    wheel = by_name(index.files("demo-pkg"))["demo_pkg-1.0-py3-none-any.whl"]
    server.clear_log()
    meta = index.metadata(wheel)
    assert meta == CoreMetadata(
        name="Demo.Pkg",
        version="1.0",
        requires_dist=("dep>=2", "extra-dep; extra == 'fast'"),
        requires_python=None,
        provides_extra=("fast",),
    )
    assert [r.path for r in server.log()] == ["/files/demo_pkg-1.0-py3-none-any.whl.metadata"]
    assert index.metadata(wheel) is meta  # memoized
    assert server.count() == 1


def test_range_requests_read_metadata_without_downloading_the_wheel(server: PypiServer, tmp_path: Path) -> None:
    index = make_index(server.url, tmp_path / "c")
    [wheel] = index.files("dep")
    assert not wheel.has_metadata
    size = len(server.file(wheel.filename).data)  # type: ignore[union-attr]
    assert size > 2 * MB
    server.clear_log()
    meta = index.metadata(wheel)
    assert (meta.name, meta.version, meta.requires_dist) == ("dep", "2.0", ())
    requests = server.log("/files/*")
    assert requests and all(r.headers.get("Range", "").startswith("bytes=") for r in requests)
    assert all(r.status == 206 for r in requests)
    assert requests[0].headers["Range"].startswith("bytes=-")
    assert server.bytes_sent("/files/*") < 200_000 < size
    assert server.count("*.metadata") == 0


def test_range_reads_of_a_member_outside_the_tail(tmp_path: Path) -> None:
    """METADATA written first (before a 2 MB payload) is fetched by a second, explicit range."""
    release = Release("front", "1.0", payload_size=2 * MB, metadata_file=False)
    with PypiServer.start([release]) as srv:
        served = srv.projects["front"][0]
        buffer = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(served.data)) as src, zipfile.ZipFile(buffer, "w") as dst:
            names = sorted(src.namelist(), key=lambda n: not n.endswith("METADATA"))
            for name in names:
                dst.writestr(src.getinfo(name), src.read(name))
        served.data = buffer.getvalue()
        index = make_index(srv.url, tmp_path / "c")
        [wheel] = index.files("front")
        assert index.metadata(wheel).version == "1.0"
        ranges = [r.headers["Range"] for r in srv.log("/files/*")]
        assert ranges[0].startswith("bytes=-") and any(r.startswith("bytes=0-") for r in ranges[1:])
        assert srv.bytes_sent("/files/*") < 200_000


def test_server_ignoring_range_falls_back_to_the_full_wheel(tmp_path: Path) -> None:
    with PypiServer.start(DEMO, ranges=False) as srv:
        index = make_index(srv.url, tmp_path / "c")
        [wheel] = index.files("dep")
        srv.clear_log()
        assert index.metadata(wheel).name == "dep"
        [request] = srv.log()
        assert request.status == 200 and "Range" in request.headers
        assert request.bytes_sent == len(srv.file(wheel.filename).data)  # type: ignore[union-attr]


def test_full_wheel_not_matching_its_hash_is_refused(tmp_path: Path) -> None:
    with PypiServer.start(DEMO, ranges=False) as srv:
        index = make_index(srv.url, tmp_path / "c")
        [wheel] = index.files("dep")
        srv.override(f"/files/{wheel.filename}", srv.file(wheel.filename).data + b"x")  # type: ignore[union-attr]
        with pytest.raises(PipCorruptFile, match="sha256"):
            index.metadata(wheel)


@pytest.mark.parametrize("project", ["static-sdist", "zip-sdist"])
def test_sdist_with_static_metadata_is_read(server: PypiServer, tmp_path: Path, project: str) -> None:
    server.metadata_files = False
    index = make_index(server.url, tmp_path / "c")
    [sdist] = index.files(project)
    assert not sdist.is_wheel and not sdist.has_metadata
    meta = index.metadata(sdist)
    assert meta.name == project and meta.version == sdist.version.public
    if project == "static-sdist":
        assert meta.requires_dist == ("dep",) and meta.requires_python == ">=3.8"
    assert [r.path for r in server.log("/files/*")] == [f"/files/{sdist.filename}"]


@pytest.mark.parametrize(("project", "reason"), [("dyn-sdist", "Dynamic"), ("old-sdist", "Metadata-Version 2.1")])
def test_sdist_without_static_dependencies_is_refused(
    server: PypiServer, tmp_path: Path, project: str, reason: str
) -> None:
    index = make_index(server.url, tmp_path / "c")
    [sdist] = index.files(project)
    with pytest.raises(PipMetadataError) as caught:
        index.metadata(sdist)
    text = str(caught.value)
    assert project in text and sdist.filename in text and reason in text
    assert "no build backends are run" in text and "pin a version with a wheel" in text
    assert caught.value.project == project and caught.value.exit_code == 2
    # the PKG-INFO was cached: asking again refuses without downloading the sdist again
    server.clear_log()
    with pytest.raises(PipMetadataError):
        make_index(server.url, tmp_path / "c").metadata(sdist)
    assert server.count("/files/*") == 0


def test_corrupt_metadata_file_is_refused(server: PypiServer, tmp_path: Path) -> None:
    index = make_index(server.url, tmp_path / "c")
    wheel = by_name(index.files("demo-pkg"))["demo_pkg-1.0-py3-none-any.whl"]
    server.override(f"/files/{wheel.filename}.metadata", b"Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 6.6\n")
    with pytest.raises(PipCorruptFile) as caught:
        index.metadata(wheel)
    assert wheel.filename in str(caught.value) and "sha256" in str(caught.value)
    assert not list((tmp_path / "c").glob("pypi-metadata/*/*"))  # nothing bad was cached


def test_metadata_is_cached_on_disk_by_file(server: PypiServer, tmp_path: Path) -> None:
    index = make_index(server.url, tmp_path / "c")
    files = index.files("dep") + index.files("demo-pkg")
    first = [index.metadata(f) for f in files if f.is_wheel]
    server.clear_log()
    fresh = make_index(server.url, tmp_path / "c")
    assert [fresh.metadata(f) for f in files if f.is_wheel] == first
    assert server.count() == 0


# --- offline, credentials, failures ---------------------------------------------------------------


def test_offline_uses_the_cache_and_names_what_is_missing(server: PypiServer, tmp_path: Path) -> None:
    online = make_index(server.url, tmp_path / "c")
    files = online.files("dep")
    meta = online.metadata(files[0])
    with pytest.raises(PipProjectNotFound):
        online.files("nope")
    url = server.url
    server.stop()
    offline = make_index(url, tmp_path / "c", offline=True)
    assert offline.files("dep") == files
    assert offline.metadata(files[0]) == meta
    with pytest.raises(PipProjectNotFound):  # the 404 was remembered
        offline.files("nope")
    with pytest.raises(PipCacheError) as caught:
        offline.files("demo-pkg")
    assert "demo-pkg" in str(caught.value) and "offline" in str(caught.value)
    assert isinstance(caught.value, CacheError) and caught.value.exit_code == 3
    with pytest.raises(PipCacheError, match="static_sdist"):
        make_index(url, tmp_path / "empty", offline=True).metadata(
            PypiFile(
                "static-sdist", "static_sdist-1.0.tar.gz", url + "x.tar.gz", None, None, False, False, None,
                Version("1.0"), False, frozenset(), url,
            )
        )  # fmt: skip


def test_credentials_are_sent_but_never_shown(tmp_path: Path) -> None:
    with PypiServer.start(DEMO, auth=("alice", PASSWORD), metadata_files=False) as srv:
        assert PASSWORD in srv.url
        index = make_index(srv.url, tmp_path / "c")
        [wheel] = index.files("dep")
        assert PASSWORD not in wheel.url and "alice" not in wheel.url and wheel.index_url == srv.base + "/simple/"
        assert index.metadata(wheel).name == "dep"  # range requests carried the credentials too
        assert all(r.status in (200, 206) for r in srv.log())
        assert PASSWORD not in repr(index)

        srv.fail("/simple/demo-pkg/", status=500, times=-1)
        with pytest.raises(PipNetworkError) as failed:
            index.files("demo-pkg")
        with pytest.raises(PipProjectNotFound) as missing:
            index.files("nope")
        token_only = make_index(srv.url.replace(f"alice:{PASSWORD}", "tok-5e6f7a8b9c0d"), tmp_path / "e")
        with pytest.raises(PipNetworkError) as anonymous:
            token_only.files("dep")
        assert "tok-5e6f7a8b9c0d" not in str(anonymous.value) and "401" in str(anonymous.value)
        wrong = make_index(srv.url.replace(PASSWORD, "wrong-password-123"), tmp_path / "d")
        with pytest.raises(PipNetworkError) as refused:
            wrong.files("dep")
        assert "401" in str(refused.value)
        for error in (failed.value, missing.value, refused.value):
            assert PASSWORD not in str(error) and "wrong-password-123" not in str(error)
        for path in (tmp_path / "c").rglob("*"):
            assert path.is_dir() or PASSWORD.encode() not in path.read_bytes()


@pytest.mark.parametrize("json_api", [True, False])
def test_path_token_is_used_for_downloads_but_kept_out_of_records(tmp_path: Path, json_api: bool) -> None:
    token = "pt-0a1b2c3d4e5f6a7b"
    with PypiServer.start(DEMO, path_token=token, json_api=json_api, metadata_files=False) as srv:
        index = make_index(srv.url, tmp_path / "c")
        wheel = by_name(index.files("demo-pkg"))["demo_pkg-1.1-cp39-cp39-win_amd64.whl"]
        assert token not in wheel.url and wheel.url == srv.file_url(wheel.filename)
        assert token not in wheel.index_url and token not in str(index.index_urls)
        assert index.metadata(wheel).requires_python == ">=3.9"
        assert all(r.status in (200, 206) for r in srv.log()) and srv.count("/files/*") > 0
        srv.fail("/files/*", status=500, times=-1)
        with pytest.raises(PipNetworkError) as caught:
            make_index(srv.url, tmp_path / "d").metadata(wheel)
        assert "500" in str(caught.value) and token not in str(caught.value)
        for path in (tmp_path / "c").rglob("*"):
            assert path.is_dir() or token.encode() not in path.read_bytes()
        # read back from the (redacted) cache, offline: same records, and downloads still carry the token
        srv.clear_faults()
        offline = make_index(srv.url, tmp_path / "c", offline=True)
        assert by_name(offline.files("demo-pkg"))[wheel.filename] == wheel
        other = by_name(offline.files("demo-pkg"))["demo_pkg-1.1-cp39-cp39-manylinux_2_17_x86_64.whl"]
        assert f"/t/{token}/files/" in offline.download_url(other)
        assert make_index(srv.url, tmp_path / "c").metadata(other).version == "1.1"


def test_http_500_is_retried_then_a_network_error_naming_the_url(server: PypiServer, tmp_path: Path) -> None:
    server.fail("/simple/dep/", status=500, times=1)
    assert len(make_index(server.url, tmp_path / "a").files("dep")) == 1
    assert server.count("/simple/dep/") == 2
    server.clear_log()
    server.fail("/simple/demo-pkg/", status=503, times=-1)
    with pytest.raises(PipNetworkError) as caught:
        make_index(server.url, tmp_path / "b", retries=2).files("demo-pkg")
    assert server.url + "demo-pkg/" in str(caught.value) and "503" in str(caught.value)
    assert isinstance(caught.value, FetchError) and caught.value.exit_code == 3
    assert server.count("/simple/demo-pkg/") == 3


# --- units ----------------------------------------------------------------------------------------


def test_email_fallback_parses_like_packaging() -> None:
    text = (
        b"Metadata-Version: 2.2\nName: x\nVersion: 1\nDynamic: Requires-Dist\nRequires-Python: >=3.8\n"
        b"Requires-Dist: a>=1\nRequires-Dist: b; extra == 'y'\nProvides-Extra: y\n\nbody\n"
    )
    keys = ("metadata_version", "name", "version", "dynamic", "requires_python", "requires_dist", "provides_extra")
    packaged = parse_fields(text)
    assert {k: packaged.get(k) for k in keys} == parse_fields_email(text)


def test_range_file_reads_any_span_with_few_fetches() -> None:
    data = random.Random(1).randbytes(300_000)
    fetched: list[tuple[int, int]] = []

    def fetch(first: int, last: int) -> bytes:
        fetched.append((first, last))
        return data[first : last + 1]

    rng = random.Random(2)
    for _ in range(200):
        reader = RangeFile(len(data), fetch, initial=(len(data) - 1000, data[-1000:]), min_chunk=rng.randint(1, 9000))
        for _ in range(6):
            start, size = rng.randint(0, len(data)), rng.randint(-1, 20_000)
            reader.seek(start)
            assert reader.read(size) == (data[start:] if size < 0 else data[start : start + size])
    fetched.clear()
    reader = RangeFile(len(data), fetch, min_chunk=4096)
    for offset in range(0, 4096, 100):
        reader.seek(offset)
        reader.read(50)
    assert fetched == [(0, 4095)]


def test_invalid_project_name_is_refused(server: PypiServer, tmp_path: Path) -> None:
    with pytest.raises(SolventError):
        make_index(server.url, tmp_path / "c").files("../etc")
    assert server.count() == 0


def test_metadata_of_another_version_is_refused_and_not_cached(server: PypiServer, tmp_path: Path) -> None:
    index = make_index(server.url, tmp_path / "c")
    wheel = by_name(index.files("demo-pkg"))["demo_pkg-1.0-py3-none-any.whl"]
    body = b"Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 6.6\n"
    server.override(f"/files/{wheel.filename}.metadata", body)
    unchecked = dataclasses.replace(wheel, metadata_sha256=None)
    with pytest.raises(PipMetadataError, match=r"says Demo\.Pkg 6\.6, not demo-pkg 1\.0"):
        index.metadata(unchecked)
    assert not list((tmp_path / "c").glob("pypi-metadata/*/*"))


def test_progress_counts_pages_and_metadata(server: PypiServer, tmp_path: Path) -> None:
    progress = Progress(0, "pip")
    index = PypiIndex([server.url], cache_dir=tmp_path / "c", http=HttpClient(backoff=0.001), progress=progress)
    index.metadata(index.files("dep")[0])
    assert progress.done == 2
    index.files("dep")
    assert progress.done == 2


PYPI_HTML = b"""<!DOCTYPE html><html><head><base href="https://files.example.org/packages/"></head><body>
<a href="ab/cd/pkg-1.0-py3-none-any.whl#sha256=AABB" data-requires-python="&gt;=3.7" data-core-metadata="true">x</a>
<a href="https://other.example.org/pkg-1.0.tar.gz#md5=1234" data-yanked="">pkg-1.0.tar.gz</a>
<a href="pkg-1.0.tar.bz2">legacy sdist</a><a href="pkg-1.0-py2.7.egg">egg</a><a href="other-1.0.tar.gz">other</a>
<a href="pkg-0.1-py3-none-any.whl" data-dist-info-metadata="sha256=EE" data-core-metadata="false">old</a>
<a>no href</a></body></html>"""


def test_html_page_edge_cases() -> None:
    files = parse_page(PYPI_HTML, "text/html", "https://idx.example.org/simple/pkg/", "pkg", "https://idx/")
    assert [f.filename for f in files] == ["pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz", "pkg-0.1-py3-none-any.whl"]
    wheel, sdist, old = files
    assert wheel.url == "https://files.example.org/packages/ab/cd/pkg-1.0-py3-none-any.whl"
    assert (wheel.sha256, wheel.requires_python, wheel.has_metadata, wheel.metadata_sha256) == (
        "aabb",
        ">=3.7",
        True,
        None,
    )
    assert (sdist.sha256, sdist.yanked, sdist.yanked_reason) == (None, True, None)
    assert not old.has_metadata  # data-core-metadata wins over the legacy attribute


def test_json_page_edge_cases() -> None:
    doc = {
        "meta": {"api-version": "1.0"},
        "files": [
            {"filename": "pkg-1.0-py3-none-any.whl", "url": "https://f.example/pkg-1.0-py3-none-any.whl#sha256=ff",
             "hashes": {}, "yanked": True, "dist-info-metadata": {"sha256": "AB"}},
            {"filename": "pkg-2.0.zip", "url": "../../f/pkg-2.0.zip", "hashes": {"sha256": "CD", "md5": "00"},
             "core-metadata": True, "requires-python": ""},
            {"filename": "pkg-2.0.exe", "url": "pkg-2.0.exe", "hashes": {}},
            {"filename": "bad"},
        ],
    }  # fmt: skip
    files = parse_page(json.dumps(doc).encode(), JSON_TYPE, "https://i.example/simple/pkg/", "pkg", "https://i/")
    wheel, sdist = files
    assert (wheel.sha256, wheel.yanked, wheel.yanked_reason, wheel.metadata_sha256) == ("ff", True, None, "ab")
    assert sdist.url == "https://i.example/f/pkg-2.0.zip" and sdist.sha256 == "cd"
    assert sdist.has_metadata and sdist.metadata_sha256 is None and sdist.requires_python is None
    with pytest.raises(PipIndexError, match="unreadable JSON"):
        parse_page(b"{not json", JSON_TYPE, "https://i.example/simple/pkg/", "pkg", "https://i/")


@pytest.mark.parametrize("url", ["ftp://host/simple", "/local/dir", "https://"])
def test_index_url_must_be_http(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        PypiIndex([url], cache_dir=tmp_path)


@pytest.fixture
def pypi_server() -> Iterator[Callable[..., PypiServer]]:
    with servers() as start:
        yield start


def test_server_factory_serves_html_when_json_is_off(pypi_server: Callable[..., PypiServer], tmp_path: Path) -> None:
    srv = pypi_server([Release("one", "1.0", tags=["cp39-cp39-win_amd64"])], json_api=False, metadata_files=False)
    [wheel] = make_index(srv.url, tmp_path / "c").files("one")
    assert wheel.tags == frozenset({Tag("cp39", "cp39", "win_amd64")}) and not wheel.has_metadata
    assert srv.log()[0].headers["Accept"].startswith("application/vnd.pypi.simple.v1+json")
