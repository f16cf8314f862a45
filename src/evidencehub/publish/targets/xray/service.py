"""Publishing to Xray: start or resume a job, and prepare a job's Test Execution.

Entry points for the CLI, the web API and the promotion workflow. A promotion
may also call the generic publisher directly: ``publish.service.create_job(…,
target="xray", params={...})`` then ``run_job`` — ``prepare_job`` below runs
inside ``run_job`` and creates the execution then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass
class _Runs:
    run_ids: list[int]
    project: str
    project_id: int | None
    build: str
    environments: list[str] = field(default_factory=list)


def _runs(database: Database, settings: Settings, request: PublishRequest) -> _Runs:
    if bool(request.run_ids) == bool(request.build):
        raise InputError(
            "publish either runs (--run) or a build (--build), not both and not neither",
            details={"parameter": "run|build"},
        )
    with database.session() as session:
        organization_id = results.organization_id_for(
            session, request.organization or settings.default_organization
        )
        if request.build:
            if not request.project:
                raise InputError(
                    "--build needs --project (build names are per project)", details={"parameter": "project"}
                )
            run_ids = results.runs_of_build(
                session, project=request.project, build=request.build, organization_id=organization_id
            )
        else:
            run_ids = sorted(set(request.run_ids))
        summaries = [
            results.run_summary(session, run_id, organization_id=organization_id) for run_id in run_ids
        ]
        project_ids = results.project_ids_of_runs(session, run_ids)
    projects = {summary.project for summary in summaries}
    builds = {summary.build for summary in summaries}
    if len(projects) > 1 or len(builds) > 1:
        raise InputError(
            "the runs of one Xray job must belong to one build of one project "
            f"(got projects {sorted(projects)}, builds {sorted(builds)})",
            details={"runs": run_ids},
        )
    # The runs' own environments are the execution's unless the caller names some (one word each).
    environments = sorted(
        {"-".join(summary.environment.split()) for summary in summaries if summary.environment}
    )
    return _Runs(run_ids, projects.pop(), project_ids[0] if project_ids else None, builds.pop(), environments)


def summary_for(settings: Settings, project: str | None, build: str | None) -> str:
    try:
        return settings.xray.summary.format(project=project or "", build=build or "").strip() or "evidencehub"
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(
            f"xray.summary may use only {{project}} and {{build}}: {exc}", details={"setting": "xray.summary"}
        ) from exc


def create_xray_job(database: Database, settings: Settings, request: PublishRequest) -> JobOut:
    """Store the job (nothing is sent yet; the execution is made when the job first runs)."""
    runs = _runs(database, settings, request)
    params: dict[str, Any] = {
        "project_key": request.project_key,
        "test_plan": request.test_plan,
        "environments": list(request.environments) or runs.environments,
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
    if request.job_id is not None:
        with database.session() as session:
            exists = session.get(PublishJob, request.job_id) is not None
        if exists:
            return publish.run_job(
                database, settings, request.job_id, should_continue=should_continue, progress=progress
            )
    job = create_xray_job(database, settings, request)
    if on_created is not None:
        on_created(job)
    return publish.run_job(database, settings, job.id, should_continue=should_continue, progress=progress)


def _job_context(database: Database, job: JobOut) -> tuple[str | None, str | None, list[str]]:
    """Project, build and the runs' environments of a job (a promotion's job may name neither)."""
    with database.session() as session:
        summaries = [results.run_summary(session, int(run_id)) for run_id in job.run_ids]
    project = job.project or next((summary.project for summary in summaries), None)
    build = job.build or next((summary.build for summary in summaries), None)
    environments = sorted(
        {"-".join(summary.environment.split()) for summary in summaries if summary.environment}
    )
    return project, build, environments


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
