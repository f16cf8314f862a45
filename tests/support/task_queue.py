"""Test support for the task queue: quick retries and heartbeats, and a queue of each test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evidencehub.tasks.queue import forget_queues


@pytest.fixture
def fast_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retries after a tenth of a second; every test has its own queue (in its data dir, or named)."""
    monkeypatch.setenv("EVIDENCEHUB_QUEUE__RETRY_DELAY_SECONDS", "0.1")
    monkeypatch.setenv("EVIDENCEHUB_PROMOTIONS__HEARTBEAT_SECONDS", "0.2")
    forget_queues()
    yield
    forget_queues()
