"""Channel names, URLs, canonical names and redaction, checked against conda's behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvent.channels.channel import Channel, expand_channels, parse_channel
from solvent.channels.redact import redact, strip_secrets
from solvent.errors import ChannelError


@pytest.mark.parametrize(
    ("value", "canonical", "base", "platform"),
    [
        ("conda-forge", "conda-forge", "https://conda.anaconda.org/conda-forge", None),
        (
            "conda-forge/label/dev",
            "conda-forge/label/dev",
            "https://conda.anaconda.org/conda-forge/label/dev",
            None,
        ),
        (
            "conda-forge/linux-aarch64",
            "conda-forge",
            "https://conda.anaconda.org/conda-forge",
            "linux-aarch64",
        ),
        (
            "https://conda.anaconda.org/conda-forge/",
            "conda-forge",
            "https://conda.anaconda.org/conda-forge",
            None,
        ),
        (
            "https://conda.anaconda.org/bioconda/noarch",
            "bioconda",
            "https://conda.anaconda.org/bioconda",
            "noarch",
        ),
        ("pkgs/main", "pkgs/main", "https://repo.anaconda.com/pkgs/main", None),
        ("https://repo.anaconda.com/pkgs/r", "pkgs/r", "https://repo.anaconda.com/pkgs/r", None),
        (
            "http://mirror.example:8080/conda/x",
            "http://mirror.example:8080/conda/x",
            "http://mirror.example:8080/conda/x",
            None,
        ),
        ("file:///srv/chan/win-64", "file:///srv/chan", "file:///srv/chan", "win-64"),
    ],
)
def test_parse(value: str, canonical: str, base: str, platform: str | None) -> None:
    channel = parse_channel(value)
    assert (channel.canonical_name, channel.base_url, channel.platform) == (canonical, base, platform)
    assert str(channel) == canonical


def test_token_channel() -> None:
    channel = parse_channel("https://conda.anaconda.org/t/tk-abc123-xyz/conda-forge")
    assert channel.canonical_name == "conda-forge"
    assert channel.base_url == "https://conda.anaconda.org/conda-forge"
    assert channel.token == "tk-abc123-xyz"
    assert channel.subdir_url("noarch") == "https://conda.anaconda.org/conda-forge/noarch/"
    assert (
        channel.subdir_url("noarch", with_credentials=True)
        == "https://conda.anaconda.org/t/tk-abc123-xyz/conda-forge/noarch/"
    )
    assert channel.redacted_url == "https://conda.anaconda.org/t/<TOKEN>/conda-forge"
    assert "tk-abc123-xyz" not in repr(channel)


def test_credentials_and_token_on_custom_host() -> None:
    channel = parse_channel("https://bob:hunter22@host.example/prefix/t/tok-777/private/chan")
    assert channel.canonical_name == "https://host.example/prefix/private/chan"
    assert channel.auth == "bob:hunter22"
    assert channel.authenticated_url() == "https://bob:hunter22@host.example/prefix/t/tok-777/private/chan"
    assert channel.redacted_url == "https://bob:<PASSWORD>@host.example/prefix/t/<TOKEN>/private/chan"
    # credentials are never attached to a URL outside the channel (a CEP-15 base_url elsewhere)
    assert channel.authenticated_url("https://cdn.example/pkg.conda") == "https://cdn.example/pkg.conda"


def test_channel_alias() -> None:
    alias = "https://artifacts.corp/t/corp-token-1/conda"
    channel = parse_channel("conda-forge", channel_alias=alias)
    assert channel.canonical_name == "conda-forge"
    assert channel.base_url == "https://artifacts.corp/conda/conda-forge"
    assert channel.authenticated_url() == alias + "/conda-forge"
    # a URL under the alias gets the alias-form canonical name
    assert parse_channel("https://artifacts.corp/conda/bio", channel_alias=alias).canonical_name == "bio"


def test_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my chan").mkdir()
    expected = (tmp_path / "my chan").resolve().as_uri()
    for value in ("./my chan", str(tmp_path / "my chan"), expected, "my chan/../my chan".join(["./", ""])):
        channel = parse_channel(value)
        assert channel.is_local and channel.canonical_name == expected
        assert channel.local_path() == (tmp_path / "my chan").resolve()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_channel("~/my chan").canonical_name == expected


def test_defaults_expansion_and_ranks() -> None:
    linux = expand_channels(["conda-forge", "defaults"], "linux-64")
    assert [(c.canonical_name, rank) for c, rank in linux] == [
        ("conda-forge", 0),
        ("pkgs/main", 1),
        ("pkgs/r", 1),
    ]
    win = expand_channels("defaults", "win-64")
    assert [c.canonical_name for c, _ in win] == ["pkgs/main", "pkgs/r", "pkgs/msys2"]
    # duplicates keep their first position
    dup = expand_channels(["conda-forge", "pkgs/main", "defaults"], "linux-64")
    assert [(c.canonical_name, rank) for c, rank in dup] == [
        ("conda-forge", 0),
        ("pkgs/main", 1),
        ("pkgs/r", 2),
    ]


def test_subdirs() -> None:
    assert parse_channel("conda-forge").subdirs("osx-arm64") == ("osx-arm64", "noarch")
    assert parse_channel("conda-forge/linux-64").subdirs("osx-arm64") == ("linux-64", "noarch")
    assert parse_channel("conda-forge").subdirs("noarch") == ("noarch",)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "  ",
        "bad name!",
        "ftp://host/chan",
        "https://host/chan/repodata.json",
        "https:///nohost",
        "defaults",
    ],
)
def test_bad_channels(value: str) -> None:
    with pytest.raises(ChannelError):
        parse_channel(value)


def test_channel_error_is_redacted() -> None:
    with pytest.raises(ChannelError) as info:
        parse_channel("ftp://user:pa55word@host/t/tk-0000111/chan")
    assert "pa55word" not in str(info.value) and "tk-0000111" not in str(info.value)


def test_redact_patterns() -> None:
    assert redact("GET https://h/t/abc-123/chan/noarch/repodata.json") == (
        "GET https://h/t/<TOKEN>/chan/noarch/repodata.json"
    )
    assert redact("https://user:s3cret@h/x and http://u:p2@h2") == (
        "https://user:<PASSWORD>@h/x and http://u:<PASSWORD>@h2"
    )
    assert redact("https://h/x?token=zzz&a=1") == "https://h/x?token=<TOKEN>&a=1"
    assert redact("nothing secret here") == "nothing secret here"
    assert strip_secrets("https://u:p@h/t/tok/c/noarch/x.conda") == "https://h/c/noarch/x.conda"


def test_registered_secret_redacted_anywhere() -> None:
    parse_channel("https://h.example/t/tk-registry-42/c")
    assert redact("'GET /c%2Fx' failed; token tk-registry-42 rejected") == "'GET /c%2Fx' failed; token <TOKEN> rejected"


def test_channel_equality_and_hash() -> None:
    assert parse_channel("conda-forge") == parse_channel("https://conda.anaconda.org/conda-forge")
    assert len({parse_channel("conda-forge"), parse_channel("conda-forge/")}) == 1
    assert isinstance(parse_channel(parse_channel("x")), Channel)


def test_channel_is_an_immutable_value_that_survives_pickle_and_copy() -> None:
    import copy
    import pickle

    channel = parse_channel("https://user:pw@h.example/t/tk-value-7/chan/label/dev")
    assert channel.token == "tk-value-7" and channel.auth == "user:pw"
    with pytest.raises(AttributeError, match="immutable"):
        channel.base_url = "https://elsewhere"  # type: ignore[misc]
    for clone in (copy.copy(channel), copy.deepcopy(channel), pickle.loads(pickle.dumps(channel))):
        assert clone == channel and hash(clone) == hash(channel)
        assert (clone.token, clone.auth, clone.token_location) == (channel.token, channel.auth, channel.token_location)
    # equality ignores where the token goes back in; the secrets never reach repr
    assert channel != parse_channel("https://h.example/chan/label/dev")
    assert "tk-value-7" not in repr(channel) and "pw" not in repr(channel)
    assert repr(channel).startswith("Channel(") and "h.example/chan/label/dev" in repr(channel)
