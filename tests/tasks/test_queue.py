"""The task queue: embedded SQLite and real Redis, consumers, retries, and an unreachable backend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError, UnavailableError
from evidencehub.orgs.service import ensure_organization
from evidencehub.reports.model import ReportExecution
from evidencehub.reports.schemas import ReportDefinitionCreate
from evidencehub.reports.service import create_definition, start_execution
from evidencehub.tasks import enqueue, queue_depth
from evidencehub.tasks.queue import EmbeddedConsumer, forget_queues, get_queue, start_consumer
from evidencehub.tasks.registry import task
from tests.support.databases import REDIS_URL_VARIABLE

CALLS: dict[str, list[object]] = {}
ATTEMPTS: dict[str, int] = {}
_lock = threading.Lock()


@task("tests.record")
def record(settings: Settings, key: str, value: object) -> None:
    with _lock:
        CALLS.setdefault(key, []).append((settings.queue.name, value))


@task("tests.flaky", retries=2)
def flaky(_settings: Settings, key: str, fail_times: int) -> None:
    with _lock:
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
        attempt = ATTEMPTS[key]
    if attempt <= fail_times:
        raise UnavailableError(f"attempt {attempt}: the database went away")


@task("tests.broken", retries=3)
def broken(_settings: Settings, key: str) -> None:
    with _lock:
        ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    raise InputError("this input can never work")


@pytest.fixture(autouse=True)
def _fresh_queues() -> Iterator[None]:
    forget_queues()
    yield
    forget_queues()


def _settings(tmp_path_name: str, **overrides: object) -> Settings:
    return load_settings(
        data_dir=tmp_path_name,
        queue={"name": f"test-{uuid.uuid4().hex[:8]}", "retry_delay_seconds": 0.0, **overrides},
    )


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _run_and_consume(settings: Settings) -> EmbeddedConsumer:
    return start_consumer(settings, 2)


def test_embedded_queue_runs_tasks_with_consumer_threads(tmp_path: object) -> None:
    settings = _settings(str(tmp_path))
    key = uuid.uuid4().hex
    for value in range(3):
        enqueue(settings, "tests.record", key, value)
    assert queue_depth(settings) == 3
    consumer = _run_and_consume(settings)
    try:
        _wait_for(lambda: len(CALLS.get(key, [])) == 3)
    finally:
        consumer.stop(graceful=True)
    assert sorted(value for _name, value in CALLS[key]) == [0, 1, 2]
    assert {name for name, _value in CALLS[key]} == {settings.queue.name}
    assert queue_depth(settings) == 0


def test_transient_errors_are_retried_and_permanent_ones_are_not(tmp_path: object) -> None:
    settings = _settings(str(tmp_path))
    flaky_key, broken_key = uuid.uuid4().hex, uuid.uuid4().hex
    enqueue(settings, "tests.flaky", flaky_key, 2)
    enqueue(settings, "tests.broken", broken_key)
    consumer = _run_and_consume(settings)
    try:
        _wait_for(lambda: ATTEMPTS.get(flaky_key) == 3 and ATTEMPTS.get(broken_key) == 1)
        time.sleep(0.5)  # a wrongly retried permanent failure would show up by now
    finally:
        consumer.stop(graceful=True)
    assert ATTEMPTS[flaky_key] == 3  # two failures, then success
    assert ATTEMPTS[broken_key] == 1


def test_unknown_task_names_are_a_configuration_error(tmp_path: object) -> None:
    from evidencehub.errors import ConfigError

    with pytest.raises(ConfigError, match="no task named"):
        enqueue(_settings(str(tmp_path)), "tests.nope")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_redis_fails_fast_with_unavailable(tmp_path: object) -> None:
    settings = _settings(str(tmp_path), socket_timeout_seconds=0.5).model_copy(
        update={"queue_url": load_settings(queue_url=f"redis://127.0.0.1:{_closed_port()}/0").queue_url}
    )
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="task queue unavailable") as error:
        enqueue(settings, "tests.record", "k", 1)
    assert time.monotonic() - started < 5
    assert "Traceback" not in error.value.message
    with pytest.raises(UnavailableError):
        queue_depth(settings)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        pytest.skip(f"Redis tests need {REDIS_URL_VARIABLE} (CI sets it)")
    return url


@pytest.mark.redis
def test_redis_queue_runs_tasks_on_a_worker(tmp_path: object, redis_url: str) -> None:
    settings = load_settings(
        data_dir=str(tmp_path),
        queue_url=redis_url,
        queue={"name": f"evidencehub-test-{uuid.uuid4().hex}", "socket_timeout_seconds": 2.0},
    )
    huey = get_queue(settings).huey
    key = uuid.uuid4().hex
    try:
        for value in range(5):
            enqueue(settings, "tests.record", key, value)
        assert queue_depth(settings) == 5
        consumer = _run_and_consume(settings)
        try:
            _wait_for(lambda: len(CALLS.get(key, [])) == 5)
        finally:
            consumer.stop(graceful=True)
        assert sorted(value for _name, value in CALLS[key]) == [0, 1, 2, 3, 4]
        assert queue_depth(settings) == 0
    finally:
        huey.flush()  # the queue's keys are this test's own (unique name)


@pytest.mark.redis
@pytest.mark.slow
def test_the_worker_command_consumes_report_executions(
    tmp_path: Path, redis_url: str, database: Database, settings: Settings
) -> None:
    """`evidencehub worker` picks an execution off Redis; with no Chromium it ends failed, not stuck."""
    queue_name = f"evidencehub-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "EVIDENCEHUB_QUEUE_URL": redis_url,
        "EVIDENCEHUB_QUEUE__NAME": queue_name,
        "EVIDENCEHUB_REPORTS__CHROMIUM_PATH": str(tmp_path / "no-chromium"),
    }
    worker_settings = load_settings(
        queue_url=redis_url,
        queue={"name": queue_name},
        reports={"chromium_path": str(tmp_path / "no-chromium")},
    )
    with database.session() as session:
        organization_id = ensure_organization(session, "acme").id
        report = create_definition(
            session, organization_id, ReportDefinitionCreate(name="t", kind="trend"), actor_user_id=None
        )
    execution = start_execution(database, worker_settings, organization_id, report.id, actor_user_id=None)
    assert execution.status == "queued"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("evidencehub")), "worker", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def finished() -> bool:
            with database.session() as session:
                return session.get_one(ReportExecution, execution.id).status not in ("queued", "processing")

        _wait_for(finished, timeout=60)
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
        get_queue(worker_settings).huey.flush()
    with database.session() as session:
        stored = session.get_one(ReportExecution, execution.id)
    assert stored.status == "failed" and "chromium_path" in (stored.error or ""), err[-2000:]
