"""Fixtures of the promotion tests: the Octane and Xray emulators, fast queue settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evidencehub.tasks.queue import forget_queues
from tests.support.octane import _octane_server, octane_config, octane_emulator, octane_settings
from tests.support.promotions import redis_url
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
