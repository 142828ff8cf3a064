"""Fetching and caching repodata over real HTTP on loopback (no PackageRecord needed)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import pytest
import zstandard

from solvent.channels.cache import RepodataCache
from solvent.channels.channel import parse_channel
from solvent.channels.fetch import RepodataFetcher, SubdirResult
from solvent.channels.http import HttpClient
from solvent.channels.index import ChannelIndex
from solvent.channels.repodata import SubdirIndex
from solvent.errors import CacheError, ChannelError, FetchError, RepodataError
from tests.channel_server import ChannelServer, entry, repodata
from tests.conftest import shared_path

TOKEN = "tk-9f8e7d6c5b4a3921-secret"


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with ChannelServer(tmp_path / "srv") as srv:
        yield srv


def publish(server: ChannelServer, channel: str, subdir: str, doc: dict[str, Any], *, zst: bool = False) -> bytes:
    data = json.dumps(doc).encode()
    server.add_file(f"{channel}/{subdir}/repodata.json", data)
    if zst:
        server.add_file(f"{channel}/{subdir}/repodata.json.zst", zstandard.ZstdCompressor().compress(data))
    return data


def make_fetcher(cache_dir: Path, *, offline: bool = False, retries: int = 2) -> RepodataFetcher:
    http = HttpClient(retries=retries, backoff=0.001, timeout=5)
    return RepodataFetcher(RepodataCache(cache_dir), http, offline=offline)


def load(fetcher: RepodataFetcher, url: str, subdir: str = "noarch") -> SubdirResult:
    return fetcher.load(parse_channel(url), subdir)


def names_of(result: SubdirResult) -> set[str]:
    assert result.source is not None
    return set(result.source.names())


SIMPLE = repodata("noarch", [entry("a", depends=["b"]), entry("b", "2.0")])


def test_200_then_304_and_state_file(server: ChannelServer, tmp_path: Path) -> None:
    payload = publish(server, "chan", "noarch", SIMPLE)
    fetcher = make_fetcher(tmp_path / "cache")
    first = load(fetcher, server.channel_url("chan"))
    assert first.status == "downloaded"
    assert names_of(first) == {"a", "b"}
    assert first.source is not None and first.source.raw("b")[0][1]["version"] == "2.0"
    # no shards, no zst on this server: index, zst and json were asked for
    assert server.paths() == [
        "chan/noarch/repodata_shards.msgpack.zst",
        "chan/noarch/repodata.json.zst",
        "chan/noarch/repodata.json",
    ]
    server.clear_log()
    second = load(make_fetcher(tmp_path / "cache"), server.channel_url("chan"))
    assert second.status == "not-modified"
    assert names_of(second) == {"a", "b"}
    # the missing .zst and shard index are remembered: only one conditional request
    assert [(e.path, e.status) for e in server.log] == [("chan/noarch/repodata.json", 304)]
    assert "If-None-Match" in server.log[0].headers
    state = next(RepodataCache(tmp_path / "cache").entries())
    meta = state["repodata"]
    assert meta["size"] == len(payload)
    assert meta["format"] == "json" and meta["etag"] and meta["last_modified"]
    assert state["has_zst"]["value"] is False


def test_last_modified_revalidation(server: ChannelServer, tmp_path: Path) -> None:
    server.set_etags(False)
    publish(server, "chan", "noarch", SIMPLE)
    load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    server.clear_log()
    again = load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    assert again.status == "not-modified"
    assert "If-Modified-Since" in server.log[0].headers


def test_fresh_max_age_costs_no_request(server: ChannelServer, tmp_path: Path) -> None:
    server.set_cache_control("public, max-age=600")
    publish(server, "chan", "noarch", SIMPLE, zst=True)
    load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    server.clear_log()
    again = load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    assert again.status == "fresh"
    assert server.paths() == []
    assert names_of(again) == {"a", "b"}


def test_zst_preferred_when_present(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE, zst=True)
    result = load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    assert names_of(result) == {"a", "b"}
    assert "chan/noarch/repodata.json" not in server.paths()
    state = next(RepodataCache(tmp_path / "c").entries())
    assert state["repodata"]["format"] == "zst" and state["has_zst"]["value"] is True


def test_json_gzip_fallback_when_zst_forbidden(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE, zst=True)
    server.fail("*.zst", status=403, times=-1)
    result = load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    assert names_of(result) == {"a", "b"}
    json_request = next(e for e in server.log if e.path.endswith("repodata.json"))
    assert "gzip" in json_request.headers.get("Accept-Encoding", "")


def test_retry_after_500_then_success(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    server.fail("chan/noarch/repodata.json", status=500, times=2)
    result = load(make_fetcher(tmp_path / "c", retries=2), server.channel_url("chan"))
    assert names_of(result) == {"a", "b"}
    assert server.count("chan/noarch/repodata.json") == 3


def test_dropped_connection_is_retried(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    server.fail("chan/noarch/repodata.json", mode="close", times=1)
    result = load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    assert names_of(result) == {"a", "b"}


def test_persistent_500_is_a_fetch_error(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    server.fail("chan/noarch/repodata.json", status=503, times=-1)
    with pytest.raises(FetchError, match=r"HTTP 503 .*chan/noarch/repodata.json.*3 attempts"):
        load(make_fetcher(tmp_path / "c", retries=2), server.channel_url("chan"))
    assert server.count("chan/noarch/repodata.json") == 3


def _fetch_twice_with_bad_second(server: ChannelServer, tmp_path: Path, break_it: Any) -> RepodataError:
    publish(server, "chan", "noarch", SIMPLE)
    cache = tmp_path / "c"
    load(make_fetcher(cache), server.channel_url("chan"))
    before = {p.name: p.read_bytes() for p in (cache / "repodata").iterdir() if not p.name.endswith(".lock")}
    break_it()
    with pytest.raises(RepodataError) as info:
        load(make_fetcher(cache), server.channel_url("chan"))
    after = {p.name: p.read_bytes() for p in (cache / "repodata").iterdir() if not p.name.endswith(".lock")}
    assert after == before, "a failed refresh must not touch the cache entry"
    # and the old entry is still usable
    offline = load(make_fetcher(cache, offline=True), server.channel_url("chan"))
    assert names_of(offline) == {"a", "b"}
    return info.value


def test_truncated_body_keeps_old_cache(server: ChannelServer, tmp_path: Path) -> None:
    def break_it() -> None:
        publish(server, "chan", "noarch", repodata("noarch", [entry("zzz")]))
        server.fail("chan/noarch/repodata.json", mode="truncate", times=-1)

    error = _fetch_twice_with_bad_second(server, tmp_path, break_it)
    assert "truncated" in str(error) and "chan/noarch/repodata.json" in str(error)


def test_corrupt_json_keeps_old_cache(server: ChannelServer, tmp_path: Path) -> None:
    def break_it() -> None:
        server.add_file("chan/noarch/repodata.json", b'{"packages": {"a-1-0.tar.bz2": {"name": ')

    error = _fetch_twice_with_bad_second(server, tmp_path, break_it)
    assert "invalid JSON" in str(error) and "chan/noarch/repodata.json" in str(error)


def test_corrupt_zst_frame_keeps_old_cache(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE, zst=True)
    cache = tmp_path / "c"
    load(make_fetcher(cache), server.channel_url("chan"))
    good = zstandard.ZstdCompressor().compress(json.dumps(repodata("noarch", [entry("new")])).encode())
    server.add_file("chan/noarch/repodata.json.zst", good[: len(good) - 7])  # cut-off frame, honest length
    with pytest.raises(RepodataError, match=r"zstd.*repodata.json.zst"):
        load(make_fetcher(cache), server.channel_url("chan"))
    assert names_of(load(make_fetcher(cache, offline=True), server.channel_url("chan"))) == {"a", "b"}


def test_offline_without_cache_names_channel_and_subdir(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    with pytest.raises(CacheError, match=r"offline.*chan.*noarch"):
        load(make_fetcher(tmp_path / "c", offline=True), server.channel_url("chan"))
    assert server.paths() == []


def test_offline_env_uses_cache_without_requests(
    server: ChannelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    publish(server, "chan", "linux-64", repodata("linux-64", [entry("c", subdir="linux-64")]))
    ChannelIndex([server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001).load()
    server.clear_log()
    monkeypatch.setenv("SOLVENT_OFFLINE", "1")
    index = ChannelIndex([server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c")
    assert index.offline
    assert index.names() == {"a", "b", "c"}
    assert server.paths() == []


def test_missing_channel_is_channel_error(server: ChannelServer, tmp_path: Path) -> None:
    index = ChannelIndex([server.channel_url("nope")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
    with pytest.raises(ChannelError, match=r"nope.*does not exist.*HTTP 404"):
        index.load()


def test_missing_platform_subdir_is_tolerated(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    index = ChannelIndex([server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
    assert index.names() == {"a", "b"}
    assert {r.subdir: r.status for r in index.results} == {"linux-64": "missing", "noarch": "downloaded"}
    # offline later knows linux-64 is absent rather than uncached
    offline = ChannelIndex([server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", offline=True)
    assert offline.names() == {"a", "b"}


def test_token_never_leaks(server: ChannelServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server.state.token = TOKEN
    publish(server, "chan", "noarch", SIMPLE)
    cache = tmp_path / "c"
    caplog.set_level(logging.DEBUG)
    url = server.channel_url("chan")
    assert TOKEN in url
    server.fail("chan/noarch/repodata.json", status=500, times=1)  # a retry log line
    result = load(make_fetcher(cache), url)
    assert names_of(result) == {"a", "b"}
    assert all(e.raw_path.startswith(f"/t/{TOKEN}/") for e in server.log)
    # errors
    server.fail("chan/noarch/repodata.json", status=500, times=-1)
    server.set_cache_control(None)
    with pytest.raises(FetchError) as info:
        load(make_fetcher(cache, retries=0), url)
    assert TOKEN not in str(info.value) and "<TOKEN>" in str(info.value)
    with pytest.raises(ChannelError) as info2:
        ChannelIndex([server.channel_url("missing")], "noarch", cache_dir=cache, backoff=0.001).load()
    assert TOKEN not in str(info2.value)
    # logs (urllib3's request lines included) and every cache file
    assert TOKEN not in caplog.text
    assert "<TOKEN>" in caplog.text
    for path in cache.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
            assert TOKEN not in path.name


def test_wrong_token_is_clear_error(server: ChannelServer, tmp_path: Path) -> None:
    server.state.token = TOKEN
    publish(server, "chan", "noarch", SIMPLE)
    index = ChannelIndex([server.channel_url("chan", token="")], "noarch", cache_dir=tmp_path / "c")
    with pytest.raises(FetchError, match="authentication required"):
        index.load()


def _child_fetch(url: str, cache_dir: str, queue: Any) -> None:
    try:
        fetcher = make_fetcher(Path(cache_dir))
        result = fetcher.load(parse_channel(url), "linux-64")
        assert result.source is not None
        queue.put(("ok", len(list(result.source.names())), len(result.source.raw("pkg0"))))
    except BaseException as exc:  # report to the parent
        queue.put(("error", repr(exc), 0))


def test_two_processes_fetch_at_once(server: ChannelServer, tmp_path: Path) -> None:
    entries = [entry(f"pkg{i % 200}", f"1.{i}", subdir="linux-64") for i in range(2000)]
    publish(server, "chan", "linux-64", repodata("linux-64", entries))
    server.set_delay(0.05)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [
        context.Process(target=_child_fetch, args=(server.channel_url("chan"), str(tmp_path / "c"), queue))
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert results == [("ok", 200, 10), ("ok", 200, 10)]
    # the second process found the first one's entry: one download, one revalidation
    json_requests = [e.status for e in server.log if e.path == "chan/linux-64/repodata.json"]
    assert sorted(json_requests) == [200, 304]
    leftovers = [p.name for p in (tmp_path / "c" / "repodata").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_conda_forge_snapshot_zst_over_http(tmp_path: Path) -> None:
    channel_dir = shared_path("channels", "conda-forge-py39-2024")
    with ChannelServer(channel_dir.parent) as srv:
        fetcher = make_fetcher(tmp_path / "c")
        result = fetcher.load(parse_channel(srv.channel_url("conda-forge-py39-2024")), "linux-64")
        assert result.source is not None
        assert srv.paths()[-1] == "conda-forge-py39-2024/linux-64/repodata.json.zst"
        raw = json.loads((channel_dir / "linux-64" / "repodata.json").read_text())
        expected = {e["name"] for key in ("packages", "packages.conda") for e in raw.get(key, {}).values()}
        assert set(result.source.names()) == expected
        assert len(expected) == 63


def test_local_channel_read_in_place(tmp_path: Path) -> None:
    chan = tmp_path / "local chan"
    (chan / "noarch").mkdir(parents=True)
    (chan / "noarch" / "repodata.json").write_text(json.dumps(SIMPLE))
    fetcher = make_fetcher(tmp_path / "c")
    for value in (str(chan), chan.as_uri()):
        result = fetcher.load(parse_channel(value), "noarch")
        assert result.status == "local" and names_of(result) == {"a", "b"}
    # an edit is picked up (the index is keyed on mtime and size)
    (chan / "noarch" / "repodata.json").write_text(json.dumps(repodata("noarch", [entry("c")])))
    assert names_of(fetcher.load(parse_channel(str(chan)), "noarch")) == {"c"}
    # no payload copy in the cache
    assert [p.name for p in (tmp_path / "c" / "repodata").glob("*.json") if not p.name.endswith(".state.json")] == []
    # offline mode still reads local channels
    assert names_of(make_fetcher(tmp_path / "c", offline=True).load(parse_channel(str(chan)), "noarch")) == {"c"}


def test_cache_keys_are_the_url_sha256_whatever_module_computes_them() -> None:
    # A local solve names its entry without loading hashlib (OpenSSL); the key must stay the
    # sha256 prefix it always was, or every existing cache would be rebuilt under new names.
    import hashlib

    from solvent.channels.cache import CacheEntry

    for url in ("https://conda.anaconda.org/conda-forge/linux-64/", "file:///srv/chan/noarch/", "https://h/é/"):
        entry = CacheEntry(Path("/nonexistent"), url, 1.0)
        assert entry.key == hashlib.sha256(url.encode("utf-8")).hexdigest()[:24]


def test_index_cut_short_is_rebuilt(server: ChannelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache's files are renamed into place without a flush to disk, so a machine crash can
    # leave an index shorter than its header says. Opening it must notice and rebuild it, for a
    # local channel (from the file) and a remote one (from the cached payload, offline), instead
    # of failing on a corrupt entry in the middle of a solve.
    import os

    flushed: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append(fd))
    chan = tmp_path / "chan"
    (chan / "noarch").mkdir(parents=True)
    (chan / "noarch" / "repodata.json").write_text(json.dumps(SIMPLE))
    publish(server, "remote", "noarch", SIMPLE)
    cache = tmp_path / "c"
    assert names_of(make_fetcher(cache).load(parse_channel(str(chan)), "noarch")) == {"a", "b"}
    assert names_of(load(make_fetcher(cache), server.channel_url("remote"))) == {"a", "b"}
    assert flushed == []  # derived files: no fsync
    indexes = sorted((cache / "repodata").glob("*.idx"))
    assert len(indexes) == 2
    whole = {path: path.read_bytes() for path in indexes}
    for path, blob in whole.items():
        path.write_bytes(blob[:-3])
    local = make_fetcher(cache).load(parse_channel(str(chan)), "noarch")
    remote = load(make_fetcher(cache, offline=True), server.channel_url("remote"))
    for result in (local, remote):
        assert result.source is not None
        assert [fn for fn, _ in result.source.raw("b")] == ["b-2.0-0.tar.bz2"]
    assert {path: path.read_bytes() for path in indexes} == whole  # rebuilt, byte for byte
    with pytest.raises(RepodataError, match="truncated index"):
        SubdirIndex(whole[indexes[0]][:-1], url="u", subdir="noarch", source="x")


def test_local_channel_corrupt_json(tmp_path: Path) -> None:
    chan = tmp_path / "chan"
    (chan / "noarch").mkdir(parents=True)
    (chan / "noarch" / "repodata.json").write_text("[1, 2")
    with pytest.raises(RepodataError, match=r"corrupt repodata at file://.*chan/noarch/repodata.json"):
        make_fetcher(tmp_path / "c").load(parse_channel(str(chan)), "noarch")


def test_read_only_cache_copy_still_loads(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    shutil.copytree(tmp_path / "c", tmp_path / "copy")
    assert names_of(load(make_fetcher(tmp_path / "copy", offline=True), server.channel_url("chan"))) == {
        "a",
        "b",
    }


class _Tty:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_only_on_a_tty() -> None:
    from solvent.channels.progress import Progress

    for tty, quiet, shown in [(True, False, True), (False, False, False), (True, True, False)]:
        stream = _Tty(tty)
        progress = Progress(2, "repodata", quiet=quiet, stream=stream)  # type: ignore[arg-type]
        progress.step("conda-forge/noarch")
        progress.step("conda-forge/linux-64")
        progress.close()
        assert ("2/2 conda-forge/linux-64" in stream.text) is shown
        assert stream.text.endswith("\r") or not shown
    # An unknown total (the pip step's index walk) counts without a denominator.
    stream = _Tty(True)
    walk = Progress(None, "solvent: pip index", quiet=False, stream=stream)  # type: ignore[arg-type]
    walk.step("requests")
    walk.step("idna")
    assert "solvent: pip index 2 idna" in stream.text and "/" not in stream.text


def test_lock_timeout_is_cache_error(server: ChannelServer, tmp_path: Path) -> None:
    from tests.test_channels_locking import hold_in_other_process

    publish(server, "chan", "noarch", SIMPLE)
    cache = RepodataCache(tmp_path / "c", lock_timeout=0.05)
    fetcher = RepodataFetcher(cache, HttpClient(backoff=0.001))
    entry = cache.entry(parse_channel(server.channel_url("chan")).subdir_url("noarch"))
    lock = entry.directory / f"{entry.key}.lock"
    with hold_in_other_process(lock), pytest.raises(CacheError, match=r"timed out .*cache lock"):
        fetcher.load(parse_channel(server.channel_url("chan")), "noarch")


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0, reason="root")
def test_read_only_cache_serves_offline(server: ChannelServer, tmp_path: Path) -> None:
    publish(server, "chan", "noarch", SIMPLE)
    load(make_fetcher(tmp_path / "c"), server.channel_url("chan"))
    for path in [tmp_path / "c", *(tmp_path / "c").rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        offline = load(make_fetcher(tmp_path / "c", offline=True), server.channel_url("chan"))
        assert names_of(offline) == {"a", "b"}
    finally:
        for path in [tmp_path / "c", *(tmp_path / "c").rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_response_headers_are_case_insensitive(httpserver: Any) -> None:
    """Servers spell header names as they like (HTTP/2 front ends send them lower-case); the cache
    validators must be found either way, for repodata and pip pages alike."""
    from solvent.channels.fetch import conditional_headers, refreshed

    httpserver.expect_request("/page").respond_with_data(
        "ok", headers={"etag": '"v1"', "last-modified": "Mon, 01 Jan 2024 00:00:00 GMT", "cache-control": "max-age=60"}
    )
    response = HttpClient(backoff=0.001).get(httpserver.url_for("/page"))
    assert response.status == 200
    assert response.headers.get("ETag") == '"v1"'
    meta = refreshed({"fetched_at": 0}, response)
    assert meta["etag"] == '"v1"' and meta["cache_control"] == "max-age=60"
    assert conditional_headers(meta) == {
        "If-None-Match": '"v1"',
        "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT",
    }
