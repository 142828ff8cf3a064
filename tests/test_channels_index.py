"""ChannelIndex: PackageRecords over channels and subdirs, built lazily per name."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from solvent.channels.index import ChannelIndex
from solvent.channels.shards import write_sharded
from tests.channel_server import ChannelServer, entry, repodata
from tests.conftest import CHANNELS, shared_path

pytest.importorskip("solvent.record")

TOKEN = "tk-5566778899-abcdef"


def write_channel(root: Path, subdir: str, doc: dict[str, Any]) -> None:
    (root / subdir).mkdir(parents=True, exist_ok=True)
    (root / subdir / "repodata.json").write_text(json.dumps(doc))


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with ChannelServer(tmp_path / "srv") as srv:
        yield srv


def make_index(channels: list[str], platform: str, tmp_path: Path, **kw: Any) -> ChannelIndex:
    return ChannelIndex(channels, platform, cache_dir=tmp_path / "cache", backoff=0.001, **kw)


def test_records_over_channels_and_subdirs(server: ChannelServer, tmp_path: Path) -> None:
    server.add_file(
        "one/linux-64/repodata.json", json.dumps(repodata("linux-64", [entry("a", "2", subdir="linux-64")]))
    )
    server.add_file("one/noarch/repodata.json", json.dumps(repodata("noarch", [entry("a", "1")])))
    server.add_file("two/noarch/repodata.json", json.dumps(repodata("noarch", [entry("a", "3")])))
    index = make_index([server.channel_url("one"), server.channel_url("two")], "linux-64", tmp_path)
    records = index.records("a")
    assert [(r.version, r.subdir) for r in records] == [("2", "linux-64"), ("1", "noarch"), ("3", "noarch")]
    one = server.channel_url("one")
    assert [r.channel for r in records] == [one, one, server.channel_url("two")]
    assert records[0].url == f"{one}/linux-64/a-2-0.tar.bz2"
    assert [index.channel_rank(r) for r in records] == [0, 0, 1]
    assert index.records("a") is records  # memoized
    assert index.records("nope") == []


def test_conda_beats_tar_bz2_and_removed(tmp_path: Path) -> None:
    doc = repodata(
        "noarch",
        [entry("a", build="0", md5="tarbz2"), entry("a", build="1"), entry("gone")],
        conda_entries=[entry("a", build="0", md5="conda")],
    )
    doc["removed"] = ["gone-1.0-0.tar.bz2"]
    write_channel(tmp_path / "chan", "noarch", doc)
    index = make_index([str(tmp_path / "chan")], "noarch", tmp_path)
    assert sorted((r.fn, r.md5) for r in index.records("a")) == [
        ("a-1.0-0.conda", "conda"),
        ("a-1.0-1.tar.bz2", entry("a", build="1")["md5"]),
    ]
    assert index.records("gone") == []


def test_base_url_v2_samples(tmp_path: Path) -> None:
    samples = shared_path("repodata-samples")
    for fname, expected_base in [
        ("mamba-conda-forge-repodata-version-2.json", "https://repo.anaconda.com/repo/main/linux-64/"),
        ("mamba-conda-forge-repodata-version-2-missing-base_url.json", None),
    ]:
        chan = tmp_path / fname
        write_channel(chan, "linux-64", json.loads((samples / fname).read_text()))
        write_channel(chan, "noarch", repodata("noarch"))
        index = make_index([str(chan)], "linux-64", tmp_path)
        bzip2 = index.records("bzip2")[0]
        mutex = index.records("_libgcc_mutex")[0]
        base = expected_base or chan.resolve().as_uri() + "/linux-64/"
        assert bzip2.url == base + "bzip2-1.0.8-hd590300_5.conda"
        assert mutex.depends == ()  # "depends": null


def test_relative_base_url(server: ChannelServer, tmp_path: Path) -> None:
    doc = repodata("noarch", [entry("a")], info={"base_url": "../../pkgs/noarch"})
    server.add_file("chan/noarch/repodata.json", json.dumps(doc))
    index = make_index([server.channel_url("chan")], "noarch", tmp_path)
    assert index.records("a")[0].url == f"{server.url}/pkgs/noarch/a-1.0-0.tar.bz2"


def test_token_kept_out_of_records(tmp_path: Path) -> None:
    with ChannelServer(tmp_path / "srv", token=TOKEN) as srv:
        srv.add_file("chan/noarch/repodata.json", json.dumps(repodata("noarch", [entry("a")])))
        index = make_index([srv.channel_url("chan")], "noarch", tmp_path)
        record = index.records("a")[0]
        assert record.channel == f"{srv.url}/chan"
        assert TOKEN not in record.url and TOKEN not in record.channel
        assert index.authenticated_url(record) == f"{srv.url}/t/{TOKEN}/chan/noarch/a-1.0-0.tar.bz2"


def test_exclude_newer(tmp_path: Path) -> None:
    cutoff = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    ms = int(cutoff.timestamp() * 1000)
    doc = repodata(
        "noarch",
        [
            entry("a", "1", timestamp=ms - 1000),
            entry("a", "2", timestamp=ms + 1000),
            entry("a", "3", timestamp=(ms + 10_000) // 1000),  # seconds, as old repodata has them
            entry("a", "0"),  # no timestamp: kept
        ],
    )
    write_channel(tmp_path / "chan", "noarch", doc)
    index = make_index([str(tmp_path / "chan")], "noarch", tmp_path, exclude_newer=cutoff)
    assert sorted(r.version for r in index.records("a")) == ["0", "1"]


def test_bad_entries_are_skipped_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    doc = repodata("noarch", [entry("a"), entry("a", "2")])
    doc["packages"]["broken-1-0.tar.bz2"] = "not an object"
    del doc["packages"]["a-2-0.tar.bz2"]["version"]
    write_channel(tmp_path / "chan", "noarch", doc)
    caplog.set_level(logging.WARNING)
    index = make_index([str(tmp_path / "chan")], "noarch", tmp_path)
    assert [r.version for r in index.records("a")] == ["1.0"]
    assert "broken-1-0.tar.bz2" in caplog.text and "a-2-0.tar.bz2" in caplog.text


def test_lazy_loading_builds_only_reached_names(tmp_path: Path) -> None:
    entries = [entry(f"p{i}", f"1.{j}", depends=[f"p{i + 1}"]) for i in range(300) for j in range(5)]
    write_channel(tmp_path / "chan", "noarch", repodata("noarch", entries))
    index = make_index([str(tmp_path / "chan")], "noarch", tmp_path)
    assert len(index.names()) == 300
    assert len(index.records("p7")) == 5
    assert index.stats == {"records_built": 5, "names_loaded": 1, "skipped_entries": 0}
    # a second index over the cached on-disk index is just as lazy
    again = make_index([str(tmp_path / "chan")], "noarch", tmp_path)
    again.records("p0")
    again.records("p1")
    assert again.stats["records_built"] == 10


def test_query(tmp_path: Path) -> None:
    pytest.importorskip("solvent.match_spec")
    doc = repodata("noarch", [entry("abc", "1.0"), entry("abc", "2.0"), entry("abd", "1.5")])
    write_channel(tmp_path / "chan", "noarch", doc)
    index = make_index([str(tmp_path / "chan")], "noarch", tmp_path)
    assert [r.version for r in index.query("abc >=1.5")] == ["2.0"]
    assert sorted(r.name + r.version for r in index.query("ab* <2")) == ["abc1.0", "abd1.5"]


def test_sharded_channel_records(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    write_sharded(repodata("noarch", [entry("a", depends=["b"]), entry("b"), entry("c")]), root / "chan" / "noarch")
    with ChannelServer(root) as srv:
        index = make_index([srv.channel_url("chan")], "noarch", tmp_path)
        index.prefetch(["a"])
        assert [r.name for r in index.records("b")] == ["b"]
        assert index.records("b")[0].url == f"{srv.url}/chan/noarch/b-1.0-0.tar.bz2"
        assert srv.count("chan/noarch/*.msgpack.zst") == 3  # index, a, b; never c


@pytest.mark.skipif(not (CHANNELS / "conda-forge-py39-2024").is_dir(), reason="shared data not available")
def test_conda_forge_snapshot_matches_json(tmp_path: Path) -> None:
    channel = CHANNELS / "conda-forge-py39-2024"
    index = make_index([str(channel)], "linux-64", tmp_path)
    raw: dict[str, int] = {}
    for subdir in ("linux-64", "noarch"):
        doc = json.loads((channel / subdir / "repodata.json").read_text())
        stems = {}
        for key in ("packages", "packages.conda"):
            for fn, e in doc.get(key, {}).items():
                stems[fn.rsplit(".tar.bz2", 1)[0].rsplit(".conda", 1)[0]] = e["name"]
        for name in stems.values():
            raw[name] = raw.get(name, 0) + 1
    assert index.names() == set(raw)
    python = index.records("python")
    assert len(python) == raw["python"]
    assert all(r.channel == channel.resolve().as_uri() for r in python)
    assert index.stats["names_loaded"] == 1


def test_warm_local_channel_is_read_without_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first load builds the index under the entry's lock; the next reads it lock-free, so a
    # warm solve never waits for (or imports) the cross-process lock. A changed file is rebuilt.
    from solvent.channels.cache import CacheEntry

    ch = tmp_path / "ch"
    (ch / "linux-64").mkdir(parents=True)
    (ch / "noarch").mkdir()
    (ch / "noarch" / "repodata.json").write_text(json.dumps(repodata("noarch", [])))
    (ch / "linux-64" / "repodata.json").write_text(json.dumps(repodata("linux-64", [entry("a", "1.0")])))
    cache = tmp_path / "cache"
    with ChannelIndex([str(ch)], "linux-64", cache_dir=cache) as idx:
        assert [r.version for r in idx.records("a")] == ["1.0"]

    def no_lock(self: CacheEntry) -> Any:
        raise AssertionError("a warm local entry took the lock")

    monkeypatch.setattr(CacheEntry, "lock", no_lock)
    with ChannelIndex([str(ch)], "linux-64", cache_dir=cache) as idx:
        assert [r.version for r in idx.records("a")] == ["1.0"]
    monkeypatch.undo()
    (ch / "linux-64" / "repodata.json").write_text(json.dumps(repodata("linux-64", [entry("a", "2.0")])))
    with ChannelIndex([str(ch)], "linux-64", cache_dir=cache) as idx:
        assert [r.version for r in idx.records("a")] == ["2.0"]
