"""Test support for promotions: an in-process worker, a Redis queue of its own, waiting for a state."""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.promotions import service
from evidencehub.promotions.schemas import PromotionDetail
from evidencehub.results.service import organization_id_for
from evidencehub.tasks.queue import get_queue, start_consumer
from tests.support.databases import REDIS_URL_VARIABLE


@pytest.fixture
def bundle_store() -> types.ModuleType:
    """The evidence bundle module the job uses (tests that read bundles import it through this)."""
    return importlib.import_module("evidencehub.promotions.bundle")


@contextmanager
def worker(settings: Settings, threads: int = 2) -> Iterator[None]:
    """Consumer threads on the settings' queue for the duration of the block."""
    consumer = start_consumer(settings, threads)
    try:
        yield
    finally:
        consumer.stop(graceful=True)


def detail(database: Database, settings: Settings, promotion_id: int) -> PromotionDetail:
    with database.session() as session:
        organization_id = organization_id_for(session, settings.default_organization)
    assert organization_id is not None
    return service.promotion_detail(database, settings, organization_id, promotion_id)


def wait_for(condition: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:g} s")
        time.sleep(0.05)


def wait_for_state(
    database: Database, settings: Settings, promotion_id: int, *states: str, timeout: float = 60.0
) -> PromotionDetail:
    seen: list[PromotionDetail] = []

    def reached() -> bool:
        seen.append(detail(database, settings, promotion_id))
        return seen[-1].promotion.state.value in states

    try:
        wait_for(reached, timeout=timeout, what=f"promotion {promotion_id} in {states}")
    except AssertionError as error:
        raise AssertionError(f"{error}; last seen {seen[-1].model_dump_json(indent=1)[:3000]}") from None
    return seen[-1]


def landing_path(url: str) -> Path:
    assert url.startswith("file://"), url
    return Path(url.removeprefix("file://"))


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        pytest.skip(f"Redis tests need {REDIS_URL_VARIABLE} (CI sets it)")
    return url


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_redis_queue(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    """Point the test's settings (and CLI runs, and worker processes) at a Redis queue of its own."""
    name = f"evidencehub-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("EVIDENCEHUB_QUEUE_URL", url)
    monkeypatch.setenv("EVIDENCEHUB_QUEUE__NAME", name)
    return name


def flush_queue() -> None:
    """Drop the keys of the test's queue (its name is unique to the test)."""
    settings = load_settings()
    if settings.queue_url is not None:
        with contextlib.suppress(Exception):
            get_queue(settings).huey.flush()
