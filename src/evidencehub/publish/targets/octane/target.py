"""The Octane target for the publisher engine: XML payloads, asynchronous test-results tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from evidencehub.config import OctaneSettings, Settings
from evidencehub.net.retry import RetryNotice, RetryPolicy
from evidencehub.ops.logging import get_logger
from evidencehub.publish.schemas import TaskStatus
from evidencehub.publish.target import Payload, RemoteTask, SliceSpec
from evidencehub.publish.targets.octane.client import OctaneClient, TaskInfo, retry_policy
from evidencehub.publish.targets.octane.converter import OctanePayloadParams, convert
from evidencehub.results.schemas import ResultExport

log = get_logger(__name__)

_STATUSES = {
    "queued": TaskStatus.QUEUED,
    "running": TaskStatus.RUNNING,
    "success": TaskStatus.SUCCESS,
    "warning": TaskStatus.WARNING,
    "failed": TaskStatus.FAILED,
    "error": TaskStatus.FAILED,
}


def remote_task(info: TaskInfo) -> RemoteTask:
    status = _STATUSES.get(info.status)
    if status is None:
        return RemoteTask(
            info.id, TaskStatus.FAILED, f"Octane reported an unknown task status '{info.status}'"
        )
    return RemoteTask(info.id, status, info.error_details)


def with_generation(payload: bytes, spec: SliceSpec) -> bytes:
    """A re-send after a loss: a comment makes the bytes (and hash) new, the content the same."""
    if spec.generation == 0:
        return payload
    declaration, newline, rest = payload.partition(b"\n")
    note = f"<!-- evidencehub: slice {spec.slice_no} sent again (generation {spec.generation}) -->".encode()
    return declaration + newline + note + b"\n" + rest


class OctaneTarget:
    name = "octane"

    def __init__(
        self, settings: OctaneSettings, params: OctanePayloadParams, client: OctaneClient | None = None
    ) -> None:
        self.settings = settings
        self.params = params
        self.client = client or OctaneClient(settings)
        self.workers = settings.workers
        self.slice_size = settings.max_runs_per_call
        self.queue_limit: int | None = settings.queue_limit
        # Octane's queue is per workspace: jobs into the same one share the limit.
        self.queue_key: str | None = f"octane {settings.base_url} {settings.space_id}/{settings.workspace_id}"
        self.poll_interval = settings.poll_interval_seconds
        self.deadline_seconds = settings.job_deadline_seconds
        self.retry_policy = retry_policy(settings)

    def render(self, results: Sequence[ResultExport], spec: SliceSpec) -> Payload:
        conversion = convert(results, self.params)
        return Payload(
            content=with_generation(conversion.payload, spec),
            content_type="application/xml",
            tests=conversion.tests,
            warnings=conversion.warnings,
        )

    def submit(
        self, payload: Payload, *, policy: RetryPolicy, on_retry: Callable[[RetryNotice], None]
    ) -> RemoteTask:
        return remote_task(self.client.post_test_results(payload.content, policy=policy, on_retry=on_retry))

    def poll(self, task_id: str, *, policy: RetryPolicy) -> RemoteTask:
        return remote_task(self.client.task_status(task_id, policy=policy))

    def close(self) -> None:
        self.client.close()


def create_target(settings: Settings, params: dict[str, Any]) -> OctaneTarget:
    """The registry's factory: a target bound to a job's frozen payload parameters."""
    return OctaneTarget(settings.octane, OctanePayloadParams.model_validate(params))
