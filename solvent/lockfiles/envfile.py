"""``environment.yml`` (as conda reads it) and plain spec lists, with file:line errors.

solvent's own optional section, ``x-solvent``, names the target platforms and the virtual
packages of each (conda ignores unknown ``x-`` keys... and so do other tools that follow that
convention)::

    x-solvent:
      platforms: [linux-64, osx-arm64]
      virtual-packages:
        linux-64: ["__cuda=12.2", "__glibc=2.28"]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from solvent.errors import InvalidInput, InvalidMatchSpec
from solvent.match_spec import parse_match_spec

KNOWN_KEYS = {"name", "channels", "dependencies", "prefix", "variables", "x-solvent"}
SOLVENT_KEYS = {"platforms", "virtual-packages"}


@dataclass
class EnvironmentSpec:
    """What to lock: specs, channels, pip requirements, platforms and virtual packages."""

    source: str
    name: str | None = None
    channels: list[str] = field(default_factory=list)
    specs: list[str] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    pip_where: list[str] = field(default_factory=list)  # "file:line" of each pip entry, for errors
    platforms: list[str] = field(default_factory=list)
    virtual_packages: dict[str, list[str]] = field(default_factory=dict)
    nodefaults: bool = False

    def content_hash(self, platform: str, virtual: list[str], pip: dict[str, Any] | None = None) -> str:
        """What the lock of ``platform`` depends on: stable JSON of the inputs, sha256.

        ``pip`` is the resolved pip input (requirements with ``-r`` files expanded, index URLs
        from every source, the conda->PyPI name overrides): the raw lines alone would miss an edit
        to an included file or a changed ``PIP_INDEX_URL``.
        """
        doc: dict[str, Any] = {
            "channels": self.channels,
            "specs": sorted(self.specs),
            "pip": sorted(self.pip),
            "platform": platform,
            "virtual_packages": sorted(virtual),
        }
        if pip is not None:
            doc["pip_inputs"] = pip
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _where(path: str, node: Any) -> str:
    mark = getattr(node, "start_mark", None)
    return f"{path}:{mark.line + 1}" if mark is not None else path


def load_environment(path: str | Path) -> EnvironmentSpec:
    """Read an environment.yml, or a plain list of specs (one per line) for other files."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {p}: {exc.strerror}") from None
    if p.suffix not in (".yml", ".yaml"):
        return _spec_list(str(p), text)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        raise InvalidInput(f"{where}: malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise InvalidInput(f"{p}: an environment file is a mapping with channels and dependencies")
    env = EnvironmentSpec(source=str(p))
    for key_node, value_node in root.value:
        key = key_node.value
        if key not in KNOWN_KEYS and not str(key).startswith("x-"):
            raise InvalidInput(
                f"{_where(str(p), key_node)}: unknown key {key!r} (known: {', '.join(sorted(KNOWN_KEYS))})"
            )
        value = yaml.safe_load(yaml.serialize(value_node))
        if key == "name":
            env.name = str(value)
        elif key == "channels":
            if not isinstance(value, list):
                raise InvalidInput(f"{_where(str(p), value_node)}: channels must be a list")
            for item in value:
                if item == "nodefaults":
                    env.nodefaults = True
                else:
                    env.channels.append(str(item))
        elif key == "dependencies":
            _dependencies(env, str(p), value_node)
        elif key == "x-solvent":
            _solvent_section(env, str(p), value_node)
    if not env.channels and not env.nodefaults:
        env.channels = ["defaults"]
    return env


def _dependencies(env: EnvironmentSpec, path: str, node: Any) -> None:
    if not isinstance(node, yaml.SequenceNode):
        raise InvalidInput(f"{_where(path, node)}: dependencies must be a list")
    for item in node.value:
        if isinstance(item, yaml.MappingNode):
            for k, v in item.value:
                if k.value != "pip":
                    raise InvalidInput(f"{_where(path, k)}: unknown dependency section {k.value!r} (only pip:)")
                if not isinstance(v, yaml.SequenceNode):
                    raise InvalidInput(f"{_where(path, v)}: pip: must be a list")
                for req in v.value:
                    _pip(env, path, req)
            continue
        text = str(item.value).strip()
        try:
            parse_match_spec(text)
        except InvalidMatchSpec as exc:
            raise InvalidInput(f"{_where(path, item)}: {exc}") from None
        env.specs.append(text)


def _pip(env: EnvironmentSpec, path: str, node: Any) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    from solvent.lockfiles.pip.requirements import is_path_requirement

    text = str(node.value).strip()
    where = _where(path, node)
    env.pip_where.append(where)
    if text.startswith("-") or is_path_requirement(text):
        env.pip.append(text)  # options (-r file, --index-url) and paths are read when locking pip
        return
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidInput(f"{where}: invalid pip requirement {text!r}: {exc}") from None
    env.pip.append(text)


def _solvent_section(env: EnvironmentSpec, path: str, node: Any) -> None:
    from solvent.platforms import validate_platform

    if not isinstance(node, yaml.MappingNode):
        raise InvalidInput(f"{_where(path, node)}: x-solvent must be a mapping")
    for k, v in node.value:
        if k.value not in SOLVENT_KEYS:
            raise InvalidInput(
                f"{_where(path, k)}: unknown x-solvent key {k.value!r} (known: {', '.join(sorted(SOLVENT_KEYS))})"
            )
        value = yaml.safe_load(yaml.serialize(v))
        try:
            if k.value == "platforms":
                env.platforms = [validate_platform(str(x)) for x in value]
            else:
                env.virtual_packages = {validate_platform(str(pl)): [str(x) for x in vs] for pl, vs in value.items()}
        except (InvalidInput, AttributeError, TypeError) as exc:
            raise InvalidInput(f"{_where(path, v)}: {exc}") from None


def _spec_list(path: str, text: str) -> EnvironmentSpec:
    env = EnvironmentSpec(source=path)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            parse_match_spec(line)
        except InvalidMatchSpec as exc:
            raise InvalidInput(f"{path}:{lineno}: {exc}") from None
        env.specs.append(line)
    return env
