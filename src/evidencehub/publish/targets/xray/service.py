"""Publishing to Xray: start or resume a job, and prepare a job's Test Execution.

Entry points for the CLI, the web API and the promotion workflow. A promotion
may also call the generic publisher directly: ``publish.service.create_job(…,
target="xray", params={...})`` then ``run_job`` — ``prepare_job`` below runs
inside ``run_job`` and creates the execution then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError
from evidencehub.publish import service as publish
from evidencehub.publish.engine import Progress
from evidencehub.publish.model import PublishJob
from evidencehub.publish.schemas import JobOut
from evidencehub.publish.targets.xray.client import XrayClient
from evidencehub.publish.targets.xray.target import create_execution, is_cloud, parse_params, project_key_of
from evidencehub.results import service as results
from evidencehub.results.schemas import RunSummary

TARGET = "xray"


@dataclass(frozen=True)
class PublishRequest:
    """What to publish: runs (``run_ids``) or a build's runs (``project`` + ``build``), and where to."""

    project_key: str
    run_ids: Sequence[int] = ()
    project: str | None = None  # evidencehub project (with ``build``)
    build: str | None = None
    test_plan: str | None = None
    environments: Sequence[str] = ()
    cloud: bool | None = None
    revision: str | None = None
    fix_version: str | None = None
    test_execution: str | None = None
    job_id: str | None = None
    organization: str | None = None


def _environments(summaries: Sequence[RunSummary]) -> list[str]:
    """The runs' environments, one word each (an execution's environments are words)."""
    return sorted({"-".join(summary.environment.split()) for summary in summaries if summary.environment})


def summary_for(settings: Settings, project: str | None, build: str | None) -> str:
    try:
        return settings.xray.summary.format(project=project or "", build=build or "").strip() or "evidencehub"
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(
            f"xray.summary may use only {{project}} and {{build}}: {exc}", details={"setting": "xray.summary"}
        ) from exc


def create_xray_job(database: Database, settings: Settings, request: PublishRequest) -> JobOut:
    """Store the job (nothing is sent yet; the execution is made when the job first runs)."""
    runs = publish.resolve_runs(database, settings, request, target_label="Xray")
    params: dict[str, Any] = {
        "project_key": request.project_key,
        "test_plan": request.test_plan,
        "environments": list(request.environments) or _environments(runs.summaries),
        "cloud": request.cloud,
        "revision": request.revision,
        "fix_version": request.fix_version,
        "test_execution": request.test_execution,
        "summary": summary_for(settings, runs.project, runs.build),
    }
    checked = parse_params(params)  # a bad key fails now, before the job exists
    return publish.create_job(
        database,
        target=TARGET,
        run_ids=runs.run_ids,
        params=checked.model_dump(),
        slice_size=settings.xray.max_tests_per_import,
        job_id=request.job_id,
        project=runs.project,
        project_id=runs.project_id,
        build=runs.build,
        release=request.fix_version,
    )


def publish_run_to_xray(
    database: Database,
    settings: Settings,
    request: PublishRequest,
    *,
    should_continue: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    on_created: Callable[[JobOut], None] | None = None,
) -> JobOut:
    """Publish runs to Xray, or resume the job ``request.job_id`` if it exists; returns the final job."""

    def create() -> JobOut:
        job = create_xray_job(database, settings, request)
        if on_created is not None:
            on_created(job)
        return job

    return publish.create_or_resume(
        database, settings, request.job_id, create, should_continue=should_continue, progress=progress
    )


def _job_context(database: Database, job: JobOut) -> tuple[str | None, str | None, list[str]]:
    """Project, build and the runs' environments of a job (a promotion's job may name neither)."""
    with database.session() as session:
        summaries = [results.run_summary(session, int(run_id)) for run_id in job.run_ids]
    project = job.project or next((summary.project for summary in summaries), None)
    build = job.build or next((summary.build for summary in summaries), None)
    return project, build, _environments(summaries)


def prepare_job(
    database: Database, settings: Settings, job: JobOut, params: dict[str, Any]
) -> dict[str, Any]:
    """Before a run: fill in the project key, environments and summary, and create the Test Execution.

    Everything is stored in the job before the first slice, so a resume imports
    into the same execution. Should the process die between Xray creating the
    execution and the key being stored, the resume creates another, empty one
    and imports every slice there: results are never split nor duplicated.
    """
    checked = parse_params(params)
    if checked.test_execution and checked.project_key:
        return {}
    project, build, environments = _job_context(database, job)
    updates: dict[str, Any] = {"project_key": project_key_of(settings.xray, checked, project)}
    if not checked.environments and environments:
        updates["environments"] = environments
    if not checked.summary:
        updates["summary"] = summary_for(settings, project, build)
    if not checked.test_execution:
        prepared = checked.model_copy(update=updates)
        with XrayClient(settings.xray, cloud=is_cloud(settings.xray, checked)) as client:
            updates["test_execution"] = create_execution(
                client, settings.xray, prepared, prepared.summary or ""
            )
    return updates


def execution_key(database: Database, job_id: str) -> str | None:
    """The Test Execution a job imports into (None before its first run)."""
    with database.session() as session:
        job = session.get(PublishJob, job_id)
        value = job.params.get("test_execution") if job is not None else None
    return str(value) if value else None
