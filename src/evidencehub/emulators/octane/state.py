"""Everything the emulator remembers: config, sessions, the task queue, entities and counters.

One re-entrant lock guards it all; request handlers and the processing thread
take it for short, atomic steps. The processing thread finishes one queued
task every ``1 / tasks_per_second`` seconds, oldest first.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from evidencehub.emulators.octane.config import EmulatorConfig, FaultConfig
from evidencehub.emulators.octane.ingestion import DEFAULT_RELEASE_NAME, Indexes, Processor
from evidencehub.emulators.octane.store import EntityStore, iso_now
from evidencehub.ops.logging import get_logger

log = get_logger(__name__)

TERMINAL = frozenset({"success", "warning", "failed"})
# Always present in snapshots (0 until something happens), so callers can rely on the keys.
COUNTER_NAMES = (
    "api_requests",
    "unauthorized",
    "sign_ins",
    "sign_in_failures",
    "sessions_expired_by_count",
    "posts_received",
    "posts_total",
    "posts_accepted",
    "posts_duplicate_payload",
    "posts_rejected_queue_full",
    "posts_rejected_invalid",
    "posts_rejected_other",
    "max_queued",
    "tasks_processed",
    "tasks_lost",
    "tasks_success",
    "tasks_warning",
    "tasks_failed",
    "fault_500",
    "fault_502",
    "fault_503",
    "fault_429",
    "fault_drop",
)


@dataclass
class Session:
    token: str
    user: str
    created: float
    requests: int = 0


@dataclass
class Task:
    id: int
    sha256: str
    root: etree._Element | None
    skip_errors: bool
    lost: bool
    status: str = "queued"
    created: float = field(default_factory=time.monotonic)
    finished: float | None = None
    until: str | None = None
    error_details: str | None = None
    result: str | None = None  # the final status, shown once the task's processing slot has passed
    runs: int = 0

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.until is not None:
            data["until"] = self.until
        if self.error_details is not None:
            data["errorDetails"] = self.error_details
        return data


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.store = EntityStore()
        self.indexes = Indexes()
        self.processor = Processor(self.store, self.indexes)
        self.sessions: dict[str, Session] = {}
        self.tasks: dict[int, Task] = {}
        self.queue: list[int] = []  # queued task ids, oldest first
        self.hashes: dict[str, int] = {}
        self.counters: Counter[str] = Counter()
        self.random = random.Random(config.faults.seed)  # noqa: S311 - fault injection, not security
        self._task_ids = iter(range(1001, 10**12))
        self._wake = threading.Condition(self.lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seed_workspace()

    # -- lifecycle

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._process_loop, name="octane-emulator-tasks", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def reset(self, config: EmulatorConfig | None = None) -> None:
        """Forget everything (entities, tasks, sessions, counters); keep running."""
        with self.lock:
            if config is not None:
                self.config = config
            self.store = EntityStore()
            self.indexes = Indexes()
            self.processor = Processor(self.store, self.indexes)
            self.sessions.clear()
            self.tasks.clear()
            self.queue.clear()
            self.hashes.clear()
            self.counters.clear()
            self._task_ids = iter(range(1001, 10**12))
            self.random = random.Random(self.config.faults.seed)  # noqa: S311
            self.seed_workspace()
            self._wake.notify_all()

    def seed_workspace(self) -> None:
        """What a new workspace has: the root application module and the default release."""
        with self.lock:
            self.store.insert(
                "product_areas",
                {"type": "product_area", "name": "Application Modules", "parent": None},
            )
            self.store.insert(
                "releases",
                {"type": "release", "name": DEFAULT_RELEASE_NAME, "is_default": True},
            )

    def set_faults(self, faults: FaultConfig) -> None:
        with self.lock:
            self.config = self.config.model_copy(update={"faults": faults})
            if faults.seed is not None:
                self.random = random.Random(faults.seed)  # noqa: S311

    def update_config(self, changes: dict[str, Any]) -> None:
        with self.lock:
            merged = {**self.config.model_dump(), **changes}
            self.config = EmulatorConfig.model_validate(merged)
            self._wake.notify_all()

    # -- sessions

    def sign_in(self, user: str, secret: str) -> Session | None:
        with self.lock:
            expected = self.config.api_keys.get(user)
            if expected is None or not secrets.compare_digest(expected, secret):
                self.counters["sign_in_failures"] += 1
                return None
            session = Session(secrets.token_urlsafe(24), user, time.monotonic())
            self.sessions[session.token] = session
            self.counters["sign_ins"] += 1
            return session

    def sign_out(self, token: str | None) -> None:
        with self.lock:
            if token:
                self.sessions.pop(token, None)

    def check_session(self, token: str | None) -> tuple[Session | None, str]:
        """The live session for a cookie value, or None with the reason."""
        with self.lock:
            if not token:
                return None, "no LWSSO_COOKIE_KEY cookie: sign in first"
            session = self.sessions.get(token)
            if session is None:
                return None, "the session is unknown or was signed out"
            if time.monotonic() - session.created > self.config.session_ttl_seconds:
                del self.sessions[token]
                return None, "the session expired (VALIDATION_TOKEN_EXPIRED_GLOBAL_TIME_OUT)"
            limit = self.config.session_expire_after_requests
            if limit is not None and session.requests >= limit:
                del self.sessions[token]
                self.counters["sessions_expired_by_count"] += 1
                return None, "the session expired (VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT)"
            session.requests += 1
            return session, ""

    # -- test-result tasks

    def queued_count(self) -> int:
        return len(self.queue)

    def find_duplicate(self, digest: str) -> Task | None:
        with self.lock:
            task_id = self.hashes.get(digest)
            return self.tasks.get(task_id) if task_id is not None else None

    def enqueue(self, digest: str, root: etree._Element, *, skip_errors: bool) -> Task:
        with self.lock:
            lost = self.random.random() < self.config.faults.lost_tasks
            task = Task(next(self._task_ids), digest, root, skip_errors, lost)
            self.tasks[task.id] = task
            self.hashes[digest] = task.id
            self.queue.append(task.id)
            self.counters["posts_accepted"] += 1
            self.counters["max_queued"] = max(self.counters["max_queued"], len(self.queue))
            self._wake.notify_all()
            return task

    def task(self, task_id: int) -> Task | None:
        with self.lock:
            task = self.tasks.get(task_id)
            retention = self.config.task_retention_seconds
            if (
                task is not None
                and retention is not None
                and task.finished is not None
                and time.monotonic() - task.finished > retention
            ):
                self._forget(task)
                return None
            return task

    def _forget(self, task: Task) -> None:
        self.tasks.pop(task.id, None)
        if self.hashes.get(task.sha256) == task.id:
            del self.hashes[task.sha256]

    def _process_loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                rate = self.config.tasks_per_second
                if not self.queue or rate <= 0:
                    self._wake.wait(0.05)
                    continue
                task = self.tasks.get(self.queue.pop(0))
                if task is None:
                    continue
                if task.lost:
                    # Vanishes: never processed, its id answers 404, its payload may be sent again.
                    self._forget(task)
                    self.counters["tasks_lost"] += 1
                    continue
                task.status = "running"
            began = time.monotonic()
            try:
                self._process(task)
            except Exception as exc:  # a bug here must fail one task, never stop all processing
                log.error("emulator failed to process a task", task=task.id, error=repr(exc))
                task.result = "failed"
                task.error_details = f"internal error: {exc!r}"
            remaining = 1.0 / rate - (time.monotonic() - began)
            if remaining > 0:
                self._stop.wait(remaining)
            with self.lock:
                task.status = task.result or "failed"
                task.until = iso_now()
                task.finished = time.monotonic()
                self.counters[f"tasks_{task.status}"] += 1

    def _process(self, task: Task) -> None:
        root = task.root
        task.root = None  # the tree is not needed after processing
        if root is None:
            task.result = "failed"
            return
        outcome = self.processor.apply(root, skip_errors=task.skip_errors, lock=self.lock)
        with self.lock:
            task.error_details = outcome.details
            task.runs = outcome.runs_created + outcome.runs_updated
            task.result = outcome.status
            self.counters["tasks_processed"] += 1

    # -- counters for tests and benchmarks

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            statuses = Counter(task.status for task in self.tasks.values())
            runs = self.store.kinds["runs"]
            return {
                **dict.fromkeys(COUNTER_NAMES, 0),
                **dict(self.counters),
                "queued": len(self.queue),
                "running": statuses.get("running", 0),
                "tasks": dict(statuses),
                "runs": len(runs),
                "run_writes": self.indexes.run_writes,
                "duplicate_runs": self.indexes.duplicate_runs,
                "tests": len(self.store.kinds["tests"]),
                "sessions": len(self.sessions),
            }


def payload_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()
