"""Publishing jobs: create, run (and resume), and report — for any target.

``create_job`` plans the slices and stores the job; ``run_job`` drives the
engine until every slice is finished, the job is cancelled, or it fails, and is
also how a job is resumed after a crash (by its id). A job is run by one
process at a time: a second runner is refused while the first is alive.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.errors import ConflictError, EvidenceHubError, InputError, NotFoundError
from evidencehub.ops.logging import get_logger
from evidencehub.publish.engine import Progress, PublishEngine
from evidencehub.publish.joblog import JobLog, log_path
from evidencehub.publish.model import PublishJob, UploadTask, UploadTaskEvent
from evidencehub.publish.registry import after_job_hook, build_target, prepare_job_hook
from evidencehub.publish.schemas import DONE_OK, EventOut, JobDetail, JobOut, JobState, SliceOut, TaskStatus
from evidencehub.publish.slicing import plan_slices
from evidencehub.publish.target import PublishTarget
from evidencehub.publish.tracking import JobTracker
from evidencehub.results import service as results
from evidencehub.results.schemas import RunSummary
from evidencehub.tasks.runners import runner_alive, runner_name

log = get_logger(__name__)

STALE_HEARTBEAT = dt.timedelta(seconds=60)
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def new_job_id(target: str, project: str | None, build: str | None) -> str:
    """A readable, unique id: ``octane-prism-1042-20261122T101500-3fa2``."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    parts = [target, project or "runs", build or "", stamp, secrets.token_hex(2)]
    return "-".join(_UNSAFE.sub("_", part)[:40] for part in parts if part)


def create_job(
    database: Database,
    *,
    target: str,
    run_ids: Sequence[int],
    params: dict[str, Any],
    slice_size: int,
    job_id: str | None = None,
    project: str | None = None,
    project_id: int | None = None,
    build: str | None = None,
    release: str | None = None,
    backlog: str | None = None,
) -> JobOut:
    """Store a job and its slices (all pending); nothing is sent yet."""
    job_id = job_id or new_job_id(target, project, build)
    if not _JOB_ID.match(job_id):
        raise InputError(
            f"job id {job_id!r} may hold only letters, digits, '.', '_' and '-' (at most 120)",
            details={"parameter": "job_id"},
        )
    with database.session() as session:
        if session.get(PublishJob, job_id) is not None:
            raise ConflictError(
                f"publish job {job_id} already exists; resume it instead", details={"job": job_id}
            )
        ids = results.result_ids(session, run_ids)
        if not ids:
            raise InputError(
                f"run(s) {', '.join(map(str, run_ids))} hold no results: nothing to publish",
                details={"runs": list(run_ids)},
            )
        slices = plan_slices(ids, slice_size)
        job = PublishJob(
            id=job_id,
            target=target,
            project_id=project_id,
            project=project,
            build=build,
            release=release,
            backlog=backlog,
            run_ids=list(run_ids),
            params=params,
            state=JobState.PENDING.value,
            slice_size=slice_size,
            slices_total=len(slices),
            tests_total=len(ids),
        )
        session.add(job)
        session.flush()
        session.add_all(
            UploadTask(
                job_id=job_id,
                target=target,
                slice_no=spec.slice_no,
                first_result_id=spec.first_result_id,
                last_result_id=spec.last_result_id,
                test_count=spec.test_count,
            )
            for spec in slices
        )
        session.add(
            UploadTaskEvent(job_id=job_id, kind="job", status=JobState.PENDING.value, detail="created")
        )
        out = JobOut.model_validate(job)
    return out


@dataclass
class JobRuns:
    """The runs a job publishes: all of one build of one project."""

    run_ids: list[int]
    project: str
    project_id: int | None
    build: str
    summaries: list[RunSummary]


class RunsRequest(Protocol):
    """What a target's publish request says about its runs."""

    @property
    def run_ids(self) -> Sequence[int]: ...

    @property
    def project(self) -> str | None: ...

    @property
    def build(self) -> str | None: ...

    @property
    def organization(self) -> str | None: ...


def resolve_runs(
    database: Database, settings: Settings, request: RunsRequest, *, target_label: str
) -> JobRuns:
    """The runs a request names, either by id or as a build's runs; one build of one project."""
    run_ids, project, build, organization = (
        request.run_ids,
        request.project,
        request.build,
        request.organization,
    )
    if bool(run_ids) == bool(build):
        raise InputError(
            "publish either runs (--run) or a build (--build), not both and not neither",
            details={"parameter": "run|build"},
        )
    with database.session() as session:
        organization_id = results.organization_id_for(session, organization or settings.default_organization)
        if build:
            if not project:
                raise InputError(
                    "--build needs --project (build names are per project)", details={"parameter": "project"}
                )
            ids = results.runs_of_build(
                session, project=project, build=build, organization_id=organization_id
            )
        else:
            ids = sorted(set(run_ids))
        summaries = [results.run_summary(session, run_id, organization_id=organization_id) for run_id in ids]
        project_ids = results.project_ids_of_runs(session, ids)
    projects = {summary.project for summary in summaries}
    builds = {summary.build for summary in summaries}
    if len(projects) > 1 or len(builds) > 1:
        raise InputError(
            f"the runs of one {target_label} job must belong to one build of one project "
            f"(got projects {sorted(projects)}, builds {sorted(builds)})",
            details={"runs": ids},
        )
    return JobRuns(ids, projects.pop(), project_ids[0] if project_ids else None, builds.pop(), summaries)


def job_exists(database: Database, job_id: str) -> bool:
    with database.session() as session:
        return session.get(PublishJob, job_id) is not None


def create_or_resume(
    database: Database,
    settings: Settings,
    job_id: str | None,
    create: Callable[[], JobOut],
    *,
    should_continue: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> JobOut:
    """Resume the job ``job_id`` if it exists, else ``create()`` one; run it and return its final state."""
    if job_id is None or not job_exists(database, job_id):
        job_id = create().id
    return run_job(database, settings, job_id, should_continue=should_continue, progress=progress)


def _runner_alive(job: PublishJob) -> bool:
    """Whether the process recorded as running the job still is (heartbeat on other hosts)."""
    if job.state != JobState.RUNNING.value:
        return False
    return runner_alive(job.runner, job.heartbeat_at, STALE_HEARTBEAT)


def _claim(database: Database, job_id: str, deadline_seconds: float) -> PublishJob:
    with database.session() as session:
        job = session.get(PublishJob, job_id, with_for_update=True)
        if job is None:
            raise NotFoundError(f"publish job {job_id} does not exist", details={"job": job_id})
        if _runner_alive(job):
            raise ConflictError(
                f"publish job {job_id} is being run by {job.runner} (last heartbeat {job.heartbeat_at}); "
                "wait for it or stop that process first",
                details={"job": job_id, "runner": job.runner},
            )
        now = utcnow()
        job.state = JobState.RUNNING.value
        job.runner = runner_name()
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.finished_at = None
        job.error = None
        job.deadline_at = now + dt.timedelta(seconds=deadline_seconds)
        job.updated_at = now
        session.flush()
        session.expunge(job)
    return job


def run_job(
    database: Database,
    settings: Settings,
    job_id: str,
    *,
    should_continue: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    target: PublishTarget | None = None,
    drain_on_cancel: bool = False,
) -> JobOut:
    """Run (or resume) a job until it finishes, is cancelled, or fails; returns its final state.

    ``drain_on_cancel``: once ``should_continue`` says stop, send nothing new but
    wait for the slices the target holds to finish (a promotion's cancel does,
    so that it can then delink what those slices linked).
    """
    with database.session() as session:
        existing = session.get(PublishJob, job_id)
        if existing is None:
            raise NotFoundError(f"publish job {job_id} does not exist", details={"job": job_id})
        if existing.state == JobState.SUCCEEDED.value:
            return JobOut.model_validate(existing)
        target_name, params = existing.target, dict(existing.params)
        before = JobOut.model_validate(existing)
    params = _prepare(database, settings, before, params)
    target = target or build_target(target_name, settings, params)
    try:
        job = _claim(database, job_id, target.deadline_seconds)
        joblog = JobLog(log_path(settings.data_dir, target_name, job_id), job_id)
        tracker = JobTracker(database, job_id, joblog)
        tracker.job("started", state=JobState.RUNNING.value, runner=job.runner, detail="run started")
        engine = PublishEngine(
            database,
            target,
            tracker,
            job_id=job_id,
            run_ids=[int(run_id) for run_id in job.run_ids],
            deadline=time.monotonic() + target.deadline_seconds,
            should_continue=should_continue,
            progress=progress,
            drain_on_cancel=drain_on_cancel,
        )
        try:
            outcome = engine.run()
        except BaseException as exc:
            tracker.job("crashed", state=JobState.FAILED.value, error=f"stopped by {exc!r}", runner=None)
            raise
        counts = _slice_counts(database, job_id)
        tracker.job(
            "finished",
            state=outcome.state.value,
            error=outcome.error,
            runner=None,
            finished_at=utcnow(),
            slices_done=counts.get(TaskStatus.SUCCESS.value, 0) + counts.get(TaskStatus.WARNING.value, 0),
            slices_warning=counts.get(TaskStatus.WARNING.value, 0),
            slices_failed=counts.get(TaskStatus.FAILED.value, 0),
            detail=outcome.error or "all slices published",
        )
    finally:
        target.close()
    log.debug("publish job finished", job=job_id, state=outcome.state.value, error=outcome.error)
    final = get_job(database, job_id)
    if outcome.state is JobState.SUCCEEDED:
        _after_job(database, settings, final, tracker)
    return final


def _prepare(database: Database, settings: Settings, job: JobOut, params: dict[str, Any]) -> dict[str, Any]:
    """Let the target fill in parameters before a run (stored at once, so a resume sees them)."""
    hook = prepare_job_hook(job.target)
    if hook is None:
        return params
    updates = hook(database, settings, job, dict(params))
    if not updates:
        return params
    with database.session() as session:
        row = session.get(PublishJob, job.id, with_for_update=True)
        if row is None:
            return {**params, **updates}
        stored = dict(row.params)
        # First writer wins: a runner that prepared concurrently keeps what is already stored.
        merged = {**stored, **{key: value for key, value in updates.items() if stored.get(key) in (None, "")}}
        row.params = merged
    return merged


def _after_job(database: Database, settings: Settings, job: JobOut, tracker: JobTracker) -> None:
    hook = after_job_hook(job.target)
    if hook is None:
        return
    try:
        messages = hook(database, settings, job)
    except EvidenceHubError as exc:
        tracker.warning(None, f"after publishing: {exc.message}")
        raise
    for message in messages:
        tracker.job("after_job", detail=message)


def _slice_counts(database: Database, job_id: str) -> dict[str, int]:
    with database.session() as session:
        rows = session.execute(
            select(UploadTask.status, func.count())
            .where(UploadTask.job_id == job_id)
            .group_by(UploadTask.status)
        ).all()
    return dict(rows)


def task_counts(database: Database) -> list[tuple[str, str, int]]:
    """How many upload tasks each target has in each status (served by the (target, status) index)."""
    with database.session() as session:
        rows = session.execute(
            select(UploadTask.target, UploadTask.status, func.count()).group_by(
                UploadTask.target, UploadTask.status
            )
        ).all()
    return [(target, status, int(count)) for target, status, count in rows]


def get_job(database: Database, job_id: str) -> JobOut:
    with database.session() as session:
        job = session.get(PublishJob, job_id)
        if job is None:
            raise NotFoundError(f"publish job {job_id} does not exist", details={"job": job_id})
        return JobOut.model_validate(job)


def job_detail(database: Database, settings: Settings, job_id: str) -> JobDetail:
    """The job with every slice (task id, status, attempts, last error, timestamps)."""
    job = get_job(database, job_id)
    with database.session() as session:
        slices = session.scalars(
            select(UploadTask).where(UploadTask.job_id == job_id).order_by(UploadTask.slice_no)
        ).all()
        rows = [SliceOut.model_validate(row) for row in slices]
    return JobDetail(job=job, slices=rows, log_path=str(log_path(settings.data_dir, job.target, job_id)))


def job_events(database: Database, job_id: str, *, slice_no: int | None = None) -> list[EventOut]:
    with database.session() as session:
        query = select(UploadTaskEvent).where(UploadTaskEvent.job_id == job_id)
        if slice_no is not None:
            query = query.where(UploadTaskEvent.slice_no == slice_no)
        return [
            EventOut.model_validate(row) for row in session.scalars(query.order_by(UploadTaskEvent.id)).all()
        ]


def list_jobs(database: Database, *, target: str | None = None, limit: int = 20) -> list[JobOut]:
    with database.session() as session:
        query = select(PublishJob).order_by(PublishJob.created_at.desc()).limit(limit)
        if target:
            query = query.where(PublishJob.target == target)
        return [JobOut.model_validate(row) for row in session.scalars(query).all()]


def published_result_ranges(database: Database, job_id: str) -> list[tuple[int, int]]:
    """(first, last) result ids of the job's slices that the target accepted and processed."""
    with database.session() as session:
        rows = session.execute(
            select(UploadTask.first_result_id, UploadTask.last_result_id)
            .where(UploadTask.job_id == job_id, UploadTask.status.in_([status.value for status in DONE_OK]))
            .order_by(UploadTask.slice_no)
        ).all()
    return [(first, last) for first, last in rows]
