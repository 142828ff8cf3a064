"""Channel-index fetching, caching and lazy loading of conda repodata.

Public names are imported lazily so that ``import solvent.channels`` does not pay for requests.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Channel": "solvent.channels.channel",
    "parse_channel": "solvent.channels.channel",
    "expand_channels": "solvent.channels.channel",
    "DEFAULT_CHANNEL_ALIAS": "solvent.channels.channel",
    "redact": "solvent.channels.redact",
    "RepodataCache": "solvent.channels.cache",
    "RepodataFetcher": "solvent.channels.fetch",
    "SubdirIndex": "solvent.channels.repodata",
    "ShardedSubdir": "solvent.channels.shards",
    "make_shards": "solvent.channels.shards",
    "write_sharded": "solvent.channels.shards",
    "ChannelIndex": "solvent.channels.index",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'solvent.channels' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
