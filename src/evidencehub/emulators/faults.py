"""Faults every emulator injects alike: a proxy's 502 page, and connections dropped mid-response.

A dropped connection is the case a client must survive without sending twice;
uvicorn would log each one as a traceback, which in tests and benchmarks would
bury real errors, so the deliberate ones are kept out of its error log.
"""

from __future__ import annotations

import logging

from starlette.types import Message, Send

# What a reverse proxy in front of the real server answers when the server behind it is gone.
PROXY_502_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
)


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


def dropping(send: Send) -> Send:
    """A ``send`` that passes the status line and half the body, then breaks the connection."""

    async def dropping_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise EmulatedConnectionDrop
        await send(message)

    return dropping_send
