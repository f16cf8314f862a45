"""What a publishing target must provide for the engine to drive it.

A target turns a slice of results into a payload, submits it, and reports the
state of what it submitted. Synchronous targets (an archive) answer ``submit``
with a finished state and never need polling; asynchronous ones (Octane) answer
with a queued task and are polled. Targets report two conditions in the
engine's words: :class:`UnknownRemoteTaskError` (the remote forgot the task: send
again) and :class:`evidencehub.net.retry.QueueFullError` (back off).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evidencehub.errors import NotFoundError
from evidencehub.net.retry import RetryNotice, RetryPolicy
from evidencehub.publish.schemas import TaskStatus
from evidencehub.results.schemas import ResultExport


class UnknownRemoteTaskError(NotFoundError):
    """The target has no record of a task it accepted: the slice must be sent again."""


@dataclass(frozen=True)
class SliceSpec:
    slice_no: int
    first_result_id: int
    last_result_id: int
    test_count: int
    generation: int = 0  # >0: re-sent after a loss, so it must not be de-duplicated into the lost task


@dataclass(frozen=True)
class Payload:
    content: bytes
    content_type: str
    tests: int
    warnings: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class RemoteTask:
    id: str
    status: TaskStatus  # queued, running, success, warning or failed
    detail: str | None = None


class PublishTarget(Protocol):
    """A target bound to one job's parameters."""

    name: str
    workers: int
    slice_size: int
    # Tasks of ours the target may hold queued at once; None when it has no queue.
    queue_limit: int | None
    # The remote queue's identity, shared by every job publishing into it (see publish.budget).
    queue_key: str | None
    poll_interval: float
    deadline_seconds: float  # a job gives up this long after it (re)starts
    retry_policy: RetryPolicy

    def render(self, results: Sequence[ResultExport], spec: SliceSpec) -> Payload:
        """The payload for a slice; raises InputError when it would be refused (it is never sent)."""
        ...

    def submit(
        self, payload: Payload, *, policy: RetryPolicy, on_retry: Callable[[RetryNotice], None]
    ) -> RemoteTask:
        """Send a payload, retrying per ``policy``; the same bytes sent twice must not duplicate anything."""
        ...

    def poll(self, task_id: str, *, policy: RetryPolicy) -> RemoteTask:
        """The task's state now; raises UnknownRemoteTaskError when the target forgot it."""
        ...

    def close(self) -> None: ...
