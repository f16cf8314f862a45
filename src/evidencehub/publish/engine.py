"""The publisher engine: slices sent by a worker pool, within an in-flight budget, tracked and resumable.

The engine knows nothing of Octane: it drives any :class:`PublishTarget`.

* **Workers** (``target.workers``) convert and send slices in parallel; the
  dispatcher thread alone polls, decides and records.
* **In-flight budget**: slices being sent plus slices the target holds queued
  or running never exceed ``target.queue_limit``. The count is kept current by
  polling task states, oldest first (a FIFO queue finishes its oldest task
  first, so a cycle stops at the first still-queued task; every 20th cycle
  checks all). Queue-full refusals therefore only happen when someone else
  fills the target's queue, and are then retried by the retry policy.
* **Never lost, never duplicated**: every state change is committed before the
  next step. A slice is marked ``sending`` just before its payload goes out; if
  the process dies then, the resume sends the same bytes again and the target's
  payload de-duplication answers with the original task. A slice whose task
  the target forgot (``lost``) is sent again as a new generation, whose bytes
  differ so that it is not de-duplicated into the lost task. Succeeded slices
  are never sent again.
* A job stops early when asked to (``should_continue`` returns False: state
  ``cancelled``), at its deadline, or on an error that every slice would hit
  (authentication, permissions, configuration, a missing workspace). Slices it
  could not finish stay ``pending``/``queued``, and ``resume`` picks them up.
  With ``drain_on_cancel`` a cancelled job sends nothing new but keeps polling
  the slices the target already holds until they finish (or the deadline), so
  that what the target ends up with is known when the job ends.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.errors import (
    AuthenticationError,
    ConfigError,
    EvidenceHubError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)
from evidencehub.net.retry import CancelledError, RetryableError, RetryNotice, RetryPolicy
from evidencehub.ops.logging import get_logger
from evidencehub.publish.budget import shared_queue
from evidencehub.publish.model import UploadTask
from evidencehub.publish.schemas import FINISHED, IN_FLIGHT, JobState, TaskStatus
from evidencehub.publish.target import PublishTarget, RemoteTask, SliceSpec, UnknownRemoteTaskError
from evidencehub.publish.tracking import JobTracker
from evidencehub.results.service import export_results

log = get_logger(__name__)

# Errors every further slice would hit too: the job stops instead of failing slice after slice.
JOB_FATAL = (AuthenticationError, PermissionDeniedError, ConfigError, UnavailableError, NotFoundError)
FULL_POLL_EVERY = 20
MAX_POLLS_PER_CYCLE = 10
HEARTBEAT_SECONDS = 2.0


class SliceDataChangedError(InputError):
    """The stored results of a slice are not those it was planned with."""


@dataclass
class _Slice:
    slice_no: int
    first_result_id: int
    last_result_id: int
    test_count: int
    generation: int
    status: TaskStatus
    remote_task_id: str | None
    payload_sha256: str | None

    def spec(self) -> SliceSpec:
        return SliceSpec(
            slice_no=self.slice_no,
            first_result_id=self.first_result_id,
            last_result_id=self.last_result_id,
            test_count=self.test_count,
            generation=self.generation,
        )


@dataclass(frozen=True)
class EngineOutcome:
    state: JobState
    error: str | None
    counts: dict[str, int]


Progress = Callable[[dict[str, int]], None]
_Polled = tuple[int, "RemoteTask | BaseException"]


class PublishEngine:
    def __init__(
        self,
        database: Database,
        target: PublishTarget,
        tracker: JobTracker,
        *,
        job_id: str,
        run_ids: Sequence[int],
        deadline: float,
        should_continue: Callable[[], bool] | None = None,
        progress: Progress | None = None,
        drain_on_cancel: bool = False,
    ) -> None:
        self.database = database
        self.target = target
        self.tracker = tracker
        self.job_id = job_id
        self.run_ids = list(run_ids)
        self.deadline = deadline
        self.should_continue = should_continue or (lambda: True)
        self.progress = progress
        self.drain_on_cancel = drain_on_cancel
        self.cancel = threading.Event()
        self.send_policy = replace(target.retry_policy, deadline=deadline, cancel=self.cancel)
        self.poll_policy = RetryPolicy(
            max_attempts=2,
            backoff_initial=min(1.0, target.poll_interval),
            backoff_max=target.poll_interval,
            queue_full_wait=target.poll_interval,
            deadline=deadline,
            cancel=self.cancel,
        )
        # Polls while draining after a cancel: not stopped by the cancel event, only by the deadline.
        self.drain_poll_policy = replace(self.poll_policy, cancel=None)
        self._draining = False
        self._statuses: dict[int, TaskStatus] = {}
        self._fatal: BaseException | None = None
        self._deadline_reached = False  # a retry stopped because the deadline would pass
        self._last_heartbeat = 0.0

    # -- loading

    def _load(self) -> list[_Slice]:
        with self.database.session() as session:
            rows = session.scalars(
                select(UploadTask)
                .where(UploadTask.job_id == self.job_id)
                .order_by(UploadTask.sent_at.is_(None), UploadTask.sent_at, UploadTask.slice_no)
            ).all()
            slices = [
                _Slice(
                    slice_no=row.slice_no,
                    first_result_id=row.first_result_id,
                    last_result_id=row.last_result_id,
                    test_count=row.test_count,
                    generation=row.generation,
                    status=TaskStatus(row.status),
                    remote_task_id=row.remote_task_id,
                    payload_sha256=row.payload_sha256,
                )
                for row in rows
            ]
        self._statuses = {item.slice_no: item.status for item in slices}
        return slices

    # -- the loop

    def run(self) -> EngineOutcome:
        slices = self._load()
        todo: deque[_Slice] = deque(
            sorted(
                (
                    item
                    for item in slices
                    if item.status in (TaskStatus.PENDING, TaskStatus.SENDING, TaskStatus.LOST)
                ),
                key=lambda item: item.slice_no,
            )
        )
        in_flight: dict[int, _Slice] = {
            item.slice_no: item for item in slices if item.status in IN_FLIGHT and item.remote_task_id
        }
        for item in slices:  # in flight without a task id cannot be tracked: send it again
            if item.status in IN_FLIGHT and not item.remote_task_id:
                todo.appendleft(item)
        sending: dict[Future[RemoteTask], _Slice] = {}
        polling: Future[list[_Polled]] | None = None
        limit = self.target.queue_limit
        stop_reason: str | None = None
        next_poll = time.monotonic()
        cycle = 0
        # Polls run on their own thread so that a slow answer never holds back the next send.
        with (
            ThreadPoolExecutor(self.target.workers, thread_name_prefix=f"publish-{self.target.name}") as pool,
            ThreadPoolExecutor(1, thread_name_prefix=f"poll-{self.target.name}") as poller,
            shared_queue(self.target.queue_key, lambda: len(in_flight) + len(sending)) as other_jobs,
        ):
            while True:
                stop_reason = stop_reason or self._stop_reason()
                self._draining = (
                    stop_reason == "cancelled"
                    and self.drain_on_cancel
                    and self._fatal is None
                    and bool(in_flight)
                    and time.monotonic() <= self.deadline
                )
                if stop_reason is None:
                    while (
                        todo
                        and len(sending) < self.target.workers
                        and (limit is None or len(in_flight) + len(sending) + other_jobs() < limit)
                    ):
                        item = todo.popleft()
                        sending[pool.submit(self._send, item)] = item
                if (
                    (stop_reason is None or self._draining)
                    and polling is None
                    and in_flight
                    and time.monotonic() >= next_poll
                ):
                    full = cycle % FULL_POLL_EVERY == FULL_POLL_EVERY - 1
                    snapshot = [(item.slice_no, item.remote_task_id or "") for item in in_flight.values()]
                    polling = poller.submit(self._poll_remote, snapshot, full)
                    cycle += 1
                if (
                    not sending
                    and polling is None
                    and not self._draining
                    and (stop_reason is not None or (not todo and not in_flight))
                ):
                    break
                waiting: list[Future[Any]] = [*sending, *([polling] if polling is not None else [])]
                # Wake for the next poll, else when something finishes (at least twice a second).
                timeout = max(0.0, next_poll - time.monotonic()) if in_flight and polling is None else 0.5
                done, _pending = (
                    wait(waiting, timeout=timeout, return_when=FIRST_COMPLETED) if waiting else ((), ())
                )
                if not waiting:
                    # While draining the cancel event is already set: sleep until the next poll instead.
                    time.sleep(timeout) if self._draining else self.cancel.wait(timeout)
                for future in done:
                    if future is polling:
                        self._apply_polls(polling.result(), in_flight, todo)
                        polling = None
                        next_poll = time.monotonic() + self.target.poll_interval
                    else:
                        self._after_send(sending.pop(future), future, in_flight)
                self._heartbeat()
        return self._outcome(stop_reason)

    def _stop_reason(self) -> str | None:
        if self._fatal is not None:
            self.cancel.set()
            return "fatal"
        if not self.should_continue():
            self.cancel.set()
            return "cancelled"
        if self._deadline_reached or time.monotonic() > self.deadline:
            self.cancel.set()
            return "deadline"
        return None

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            self.tracker.job("heartbeat", heartbeat_at=utcnow())
        if self.progress is not None:
            self.progress(dict(Counter(status.value for status in self._statuses.values())))

    def _set(self, item: _Slice, status: TaskStatus, **changes: object) -> None:
        self.tracker.status(item.slice_no, status, **changes)  # type: ignore[arg-type]
        item.status = status
        self._statuses[item.slice_no] = status

    # -- sending (worker threads)

    def _send(self, item: _Slice) -> RemoteTask:
        with self.database.session() as session:
            results = export_results(
                session, self.run_ids, first_id=item.first_result_id, last_id=item.last_result_id
            )
        if len(results) != item.test_count:
            raise SliceDataChangedError(
                f"slice {item.slice_no} was planned with {item.test_count} results (ids "
                f"{item.first_result_id}..{item.last_result_id}) but {len(results)} are stored now",
                details={"slice": item.slice_no},
            )
        payload = self.target.render(results, item.spec())
        for warning in payload.warnings:
            self.tracker.warning(item.slice_no, warning)
        if (
            item.status is TaskStatus.SENDING
            and item.payload_sha256
            and item.payload_sha256 != payload.sha256
        ):
            self.tracker.warning(
                item.slice_no,
                "the payload differs from the one whose sending was interrupted (settings or code changed); "
                "the target cannot de-duplicate it",
            )
        self._set(
            item,
            TaskStatus.SENDING,
            new_attempt=True,
            payload_sha256=payload.sha256,
            payload_bytes=len(payload.content),
            detail=f"{payload.tests} tests, {len(payload.content)} bytes, generation {item.generation}",
        )
        item.payload_sha256 = payload.sha256

        def on_retry(notice: RetryNotice) -> None:
            self.tracker.retry(item.slice_no, notice)

        return self.target.submit(payload, policy=self.send_policy, on_retry=on_retry)

    def _after_send(self, item: _Slice, future: Future[RemoteTask], in_flight: dict[int, _Slice]) -> None:
        try:
            remote = future.result()
        except CancelledError:
            self._set(item, TaskStatus.PENDING, error="stopped before the slice was accepted")
            return
        except RetryableError as exc:
            self._set(item, TaskStatus.PENDING, error=str(exc))
            self._deadline_reached = self._deadline_reached or exc.gave_up == "deadline"
            return
        except JOB_FATAL as exc:
            self._set(item, TaskStatus.PENDING, error=str(exc))
            self._fatal = self._fatal or exc
            return
        except EvidenceHubError as exc:
            self._set(item, TaskStatus.FAILED, error=str(exc))
            return
        except Exception as exc:
            # Not log.exception: a traceback with local variables could carry payloads or secrets.
            log.error(
                "unexpected error while sending a slice",
                job=self.job_id,
                slice=item.slice_no,
                error=repr(exc),
            )
            self._set(item, TaskStatus.PENDING, error=f"unexpected error: {exc!r}")
            self._fatal = self._fatal or exc
            return
        self._record(item, remote, in_flight)

    def _record(self, item: _Slice, remote: RemoteTask, in_flight: dict[int, _Slice]) -> None:
        item.remote_task_id = remote.id
        error = remote.detail if remote.status is TaskStatus.FAILED else None
        detail = remote.detail if remote.status is not TaskStatus.FAILED else None
        self._set(item, remote.status, remote_task_id=remote.id, error=error, detail=detail)
        if remote.status in IN_FLIGHT:
            in_flight[item.slice_no] = item
        else:
            in_flight.pop(item.slice_no, None)

    # -- polling (dispatcher thread)

    def _poll_remote(self, snapshot: list[tuple[int, str]], full: bool) -> list[_Polled]:
        """Task states, oldest first (poller thread): stops at the first still-queued task unless ``full``."""
        polled: list[_Polled] = []
        for slice_no, task_id in snapshot:
            if not full and len(polled) >= MAX_POLLS_PER_CYCLE:
                break
            try:
                policy = self.drain_poll_policy if self._draining else self.poll_policy
                remote: RemoteTask | BaseException = self.target.poll(task_id, policy=policy)
            except (EvidenceHubError, CancelledError) as exc:
                remote = exc
            polled.append((slice_no, remote))
            if isinstance(remote, RetryableError | CancelledError) or (
                isinstance(remote, EvidenceHubError) and not isinstance(remote, UnknownRemoteTaskError)
            ):
                break  # the target is struggling or refusing: try again next cycle
            if isinstance(remote, RemoteTask) and remote.status is TaskStatus.QUEUED and not full:
                break  # the target works oldest first: everything after this is queued too
        return polled

    def _apply_polls(self, polled: list[_Polled], in_flight: dict[int, _Slice], todo: deque[_Slice]) -> None:
        """Record what a poll cycle found (dispatcher thread)."""
        for slice_no, remote in polled:
            item = in_flight.get(slice_no)
            if item is None:
                continue
            if isinstance(remote, UnknownRemoteTaskError):
                del in_flight[slice_no]
                item.generation += 1
                self._set(
                    item,
                    TaskStatus.LOST,
                    error=f"{remote}; the slice is sent again (generation {item.generation})",
                    generation=item.generation,
                )
                todo.appendleft(item)
            elif isinstance(remote, JOB_FATAL):
                self._fatal = self._fatal or remote
            elif isinstance(remote, BaseException):
                log.info("polling paused", job=self.job_id, slice=slice_no, error=str(remote))
            elif remote.status is not item.status:
                self._record(item, remote, in_flight)

    # -- the end

    def _outcome(self, stop_reason: str | None) -> EngineOutcome:
        counts = Counter(status.value for status in self._statuses.values())
        total = len(self._statuses)
        failed = counts.get(TaskStatus.FAILED.value, 0)
        unfinished = total - sum(counts.get(status.value, 0) for status in FINISHED)
        if stop_reason == "fatal":
            return EngineOutcome(JobState.FAILED, str(self._fatal), dict(counts))
        if stop_reason == "cancelled":
            return EngineOutcome(
                JobState.CANCELLED, f"cancelled with {unfinished} of {total} slices unfinished", dict(counts)
            )
        if stop_reason == "deadline":
            return EngineOutcome(
                JobState.FAILED,
                f"the deadline passed with {unfinished} of {total} slices unfinished; resume to continue",
                dict(counts),
            )
        if failed:
            return EngineOutcome(JobState.FAILED, f"{failed} of {total} slices failed", dict(counts))
        if unfinished:
            return EngineOutcome(
                JobState.FAILED,
                f"{unfinished} of {total} slices could not be sent after retries; resume the job to retry",
                dict(counts),
            )
        return EngineOutcome(JobState.SUCCEEDED, None, dict(counts))
