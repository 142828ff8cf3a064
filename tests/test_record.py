"""PackageRecord: built from real repodata entries, lazy where it matters, clear about bad entries."""

from __future__ import annotations

import json
import pickle
import tracemalloc

import pytest

from solvent.errors import InvalidRecord
from solvent.record import PackageRecord
from tests.conftest import shared_path

ENTRY = {
    "name": "numpy",
    "version": "1.26.4",
    "build": "py39h474f0d3_0",
    "build_number": 0,
    "depends": ["libgcc-ng >=12", "python >=3.9,<3.10.0a0"],
    "constrains": ["numpy-base <0a0"],
    "subdir": "linux-64",
    "md5": "a" * 32,
    "sha256": "b" * 64,
    "size": 7000000,
    "license": "BSD-3-Clause",
    "timestamp": 1707225376,  # seconds: normalized to milliseconds
    "track_features": "",
}


def test_fields_from_an_entry() -> None:
    r = PackageRecord.from_repodata(
        "numpy-1.26.4-py39h474f0d3_0.conda",
        ENTRY,
        channel="conda-forge",
        subdir="linux-64",
        base_url="https://conda.anaconda.org/conda-forge/linux-64/",
    )
    assert (r.name, r.version, r.build, r.build_number) == ("numpy", "1.26.4", "py39h474f0d3_0", 0)
    assert r.depends == ("libgcc-ng >=12", "python >=3.9,<3.10.0a0")
    assert r.constrains == ("numpy-base <0a0",)
    assert r.timestamp == 1707225376000
    assert r.url == "https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py39h474f0d3_0.conda"
    assert r.dist_str() == "conda-forge/linux-64::numpy-1.26.4-py39h474f0d3_0"
    assert not r.is_virtual and r.track_features == ()
    again = PackageRecord.from_repodata(r.fn, r.to_repodata(), channel="conda-forge", subdir="linux-64")
    assert again == r and again.depends == r.depends and again.timestamp == r.timestamp


def test_from_repodata_sets_every_slot_as_the_constructor_does() -> None:
    """from_repodata fills the slots itself (faster than the keyword call): a slot added to the
    class and forgotten there would fail here, not on first access in some solve."""
    r = PackageRecord.from_repodata("numpy-1.26.4-py39h474f0d3_0.conda", ENTRY, channel="c", subdir="linux-64")
    built = PackageRecord(
        r.name,
        r.version,
        r.build,
        r.build_number,
        depends=r.depends,
        constrains=r.constrains,
        track_features=r.track_features,
        features=r.features,
        subdir=r.subdir,
        noarch=r.noarch,
        timestamp=r.timestamp,
        md5=r.md5,
        sha256=r.sha256,
        size=r.size,
        license=r.license,
        fn=r.fn,
        channel=r.channel,
        url=r.url,
    )
    for slot in PackageRecord.__slots__:
        if slot != "_version_order":  # parsed eagerly by from_repodata, lazily by the constructor
            assert getattr(r, slot) == getattr(built, slot), slot


def test_lazy_parsing_and_identity() -> None:
    r = PackageRecord.from_repodata("x-1-0.tar.bz2", {"name": "x", "version": "1", "depends": ["y >=2"]})
    assert r._depends_specs is None  # nothing parsed until asked
    assert [s.name for s in r.depends_specs] == ["y"]
    assert r.depends_specs is r.depends_specs
    s = PackageRecord.from_repodata("x-1-0.tar.bz2", {"name": "x", "version": "1"}, channel="c", subdir="noarch")
    t = PackageRecord.from_repodata(
        "x-1-0.tar.bz2", {"name": "x", "version": "1", "build": "other"}, channel="c", subdir="noarch"
    )
    assert s == t and hash(s) == hash(t)  # identity is (channel, subdir, file name), as in conda
    assert pickle.loads(pickle.dumps(s)) == s


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mkl", ("mkl",)),
        ("mkl nomkl", ("mkl", "nomkl")),
        ("mkl,debug", ("debug", "mkl")),
        (["a", "b"], ("a", "b")),
        ("", ()),
        (None, ()),
    ],
)
def test_track_features_forms(value: object, expected: tuple[str, ...]) -> None:
    r = PackageRecord.from_repodata("x-1-0.tar.bz2", {"name": "x", "version": "1", "track_features": value})
    assert r.track_features == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"version": "1"}, "x-1-0.tar.bz2: missing or invalid 'name'"),
        ({"name": "x"}, "x-1-0.tar.bz2: missing 'version'"),
        ({"name": "x", "version": "1 2"}, "x-1-0.tar.bz2: .*invalid character"),
        ({"name": "x", "version": "1", "build_number": "abc"}, "invalid 'build_number'"),
        ("not a mapping", "not an object"),
    ],
)
def test_invalid_entries_name_the_file(entry: object, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        PackageRecord.from_repodata("x-1-0.tar.bz2", entry)  # type: ignore[arg-type]


def test_bad_depends_entry_names_the_record() -> None:
    r = PackageRecord.from_repodata(
        "x-1-0.tar.bz2", {"name": "x", "version": "1", "depends": ["y >=1,,<2"]}, channel="c", subdir="noarch"
    )
    with pytest.raises(InvalidRecord, match=r"c/noarch::x-1-0: bad depends entry"):
        _ = r.depends_specs


def test_repodata_samples() -> None:
    path = shared_path("repodata-samples", "mamba-conda-forge-numpy-linux-64.json")
    data = json.loads(path.read_text())
    records = [
        PackageRecord.from_repodata(fn, e, channel="conda-forge", subdir="linux-64")
        for section in ("packages", "packages.conda")
        for fn, e in data[section].items()
    ]
    assert len(records) == 34
    assert any(e.get("depends") is None for sec in ("packages", "packages.conda") for e in data[sec].values())
    assert all(isinstance(r.depends, tuple) for r in records)  # null depends become ()
    v2 = json.loads(shared_path("repodata-samples", "mamba-conda-forge-repodata-version-2.json").read_text())
    base = v2["info"]["base_url"]
    fn, entry = next(iter(v2["packages.conda"].items()))
    r = PackageRecord.from_repodata(fn, entry, channel="main", subdir="linux-64", base_url=base)
    assert r.url == base.rstrip("/") + "/" + fn


def test_virtual_records() -> None:
    v = PackageRecord.virtual("__cuda", "12.2")
    assert v.is_virtual and v.version_order.key == PackageRecord.virtual("__cuda", "12.2.0").version_order.key
    with pytest.raises(InvalidRecord):
        PackageRecord.virtual("cuda", "12")


def test_every_snapshot_entry_builds_and_stays_small() -> None:
    channels = shared_path("channels")
    entries = []
    for repo in sorted(channels.glob("*/*/repodata.json")):
        data = json.loads(repo.read_text())
        for section in ("packages", "packages.conda"):
            entries += [(fn, e, repo.parent.name) for fn, e in (data.get(section) or {}).items()]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    records = [PackageRecord.from_repodata(fn, e, channel="c", subdir=sd) for fn, e, sd in entries]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    per_record = grown / len(records)
    print(f"\n{len(records)} records from the snapshots, {per_record:.0f} bytes each (strings shared with the JSON)")
    assert len(records) > 35000
    assert per_record < 600


def test_depends_and_constrains_become_tuples_of_strings_whatever_the_entry_holds() -> None:
    entry = {"name": "x", "version": "1", "depends": ["y >=1", 7], "constrains": ("z <2",)}
    r = PackageRecord.from_repodata("x-1-0.tar.bz2", entry)
    assert r.depends == ("y >=1", "7") and all(type(d) is str for d in r.depends)
    assert r.constrains == ("z <2",)
    one = PackageRecord.from_repodata("x-1-0.tar.bz2", {"name": "x", "version": "1", "depends": "y"})
    assert one.depends == ("y",)
