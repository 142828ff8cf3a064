"""The ``solvent.channels`` logger, created on first use.

Importing :mod:`logging` costs about 4 ms (it pulls in traceback, string and textwrap): a tenth of a
small solve's whole process, and a solve from a local or cached channel never logs. A remote channel
imports it anyway, through requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

NAME = "solvent.channels"


class ChannelsLog:
    """The few :class:`logging.Logger` methods the channel modules call, forwarded once needed."""

    __slots__ = ("_logger",)

    def __init__(self) -> None:
        self._logger: logging.Logger | None = None

    @property
    def logger(self) -> logging.Logger:
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(NAME)
        return self._logger

    # stacklevel=2: the record names the caller's line, not this forwarder's.
    def info(self, msg: str, *args: Any) -> None:
        self.logger.info(msg, *args, stacklevel=2)

    def warning(self, msg: str, *args: Any) -> None:
        self.logger.warning(msg, *args, stacklevel=2)


log = ChannelsLog()
