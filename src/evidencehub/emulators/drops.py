"""Connections an emulator drops on purpose, and keeping them out of uvicorn's error log.

Any emulator's fault model may close a connection mid-response (the case a
client must survive without sending twice); uvicorn would log each one as a
traceback, which in tests and benchmarks would bury real errors.
"""

from __future__ import annotations

import logging


class EmulatedConnectionDrop(Exception):  # noqa: N818 - it is an event, not an error of ours
    """Raised inside the ASGI app to make the server close the connection mid-response."""


class _DropFilter(logging.Filter):
    """Keeps uvicorn from logging a traceback for every deliberately dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, EmulatedConnectionDrop)


def silence_deliberate_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(item, _DropFilter) for item in logger.filters):
        logger.addFilter(_DropFilter())
