"""CEP-16 sharded repodata: generation, fetching only reachable shards, caching by hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zstandard

from solvent.channels.index import ChannelIndex
from solvent.channels.shards import SHARD_INDEX_FN, ShardedSubdir, make_shards, write_sharded
from solvent.errors import CacheError, RepodataError
from tests.channel_server import ChannelServer, entry, repodata
from tests.conftest import shared_path

GRAPH = repodata(
    "linux-64",
    [
        entry("a", depends=["b >=1", "c"], subdir="linux-64"),
        entry("b", depends=["c 1.*"], subdir="linux-64"),
        entry("c", "1.0", subdir="linux-64"),
        entry("d", depends=["e"], subdir="linux-64"),
        entry("e", subdir="linux-64"),
    ],
    conda_entries=[entry("c", "1.0", subdir="linux-64", size=5)],
)
NOARCH = repodata("noarch", [entry("f", depends=["a"]), entry("g")])


@pytest.fixture
def sharded_server(tmp_path: Path) -> Any:
    root = tmp_path / "srv"
    write_sharded(GRAPH, root / "chan" / "linux-64")
    write_sharded(NOARCH, root / "chan" / "noarch")
    with ChannelServer(root) as srv:
        yield srv


def shard_names(server: ChannelServer, index_path: Path) -> dict[str, str]:
    """shard file name -> package name, from the index the server publishes."""
    index = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(index_path.read_bytes()))
    return {f"{bytes(h).hex()}.msgpack.zst": name for name, h in index["shards"].items()}


def fetched_names(server: ChannelServer, root: Path) -> set[str]:
    mapping = {**shard_names(server, root / "chan" / "linux-64" / SHARD_INDEX_FN)}
    mapping.update(shard_names(server, root / "chan" / "noarch" / SHARD_INDEX_FN))
    return {mapping[p.rsplit("/", 1)[1]] for p in server.paths() if p.rsplit("/", 1)[1] in mapping}


def test_make_shards_roundtrip() -> None:
    index_blob, shards = make_shards(GRAPH, base_url="../pkgs/")
    index = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(index_blob))
    assert set(index["shards"]) == {"a", "b", "c", "d", "e"}
    assert index["info"]["base_url"] == "../pkgs/" and index["version"] == 1
    for name, digest in index["shards"].items():
        blob = shards[bytes(digest).hex()]
        assert hashlib.sha256(blob).digest() == digest
        shard = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(blob))
        assert {e["name"] for key in ("packages", "packages.conda") for e in shard[key].values()} == {name}


def test_only_reachable_shards_are_fetched(sharded_server: ChannelServer, tmp_path: Path) -> None:
    root = tmp_path / "srv"
    index = ChannelIndex([sharded_server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
    index.prefetch(["a >=1"])
    assert fetched_names(sharded_server, root) == {"a", "b", "c"}
    assert not any(p.endswith("repodata.json") or p.endswith(".json.zst") for p in sharded_server.paths())
    # a, b, c each fetched once per subdir that has them (noarch has none of them)
    assert sharded_server.count("chan/linux-64/*.msgpack.zst") == 4  # index + 3 shards
    assert sharded_server.count("chan/noarch/*.msgpack.zst") == 1  # index only
    assert set(index.names()) == {"a", "b", "c", "d", "e", "f", "g"}
    # .conda wins over .tar.bz2 of the same build
    linux = next(r.source for r in index.results if r.subdir == "linux-64")
    assert isinstance(linux, ShardedSubdir)
    assert [fn for fn, _ in linux.raw("c")] == ["c-1.0-0.conda"]
    # a name outside the closure is fetched on demand, once
    sharded_server.clear_log()
    assert [fn for fn, _ in linux.raw("d")] == ["d-1.0-0.tar.bz2"]
    linux.raw("d")
    assert fetched_names(sharded_server, root) == {"d"}


def test_closure_crosses_channels_and_subdirs(sharded_server: ChannelServer, tmp_path: Path) -> None:
    index = ChannelIndex([sharded_server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
    index.prefetch(["f"])  # noarch f -> linux-64 a -> b, c
    assert fetched_names(sharded_server, tmp_path / "srv") == {"f", "a", "b", "c"}


def test_shards_are_cached_by_hash(sharded_server: ChannelServer, tmp_path: Path) -> None:
    url = sharded_server.channel_url("chan")
    ChannelIndex([url], "linux-64", cache_dir=tmp_path / "c", backoff=0.001).prefetch(["a"])
    sharded_server.clear_log()
    again = ChannelIndex([url], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
    again.prefetch(["a"])
    # only the two shard indexes are revalidated; shards come from the content-addressed cache
    assert sorted((e.path, e.status) for e in sharded_server.log) == [
        ("chan/linux-64/" + SHARD_INDEX_FN, 304),
        ("chan/noarch/" + SHARD_INDEX_FN, 304),
    ]
    # offline: cached shards load, an uncached one is a clear CacheError
    offline = ChannelIndex([url], "linux-64", cache_dir=tmp_path / "c", offline=True)
    offline.prefetch(["b"])
    linux = next(r.source for r in offline.results if r.subdir == "linux-64")
    assert isinstance(linux, ShardedSubdir)
    with pytest.raises(CacheError, match=r"offline.*'d'.*chan/linux-64"):
        linux.raw("d")


def test_shard_hash_mismatch_is_rejected(sharded_server: ChannelServer, tmp_path: Path) -> None:
    root = tmp_path / "srv"
    mapping = shard_names(sharded_server, root / "chan" / "linux-64" / SHARD_INDEX_FN)
    shard_file = next(fn for fn, name in mapping.items() if name == "a")
    sharded_server.add_file(f"chan/linux-64/{shard_file}", zstandard.ZstdCompressor().compress(b"\x80"))
    index = ChannelIndex([sharded_server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
    with pytest.raises(RepodataError, match=r"shard of 'a' from http://.*has sha256"):
        index.prefetch(["a"])
    assert not list((tmp_path / "c" / "shards").rglob(shard_file))


def test_shards_base_url_and_package_base_url(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    index_blob, shards = make_shards(GRAPH, base_url="https://pkgs.example/linux-64/", shards_base_url="../shards/")
    with ChannelServer(root) as srv:
        srv.add_file("chan/linux-64/" + SHARD_INDEX_FN, index_blob)
        for digest, blob in shards.items():
            srv.add_file(f"chan/shards/{digest}.msgpack.zst", blob)
        srv.add_file("chan/noarch/repodata.json", json.dumps(repodata("noarch")))
        index = ChannelIndex([srv.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
        index.prefetch(["b"])
        linux = next(r.source for r in index.results if r.subdir == "linux-64")
        assert isinstance(linux, ShardedSubdir)
        assert linux.package_base_url() == "https://pkgs.example/linux-64/"
        assert linux.shard_url("b").startswith(srv.url + "/chan/shards/")
        assert sum(p.startswith("chan/shards/") for p in srv.paths()) == 2  # b and c


def test_real_sharded_sample(tmp_path: Path) -> None:
    sample = shared_path("sharded-sample")
    with ChannelServer(sample) as srv:
        srv.add_file("noarch/repodata.json", json.dumps(repodata("noarch")))
        index = ChannelIndex([srv.url], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
        index.prefetch(["zlib"])
        assert index.names() == {"libgcc-ng", "zlib"}
        linux = next(r.source for r in index.results if r.subdir == "linux-64")
        assert isinstance(linux, ShardedSubdir)
        assert not any(p.endswith("repodata.json") and "linux-64" in p for p in srv.paths())
        # zlib depends on libgcc-ng: both shards fetched; .conda replaces .tar.bz2
        assert srv.count("linux-64/*.msgpack.zst") == 3
        zlib = linux.raw("zlib")
        assert [fn for fn, _ in zlib] == ["zlib-1.2.11-h7b6447c_3.conda"]
        # the same records as the sample's repodata.json
        full = json.loads((sample / "linux-64" / "repodata.json").read_text())
        conda_fns = {fn for fn, e in full["packages.conda"].items() if e["name"] == "zlib"}
        assert {fn for fn, _ in zlib} == conda_fns


def test_finding_trackers_fetches_no_shard(tmp_path: Path) -> None:
    graph = repodata(
        "linux-64",
        [
            entry("app", depends=["mkl-rt"], subdir="linux-64"),
            entry("mkl-rt", track_features="mkl", subdir="linux-64"),
            entry("other-tracker", track_features="mkl", subdir="linux-64"),
        ],
    )
    root = tmp_path / "srv"
    write_sharded(graph, root / "chan" / "linux-64")
    write_sharded(repodata("noarch", []), root / "chan" / "noarch")
    with ChannelServer(root) as server:
        index = ChannelIndex([server.channel_url("chan")], "linux-64", cache_dir=tmp_path / "c", backoff=0.001)
        index.prefetch(["app"])
        before = fetched_names(server, root)
        # Only the fetched closure is searched: downloading every shard to find trackers would
        # defeat sharding, and conda does not take a tracker from outside the closure either.
        assert index.tracker_names("mkl") == {"mkl-rt"}
        assert fetched_names(server, root) == before == {"app", "mkl-rt"}
