"""conda's MatchSpec: the query language of dependencies and requests (CEP-29, conda's behaviour).

Accepted forms (all combinable): ``numpy``, ``numpy 1.8``, ``numpy 1.8 py39_0``, ``numpy=1.8``
(fuzzy: ``1.8.*``), ``numpy==1.8`` (exact), ``numpy=1.8=py39*``, ``numpy>=1.2,<2|==3``,
``numpy >=1.2``, ``conda-forge::numpy``, ``conda-forge/linux-64::numpy``,
``numpy[version='>=1.2', build='*cuda*', build_number='>=3', subdir=linux-64, md5=...]``, globs in
names and builds, ``*`` for anything, ``feature@`` (legacy track_features), a package URL or path
(``https://.../linux-64/numpy-1.8-py39_0.tar.bz2``), trailing ``# comments`` and ``(optional)``.
Bracket keys override the positional parts, except the name.

Parsing follows conda's steps (comments, package URLs, brackets, parentheses, channel, name,
version and build); ``str()`` gives conda's canonical form, which parses back to an equal spec.
``parse_match_spec`` interns parsed specs: each distinct depends string is parsed once.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Union

from solvent.errors import InvalidMatchSpec, InvalidVersionSpec
from solvent.platforms import KNOWN_PLATFORMS
from solvent.string_match import FeatureMatch, StrMatch
from solvent.version_spec import BuildNumberSpec, VersionSpec, parse_version_spec

FIELD_NAMES = (
    "channel",
    "subdir",
    "name",
    "version",
    "build",
    "build_number",
    "track_features",
    "features",
    "url",
    "md5",
    "sha256",
    "license",
    "license_family",
    "fn",
)
_PACKAGE_EXTENSIONS = (".tar.bz2", ".conda")
_NAME_VERSION = frozenset({"name", "version"})
_NAME_VERSION_BUILD = frozenset({"name", "version", "build"})
_KNOWN_SUBDIRS = frozenset(KNOWN_PLATFORMS)
_DEFAULTS = frozenset({"pkgs/main", "pkgs/r", "pkgs/msys2", "pkgs/free", "pkgs/pro"})

_BRACKETS = re.compile(r".*(\[.*\])")
_BRACKET_KV = re.compile(r"""([a-zA-Z0-9_-]+?)\s*=\s*(["']?)([^'"]*?)(\2)\s*(?:[,\ ]|$)""")
_PARENS = re.compile(r".*(\(.*\))")
_NAME_REST = re.compile(r"([^ =<>!~]+)?([><!=~ ].+)?")
_VERSION_BUILD = re.compile(r"((?:.+?)[^><!,|]?)(?:(?<![=!|,<>~])(?:[ =])([^-=,|<>~]+?))?$")
_NAME_OK = re.compile(r"^[a-z0-9_.*-]+$")
# The shape of nearly every depends string: a lower-case name, then optionally one space and a
# version (operators only where conda's rewriting leaves them alone: no leading ``=``), then
# optionally one space and a build without glob-breaking characters. _parse_general reads these
# exactly as this does (tests/test_match_spec_fast.py checks every depends string of the real
# channel snapshots), in a fifth of the time.
_TOKEN = r"[0-9*][0-9A-Za-z.*_+\-]*"
_SIMPLE = re.compile(
    rf"([a-z0-9_][a-z0-9_.\-]*)(?: ((?:[<>!~]=?)?{_TOKEN}(?:[,|](?:[<>!~]=?|==)?{_TOKEN})*)(?: ([0-9A-Za-z_.*+]+))?)?"
)

Matcher = Union[StrMatch, VersionSpec, BuildNumberSpec, FeatureMatch, "ChannelMatch", str]


class ChannelMatch:
    """Matches a record's channel: by canonical name, URL tail, glob, or ``defaults`` membership."""

    __slots__ = ("_glob", "value")

    def __init__(self, value: str) -> None:
        self.value = value.rstrip("/")
        self._glob = StrMatch(self.value) if "*" in self.value or self.value.startswith("^") else None

    def match(self, channel: str) -> bool:
        channel = (channel or "").rstrip("/")
        if self._glob is not None:
            return self._glob.match(channel)
        want = self.value
        if channel == want or channel.endswith("/" + want):
            return True
        return want == "defaults" and channel in _DEFAULTS

    @property
    def exact_value(self) -> str | None:
        return None if self._glob is not None else self.value

    def __str__(self) -> str:
        return self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelMatch) and self.value == other.value

    def __hash__(self) -> int:
        return hash(("channel", self.value))


def _error(spec: str, message: str) -> InvalidMatchSpec:
    return InvalidMatchSpec(f"invalid spec {spec!r}: {message}")


def _split_channel(text: str | None) -> tuple[str | None, str | None]:
    """``conda-forge/linux-64`` -> (``conda-forge``, ``linux-64``)."""
    if not text:
        return None, None
    text = text.rstrip("/")
    head, _, tail = text.rpartition("/")
    if head and tail in _KNOWN_SUBDIRS:
        return head, tail
    return text, None


def _parse_package_url(spec: str) -> dict[str, Any]:
    """A spec that is a package file URL or path: take name, version and build from the file name."""
    path = spec.split("#", 1)[0]
    fn = path.rstrip("/").rsplit("/", 1)[-1]
    stem = fn[: -len(".tar.bz2")] if fn.endswith(".tar.bz2") else fn[: -len(".conda")]
    parts = stem.rsplit("-", 2)
    if len(parts) != 3:
        raise _error(spec, f"cannot read name-version-build from file name {fn!r}")
    out: dict[str, Any] = {"name": parts[0], "version": parts[1], "build": parts[2], "fn": fn, "url": path}
    dirs = path.rstrip("/").split("/")
    if len(dirs) >= 3 and dirs[-2] in _KNOWN_SUBDIRS:
        out["subdir"] = dirs[-2]
        out["channel"] = "/".join(dirs[:-2])
    return out


def _sanitize_version(version: str, build: str | None) -> str:
    """conda's rewriting of ``=1.2`` (fuzzy) and ``==1.2`` (exact) in the positional form."""
    if version in ("==", "="):
        return version
    if not version.startswith("="):
        return version
    bare = version.lstrip("=")
    if version.startswith("==") and build is None:
        return bare
    if not any(ch in bare for ch in "=,|"):
        if build is None and not bare.endswith("*"):
            return bare + "*"
        return bare
    return version


def _parse(spec: str) -> dict[str, Any]:
    m = _SIMPLE.fullmatch(spec)
    if m is None:
        return _parse_general(spec)
    name, version, build = m.groups()
    out: dict[str, Any] = {"name": name}
    if version:
        out["version"] = version
        if build:
            out["build"] = build
    return out


def _parse_general(spec: str) -> dict[str, Any]:
    original = spec
    text = spec.strip()
    if not text:
        raise _error(original, "empty spec")
    if text.endswith("@") and " " not in text:
        return {"name": "*", "track_features": text[:-1]}
    if "#" in text:
        text = text[: text.index("#")].strip()
    text = text.split(" if ", 1)[0]
    if text.endswith(_PACKAGE_EXTENSIONS) and ("/" in text or "\\" in text or "://" in text):
        return _parse_package_url(text)

    brackets: dict[str, Any] = {}
    m = _BRACKETS.match(text)
    if m:
        raw = m.group(1)
        start = text.rfind(raw)
        text = text[:start] + text[start + len(raw) :]
        inner = raw[1:-1]
        consumed = 0
        for kv in _BRACKET_KV.finditer(inner):
            key, _, value, _ = kv.groups()
            if inner[consumed : kv.start()].strip(" ,"):
                bad = inner[consumed : kv.start()].strip(" ,")
                if bad != "optional":
                    raise _error(original, f"cannot read {bad!r} in brackets (expected key=value)")
                brackets["optional"] = True
            consumed = kv.end()
            if not value:
                raise _error(original, f"empty value for key {key!r} in brackets")
            if key == "version":
                value = _sanitize_version(value, None)
            brackets[key] = value
        rest = inner[consumed:].strip(" ,")
        if rest:
            if rest != "optional":
                raise _error(original, f"cannot read {rest!r} in brackets (expected key=value)")
            brackets["optional"] = True
    parens: dict[str, Any] = {}
    m = _PARENS.match(text)
    if m:
        raw = m.group(1)
        text = text.replace(raw, "")
        for kv in _BRACKET_KV.finditer(raw[1:-1]):
            parens[kv.group(1)] = kv.group(3)
        if "optional" in raw:
            parens["optional"] = True

    channel_str = None
    if "::" in text:
        channel_str, _, text = text.rpartition("::")
    channel, subdir = _split_channel(channel_str)
    if "channel" in brackets:
        b_channel, b_subdir = _split_channel(brackets.pop("channel"))
        channel = b_channel or channel
        subdir = b_subdir or subdir
    if "subdir" in brackets:
        subdir = brackets.pop("subdir")

    m = _NAME_REST.match(text)
    name, rest = m.groups() if m else (None, None)
    if not name:
        raise _error(original, "no package name found")
    if m is not None and m.end() != len(text):
        raise _error(original, f"cannot read {text[m.end() :]!r}")
    name = name.lower()
    if not _NAME_OK.match(name):
        bad = "".join(sorted({ch for ch in name if not _NAME_OK.match(ch)}))
        raise _error(original, f"package name {name!r} contains invalid characters {bad!r}")
    version = build = None
    rest = rest.strip() if rest else ""
    if rest:
        if "[" in rest:
            raise _error(original, "multiple brackets sections not allowed")
        vb = _VERSION_BUILD.search(rest)
        if vb:
            version, build = vb.groups()
            build = build.strip() if build else None
        else:
            version = rest
        version = version.replace(" ", "") if version else version
        if version:
            version = _sanitize_version(version, build)

    out: dict[str, Any] = {"name": name}
    if channel:
        out["channel"] = channel
    if subdir:
        out["subdir"] = subdir
    if version:
        out["version"] = version
    if build:
        out["build"] = build
    brackets.pop("name", None)  # a bracket name never overrides the positional name
    out.update(brackets)
    if parens.get("optional"):
        out["optional"] = True
    if "target" in parens:
        out["target"] = parens["target"]
    return out


class MatchSpec:
    """A query over package records. ``MatchSpec("numpy >=1.20")``, or by fields."""

    __slots__ = ("_components", "_hash", "_str", "optional", "target")

    def __init__(self, spec: str | MatchSpec | None = None, **fields: Any) -> None:
        if isinstance(spec, MatchSpec):
            parsed: dict[str, Any] = {k: v for k, v in spec._components.items()}
            parsed["optional"] = spec.optional
            parsed["target"] = spec.target
            parsed.update(fields)
            original = str(spec)
        elif spec is not None:
            original = spec
            parsed = _parse(spec)
            parsed.update(fields)
        else:
            original = repr(fields)
            parsed = dict(fields)
        self.optional: bool = bool(parsed.pop("optional", False))
        self.target: str | None = parsed.pop("target", None)
        self._components: dict[str, Any] = {}
        for key, value in parsed.items():
            if value is None:
                continue
            if key not in FIELD_NAMES:
                raise _error(original, f"unknown field {key!r} (known: {', '.join(FIELD_NAMES)})")
            self._components[key] = self._matcher(key, value, original)
        if "name" not in self._components:
            self._components["name"] = StrMatch("*", lower=True)
        self._str: str | None = None
        self._hash: int | None = None

    @staticmethod
    def _matcher(key: str, value: Any, original: str) -> Any:
        if not isinstance(value, str) or key in ("track_features", "features"):
            if key in ("track_features", "features"):
                return value if isinstance(value, FeatureMatch) else FeatureMatch(value)
            if hasattr(value, "match"):
                return value
            value = str(value)
        try:
            if key == "version":
                return parse_version_spec(value)
            if key == "build_number":
                return BuildNumberSpec(value)
        except InvalidVersionSpec as exc:
            detail = str(exc).split(": ", 1)[-1]
            m = re.search(r" at position (\d+)$", detail)
            offset = original.find(value) if isinstance(original, str) else -1
            if m and offset >= 0:
                # report the position in the whole spec, not in its version part
                detail = detail[: m.start()] + f" at position {int(m.group(1)) + offset}"
            raise InvalidMatchSpec(f"invalid spec {original!r}: {detail}") from None
        if key == "name":
            return StrMatch(value, lower=True)
        if key in ("build", "subdir"):
            return StrMatch(value)
        if key in ("license", "license_family"):
            return StrMatch(value, lower=True)
        if key == "channel":
            return ChannelMatch(value)
        return value  # url, md5, sha256, fn: exact strings

    # -- fields --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self._components["name"])

    @property
    def version(self) -> VersionSpec | None:
        return self._components.get("version")

    @property
    def build(self) -> StrMatch | None:
        return self._components.get("build")

    @property
    def build_number(self) -> BuildNumberSpec | None:
        return self._components.get("build_number")

    @property
    def channel(self) -> ChannelMatch | None:
        return self._components.get("channel")

    @property
    def subdir(self) -> str | None:
        sd = self._components.get("subdir")
        return str(sd) if sd is not None else None

    def get(self, field: str, default: Any = None) -> Any:
        value = self._components.get(field)
        if value is None:
            return default
        if isinstance(value, FeatureMatch):
            return value.features
        return value

    def __getattr__(self, field: str) -> Any:
        if field in FIELD_NAMES:
            return self.get(field)
        raise AttributeError(field)

    def is_name_only(self) -> bool:
        return set(self._components) == {"name"} and "*" not in self.name

    # -- matching ------------------------------------------------------------------------------
    def match(self, record: Any) -> bool:
        """Does ``record`` (a PackageRecord) satisfy every field of this spec?"""
        for key, matcher in self._components.items():
            if key == "name":
                if not matcher.match(record.name):
                    return False
            elif key == "version":
                if not matcher.match(record.version_order):
                    return False
            elif key == "build_number":
                if not matcher.match(record.build_number):
                    return False
            elif key in ("track_features", "features"):
                if not matcher.match(getattr(record, key)):
                    return False
            elif isinstance(matcher, str):
                if (getattr(record, key, None) or "") != matcher:
                    return False
            elif not matcher.match(getattr(record, key, None) or ""):
                return False
        return True

    def select(self, records: Iterable[Any]) -> list[Any]:
        """The records this spec matches, in their order (``[r for r in records if self.match(r)]``).

        A name's records repeat their versions (one build per python, per variant), and most
        dependencies constrain only a name and a version (``numpy >=1.21``), so for those each
        distinct name and version is tested once. An exact build (``numpy-base==1.15.0=py36h_0``,
        the pins between the parts of one package) is compared first, as a string.
        """
        components = self._components
        build = components.get("build")
        if isinstance(build, StrMatch) and build.exact_value is not None and not build.lower:
            exact = build.exact_value
            records = [r for r in records if (r.build or "") == exact]
            fields = _NAME_VERSION_BUILD  # the build is settled: name and version decide the rest
        else:
            fields = _NAME_VERSION
        if not components.keys() <= fields:
            return [r for r in records if self.match(r)]
        decided: dict[tuple[str, str], bool] = {}
        out = []
        match = self.match
        for r in records:
            key = (r.name, r.version)
            ok = decided.get(key)
            if ok is None:
                ok = decided[key] = match(r)
            if ok:
                out.append(r)
        return out

    # -- canonical form ------------------------------------------------------------------------
    def __str__(self) -> str:
        if self._str is None:
            self._str = self._render()
        return self._str

    def _render(self) -> str:
        c = self._components
        out: list[str] = []
        brackets: list[str] = []
        channel = c.get("channel")
        if channel is not None and channel.exact_value:
            out.append(str(channel))
        elif channel is not None:
            brackets.append(f"channel={channel}")
        subdir = c.get("subdir")
        if subdir is not None:
            if channel is not None and channel.exact_value:
                out.append(f"/{subdir}")
            else:
                brackets.append(f"subdir={subdir}")
        out.append(("::" if out else "") + str(c["name"]))
        version = c.get("version")
        build = c.get("build")
        exact = False
        if version is not None:
            v = str(version)
            if any(ch in v for ch in "><$^|,"):
                brackets.append(f"version='{v}'")
            elif v[:2] in ("!=", "~="):
                if build is not None:
                    brackets.append(f"version='{v}'")
                else:
                    out.append(v)
            elif v.endswith(".*"):
                out.append("=" + v[:-2])
            elif v == "*":
                pass
            elif v.endswith("*"):
                out.append("=" + v[:-1])
            elif v.startswith("=="):
                out.append(v)
                exact = True
            else:
                out.append("==" + v)
                exact = True
        if build is not None:
            b = str(build)
            if any(ch in b for ch in "><$^|,"):
                brackets.append(f"build='{b}'")
            elif "*" in b or not exact:
                brackets.append(f"build={b}")
            else:
                out.append("=" + b)
        for key in FIELD_NAMES:
            if key in ("channel", "subdir", "name", "version", "build") or key not in c:
                continue
            if key == "fn" and "url" in c:
                continue
            value = str(c[key])
            if any(ch in value for ch in ", ="):
                brackets.append(f"{key}='{value}'")
            else:
                brackets.append(f"{key}={value}")
        if brackets:
            out.append("[" + ",".join(brackets) + "]")
        return "".join(out)

    def __repr__(self) -> str:
        return f"MatchSpec({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MatchSpec):
            return NotImplemented
        return (str(self), self.optional, self.target) == (str(other), other.optional, other.target)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((str(self), self.optional, self.target))
        return self._hash

    def __reduce__(self) -> tuple:
        return (parse_match_spec, (str(self),))


_CACHE: dict[str, MatchSpec] = {}


def parse_match_spec(spec: str | MatchSpec) -> MatchSpec:
    """The interned constructor used for every depends and constrains string."""
    if isinstance(spec, MatchSpec):
        return spec
    found = _CACHE.get(spec)
    if found is None:
        found = _CACHE[spec] = MatchSpec(spec)
    return found


def merge_specs(specs: Iterable[MatchSpec]) -> list[MatchSpec]:
    """Combine specs on the same name into one (versions AND-ed; conflicting exact fields raise)."""
    by_name: dict[str, list[MatchSpec]] = {}
    order: list[str] = []
    for spec in specs:
        if spec.name not in by_name:
            order.append(spec.name)
        by_name.setdefault(spec.name, []).append(spec)
    out = []
    for name in order:
        group = by_name[name]
        if len(group) == 1 or "*" in name:
            out.extend(group)
            continue
        fields: dict[str, Any] = {}
        for spec in group:
            for key, value in spec._components.items():
                if key == "name":
                    continue
                if key == "version" and "version" in fields:
                    fields["version"] = ",".join(sorted({str(fields["version"]), str(value)}))
                elif key in fields and str(fields[key]) != str(value):
                    raise InvalidMatchSpec(f"cannot merge specs for {name}: {key} {fields[key]} conflicts with {value}")
                else:
                    fields[key] = value if key != "version" else str(value)
        out.append(MatchSpec(name=name, **{k: (str(v) if k == "version" else v) for k, v in fields.items()}))
    return out
