"""Building the huey instance from settings, enqueueing, and the embedded consumer."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from huey.exceptions import CancelExecution
from redis import ConnectionPool
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from evidencehub.config import Settings, mask_url_password
from evidencehub.errors import ConfigError, EvidenceHubError, RemoteError, UnavailableError
from evidencehub.ops.logging import get_logger
from evidencehub.tasks.registry import TaskSpec, declared_tasks

log = get_logger(__name__)

QUEUE_FILE_NAME = "queue.db"
# Failures worth another try: a part that may come back (database, queue, remote system).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    UnavailableError,
    RemoteError,
    OperationalError,
    RedisError,
    sqlite3.OperationalError,
    ConnectionError,
    TimeoutError,
)
_QUEUE_ERRORS: tuple[type[BaseException], ...] = (RedisError, sqlite3.Error, OSError)


@dataclass(frozen=True)
class TaskQueue:
    """A huey instance and the task wrappers bound to it, by task name."""

    huey: Huey
    wrappers: dict[str, Any]


_queues: dict[tuple[str, str, str], TaskQueue] = {}
_queues_lock = threading.Lock()


def queue_url(settings: Settings) -> str | None:
    return settings.queue_url.get_secret_value() if settings.queue_url is not None else None


def is_embedded(settings: Settings) -> bool:
    """True when the queue is the SQLite file in the data dir (consumers run inside ``serve``)."""
    return queue_url(settings) is None


def describe_queue(settings: Settings) -> str:
    url = queue_url(settings)
    if url is None:
        return f"sqlite {settings.data_dir / QUEUE_FILE_NAME} (queue {settings.queue.name})"
    return f"{mask_url_password(url)} (queue {settings.queue.name})"


def get_queue(settings: Settings) -> TaskQueue:
    """The process-wide huey instance for the settings' queue, with every declared task bound."""
    key = (queue_url(settings) or str(settings.data_dir), settings.queue.name, repr(settings.queue))
    with _queues_lock:
        queue = _queues.get(key)
        if queue is None:
            queue = _build(settings)
            _queues[key] = queue
        return queue


def forget_queues() -> None:
    """Drop cached instances (tests and forked workers)."""
    with _queues_lock:
        _queues.clear()


def _build(settings: Settings) -> TaskQueue:
    url = queue_url(settings)
    name = settings.queue.name
    huey: Huey
    if url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name, filename=str(settings.data_dir / QUEUE_FILE_NAME), results=False, utc=True)
    elif url.startswith(("redis://", "rediss://", "unix://")):
        timeout = settings.queue.socket_timeout_seconds
        pool = ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        huey = RedisHuey(
            name,
            connection_pool=pool,
            results=False,
            utc=True,
            # The blocking read must return before the socket times out.
            read_timeout=max(0.1, min(1.0, timeout / 2)),
        )
    else:
        raise ConfigError(
            f"queue_url {mask_url_password(url)} is not supported; use redis://… or leave it unset",
            details={"field": "queue_url"},
        )
    wrappers = {spec.name: _bind(huey, settings, spec) for spec in declared_tasks().values()}
    return TaskQueue(huey, wrappers)


def _bind(huey: Huey, settings: Settings, spec: TaskSpec) -> Any:
    runner = _runner(settings, spec)
    options: dict[str, Any] = {
        "name": spec.name,
        "retries": settings.queue.retries if spec.retries is None else spec.retries,
        "retry_delay": settings.queue.retry_delay_seconds,
        "retry_backoff": 2,
    }
    if spec.periodic_minutes is not None:
        return huey.periodic_task(crontab(minute=f"*/{spec.periodic_minutes}"), **options)(runner)
    return huey.task(**options)(runner)


def _runner(settings: Settings, spec: TaskSpec) -> Callable[..., Any]:
    @functools.wraps(spec.function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return spec.function(settings, *args, **kwargs)
        except TRANSIENT_ERRORS as exc:
            log.warning(
                "task failed on a transient error; it will be retried", task=spec.name, error=str(exc)
            )
            raise
        except EvidenceHubError as exc:
            # A permanent failure: trying again would fail the same way.
            log.error("task failed", task=spec.name, error=exc.message, code=exc.code)
            raise CancelExecution(retry=False) from exc

    return run


def enqueue(settings: Settings, name: str, *args: Any, **kwargs: Any) -> str:
    """Put a declared task on the queue and return its id.

    Raises UnavailableError quickly (the socket timeouts of ``queue``) when the
    queue cannot be reached, so the API answers 503 instead of hanging.
    """
    queue = get_queue(settings)
    wrapper = queue.wrappers.get(name)
    if wrapper is None:
        raise ConfigError(f"no task named '{name}' is declared", details={"task": name})
    message = wrapper.s(*args, **kwargs)
    try:
        queue.huey.enqueue(message)
    except _QUEUE_ERRORS as exc:
        raise UnavailableError(
            f"task queue unavailable: {_first_line(exc)} ({describe_queue(settings)})",
            details={"queue": settings.queue.name},
        ) from None
    return str(message.id)


def queue_depth(settings: Settings) -> int:
    """Tasks waiting on the queue (UnavailableError when it cannot be reached)."""
    try:
        return int(get_queue(settings).huey.pending_count())
    except _QUEUE_ERRORS as exc:
        raise UnavailableError(f"task queue unavailable: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A huey consumer that runs inside another program: threads only, the host keeps its signals."""

    def _set_signal_handlers(self) -> None:
        return None


def start_consumer(settings: Settings, workers: int) -> EmbeddedConsumer:
    """Start consumer threads (worker threads + scheduler) for the settings' queue."""
    consumer = EmbeddedConsumer(
        get_queue(settings).huey,
        workers=workers,
        worker_type="thread",
        periodic=True,
        check_worker_health=False,
        initial_delay=0.05,
        max_delay=1.0,
    )
    consumer.start()
    return consumer
