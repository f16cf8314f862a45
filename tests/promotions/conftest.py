"""Fixtures of the promotion tests: the Octane and Xray emulators, fast queue settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.octane import _octane_server, octane_config, octane_emulator, octane_settings
from tests.support.promotions import flush_queue, redis_url, use_redis_queue
from tests.support.task_queue import fast_queue
from tests.support.xray import _xray_servers, xray_server, xray_settings

__all__ = [
    "_octane_server",
    "_xray_servers",
    "fast_queue",
    "octane_config",
    "octane_emulator",
    "octane_settings",
    "redis_url",
    "xray_server",
    "xray_settings",
]


@pytest.fixture(autouse=True)
def _quick_queue(fast_queue: None) -> None:
    """Every promotion test gets quick retries and a queue of its own."""


@pytest.fixture(params=["embedded", "redis"])
def queue(request: pytest.FixtureRequest, backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The task queue, each kind: embedded (huey on the database), or Redis — with PostgreSQL only,
    the scaled set-up. A Redis queue is the test's own and is flushed after it. Settings loaded
    before this fixture still name the embedded queue: load them again."""
    kind = str(request.param)
    if kind == "redis":
        if backend != "postgresql":
            pytest.skip("huey on Redis is tested with PostgreSQL (the scaled set-up)")
        use_redis_queue(monkeypatch, request.getfixturevalue("redis_url"))
    yield kind
    if kind == "redis":
        flush_queue()
