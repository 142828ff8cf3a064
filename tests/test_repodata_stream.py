"""The entry-by-entry index builder gives the same bytes as the whole-document one, and the same
errors; big payloads take it (see ``STREAM_ABOVE``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.channels.repodata import SubdirIndex, _build_from_document, build_index, parse_json
from solvent.channels.repodata_stream import iter_repodata
from solvent.errors import RepodataError
from tests.conftest import CHANNELS

names = st.sampled_from(["numpy", "python", "scipy", "zlib", "ünïcode", 'a"quote'])
versions = st.sampled_from(["1.0", "2.0", "1.0.post1"])


@st.composite
def entries(draw: Any) -> tuple[str, Any]:
    name = draw(names)
    version = draw(versions)
    build = draw(st.sampled_from(["0", "py39_0", "h1234_1"]))
    ext = draw(st.sampled_from([".tar.bz2", ".conda"]))
    fn = f"{name}-{version}-{build}{ext}"
    if draw(st.integers(0, 15)) == 0:  # a malformed entry: skipped and counted by both paths
        return fn, draw(st.sampled_from([[], "x", {"version": "1"}, {"name": 3}, None]))
    entry = {"name": name, "version": version, "build": build, "depends": draw(st.lists(names, max_size=3))}
    if draw(st.booleans()):
        entry["md5"] = "0" * 32
    if draw(st.integers(0, 4)) == 0:
        entry["track_features"] = draw(st.sampled_from(["mkl", "mkl nomkl", "a,b", ["mkl"], ""]))
    return fn, entry


@st.composite
def documents(draw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key in draw(st.permutations(["info", "packages", "packages.conda", "removed", "repodata_version"])):
        if key == "info":
            doc[key] = {"subdir": "linux-64", "base_url": draw(st.sampled_from(["", "https://x/"]))}
        elif key.startswith("packages"):
            if draw(st.integers(0, 6)) == 0:
                continue
            doc[key] = dict(draw(st.lists(entries(), max_size=12)))
        elif key == "removed":
            doc[key] = draw(st.lists(st.sampled_from(["numpy-1.0-0.tar.bz2", "zlib-2.0-0.conda"]), max_size=2))
        elif draw(st.booleans()):
            doc[key] = 2
    return doc


@settings(max_examples=300, deadline=None)
@given(documents(), st.sampled_from([None, 0, 1, "\t"]), st.booleans())
def test_stream_and_document_give_the_same_index(doc: dict[str, Any], indent: Any, ascii_only: bool) -> None:
    data = json.dumps(doc, indent=indent, ensure_ascii=ascii_only).encode()
    streamed = build_index(data, "test", "sha", stream_above=0)
    whole = _build_from_document(parse_json(data, "test"), "test", "sha")
    assert streamed == whole
    index = SubdirIndex(streamed, url="https://x/linux-64/", subdir="linux-64", source="test")
    assert sorted(index.names()) == sorted({e["name"] for e in _valid(doc)})


def _valid(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in ("packages", "packages.conda"):
        for fn, entry in (doc.get(key) or {}).items():
            if fn not in doc.get("removed", ()) and isinstance(entry, dict) and isinstance(entry.get("name"), str):
                out.append(entry)
    return out


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b'{"packages": {"a-1-0.tar.bz2": {"name": "a"}',  # truncated
        b'{"packages": {"a-1-0.tar.bz2": {"name": "a"} "b": 1}}',
        b'{"packages": {"a-1-0.tar.bz2": {"name": "a"},}}',
        b'{"packages": []}',
        b'{"info": {}} trailing',
        b'{"packages": {"a": {"name": "\xff"}}}',  # not UTF-8
    ],
)
def test_corrupt_payloads_are_named_the_same_way(payload: bytes) -> None:
    with pytest.raises(RepodataError) as streamed:
        build_index(payload, "https://example.org/ch/linux-64/repodata.json", stream_above=0)
    with pytest.raises(RepodataError) as whole:
        build_index(payload, "https://example.org/ch/linux-64/repodata.json")
    assert str(streamed.value) == str(whole.value)
    assert "example.org/ch/linux-64" in str(streamed.value)


def test_iter_repodata_yields_members_in_document_order() -> None:
    text = '{"info": {"subdir": "noarch"}, "packages": {"a-1-0.tar.bz2": {"name": "a"}}, "removed": []}'
    assert list(iter_repodata(text)) == [
        (None, "info", {"subdir": "noarch"}),
        ("packages", "a-1-0.tar.bz2", {"name": "a"}),
        (None, "removed", []),
    ]


@pytest.mark.skipif(not CHANNELS.is_dir(), reason="../shared/data is not here")
def test_every_snapshot_indexes_the_same_both_ways() -> None:
    paths = sorted(CHANNELS.glob("*/*/repodata.json"))
    assert paths
    for path in paths:
        data = path.read_bytes()
        assert build_index(data, str(path), "s", stream_above=0) == build_index(data, str(path), "s"), path


def test_the_header_names_the_trackers_of_each_feature() -> None:
    doc = {
        "packages": {
            "mkl-1-0.tar.bz2": {"name": "mkl", "track_features": "mkl"},
            "nomkl-1-0.tar.bz2": {"name": "nomkl", "track_features": "nomkl, blas_openblas"},
            "gone-1-0.tar.bz2": {"name": "gone", "track_features": "mkl"},
            "numpy-1-p0.tar.bz2": {"name": "numpy", "features": "mkl"},
        },
        "removed": ["gone-1-0.tar.bz2"],
    }
    data = json.dumps(doc).encode()
    for stream_above in (0, 1 << 30):
        index = SubdirIndex(build_index(data, "t", stream_above=stream_above), url="u/", subdir="s", source="t")
        assert list(index.tracker_names("mkl")) == ["mkl"]
        assert list(index.tracker_names("blas_openblas")) == ["nomkl"]
        assert list(index.tracker_names("cuda90")) == []
