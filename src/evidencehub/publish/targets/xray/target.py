"""The Xray target for the publisher engine: Xray JSON imports into one Test Execution per job.

Imports are synchronous: ``submit`` answers with a finished task whose id is
the Test Execution's key, so nothing is polled and there is no remote queue.
Every slice is imported into the job's Test Execution (``test_execution``,
created by ``prepare_job`` before the first slice). Xray keeps one test run per
test in an execution, so a slice sent again after a crash overwrites the runs
it wrote the first time instead of adding new ones: never duplicated.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from evidencehub.config import Settings, XraySettings
from evidencehub.db.session import Database, get_database
from evidencehub.errors import ConfigError, InputError
from evidencehub.net.retry import RetryNotice, RetryPolicy
from evidencehub.publish.schemas import TaskStatus
from evidencehub.publish.target import Payload, RemoteTask, SliceSpec
from evidencehub.publish.targets.xray.client import XrayClient, retry_policy
from evidencehub.publish.targets.xray.converter import ConvertOptions, convert, execution_info
from evidencehub.publish.targets.xray.params import XrayParams
from evidencehub.results.schemas import ResultExport
from evidencehub.results.service import export_extras


def is_cloud(settings: XraySettings, params: XrayParams) -> bool:
    return params.cloud if params.cloud is not None else settings.flavour == "cloud"


def parse_params(params: dict[str, Any]) -> XrayParams:
    try:
        return XrayParams.model_validate(params)
    except ValueError as exc:
        raise InputError(f"invalid Xray job parameters: {exc}", details={"target": "xray"}) from exc


def project_key_of(settings: XraySettings, params: XrayParams, project: str | None) -> str:
    """The Jira project key: the job's, else ``xray.project_keys[project]``, else ``xray.project_key``."""
    key = params.project_key or settings.project_keys.get(project or "") or settings.project_key
    if not key:
        raise ConfigError(
            f"no Jira project key for the Xray job of project '{project or '?'}': pass project_key, or set "
            f"xray.project_keys.{project or 'PROJECT'} or xray.project_key",
            details={"setting": "xray.project_key"},
        )
    return key


def create_execution(client: XrayClient, settings: XraySettings, params: XrayParams, summary: str) -> str:
    """A new, empty Test Execution with the job's info; returns its key."""
    info = execution_info(
        project_key=project_key_of(settings, params, None),
        summary=params.summary or summary,
        description=params.description,
        test_plan=params.test_plan,
        environments=[*settings.environments, *params.environments],
        revision=params.revision,
        fix_version=params.fix_version,
        user=params.user,
        cloud=client.cloud,
    )
    answer = client.import_execution(json.dumps({"info": info, "tests": []}).encode())
    return answer.key


class XrayTarget:
    name = "xray"

    def __init__(
        self,
        settings: XraySettings,
        params: XrayParams,
        database: Database,
        client: XrayClient | None = None,
    ) -> None:
        self.settings = settings
        self.params = params
        self.database = database
        self.cloud = is_cloud(settings, params)
        self.client = client or XrayClient(settings, cloud=self.cloud)
        self.workers = settings.workers
        self.slice_size = settings.max_tests_per_import
        self.queue_limit: int | None = None  # imports finish within the request
        self.queue_key: str | None = None
        self.poll_interval = 1.0
        self.deadline_seconds = settings.job_deadline_seconds
        self.retry_policy = retry_policy(settings)
        self._execution = params.test_execution
        self._execution_lock = threading.Lock()

    def _execution_key(self) -> str:
        """The job's execution; made here only when the job was run without ``prepare_job``."""
        with self._execution_lock:
            if self._execution is None:
                summary = f"{project_key_of(self.settings, self.params, None)} results"
                self._execution = create_execution(self.client, self.settings, self.params, summary)
            return self._execution

    def render(self, results: Sequence[ResultExport], spec: SliceSpec) -> Payload:
        with self.database.session() as session:
            extras = export_extras(session, [result.id for result in results])
        conversion = convert(
            results,
            extras,
            ConvertOptions(
                project_key=project_key_of(self.settings, self.params, None),
                cloud=self.cloud,
                test_execution=self._execution_key(),
                attach_evidence=self.settings.attach_evidence,
                max_evidence_bytes=self.settings.max_evidence_kb * 1024,
                max_request_bytes=self.settings.max_request_kb * 1024,
            ),
        )
        return Payload(
            content=conversion.content,
            content_type="application/json",
            tests=conversion.tests,
            warnings=conversion.warnings,
        )

    def submit(
        self, payload: Payload, *, policy: RetryPolicy, on_retry: Callable[[RetryNotice], None]
    ) -> RemoteTask:
        answer = self.client.import_execution(payload.content, policy=policy, on_retry=on_retry)
        if answer.errors:
            return RemoteTask(
                answer.key, TaskStatus.WARNING, f"{len(answer.errors)} test(s) refused: {answer.errors[0]}"
            )
        return RemoteTask(answer.key, TaskStatus.SUCCESS, f"{payload.tests} tests imported into {answer.key}")

    def poll(self, task_id: str, *, policy: RetryPolicy) -> RemoteTask:
        return RemoteTask(task_id, TaskStatus.SUCCESS)  # an import is finished when its request is

    def close(self) -> None:
        self.client.close()


def create_target(settings: Settings, params: dict[str, Any]) -> XrayTarget:
    """The registry's factory: a target bound to a job's parameters (see the package docstring)."""
    return XrayTarget(settings.xray, parse_params(params), get_database(settings))
