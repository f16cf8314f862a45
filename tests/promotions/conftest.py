"""Fixtures of the promotion tests: the Octane and Xray emulators, fast queue settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evidencehub.tasks.queue import forget_queues
from tests.support.octane import _octane_server, octane_config, octane_emulator, octane_settings
from tests.support.promotions import flush_queue, redis_url, use_redis_queue
from tests.support.xray import _xray_servers, xray_server, xray_settings

__all__ = [
    "_octane_server",
    "_xray_servers",
    "octane_config",
    "octane_emulator",
    "octane_settings",
    "redis_url",
    "xray_server",
    "xray_settings",
]


@pytest.fixture(autouse=True)
def _fast_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retries after a tenth of a second; every test has its own queue (in its data dir, or named)."""
    monkeypatch.setenv("EVIDENCEHUB_QUEUE__RETRY_DELAY_SECONDS", "0.1")
    monkeypatch.setenv("EVIDENCEHUB_PROMOTIONS__HEARTBEAT_SECONDS", "0.2")
    forget_queues()
    yield
    forget_queues()


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
