"""Publishing to Octane: start or resume a job, dry runs, backlog coverage, and the job's tab.

These are the entry points the CLI, the web API and the promotion workflow
call. Everything here is resumable by job id: calling
:func:`publish_run_to_octane` again with the id of an unfinished job resumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evidencehub.config import OctaneSettings, Settings
from evidencehub.db.session import Database
from evidencehub.errors import ConflictError, InputError, NotFoundError
from evidencehub.ops.logging import get_logger
from evidencehub.publish import service as publish
from evidencehub.publish.engine import Progress
from evidencehub.publish.model import PublishJob
from evidencehub.publish.schemas import JobDetail, JobOut, JobState
from evidencehub.publish.slicing import plan_slices
from evidencehub.publish.targets.octane.client import OctaneClient
from evidencehub.publish.targets.octane.converter import (
    DEFAULT_RELEASE,
    OctanePayloadParams,
    TestIdentity,
    convert,
    identity,
)
from evidencehub.publish.targets.octane.coverage import Action, CoverageOutcome, backlog_item, change_coverage
from evidencehub.publish.targets.octane.modules import resolve_module
from evidencehub.results import service as results
from evidencehub.results.schemas import ResultExport

log = get_logger(__name__)
TARGET = "octane"


@dataclass(frozen=True)
class PublishRequest:
    """What to publish: runs (``run_ids``) or a build's runs (``project`` + ``build``), and where to."""

    run_ids: Sequence[int] = ()
    project: str | None = None
    build: str | None = None
    release: str | None = None  # release name (None: octane.release, else "_default_")
    release_id: int | None = None  # or a release by id
    backlog: str | None = None  # linked to the uploaded tests once the job succeeds
    module: str | None = None  # application module name (None: octane.application_module)
    strict_modules: bool | None = None
    job_id: str | None = None
    organization: str | None = None


def _params(
    settings: OctaneSettings, runs: publish.JobRuns, request: PublishRequest, product_area_ids: list[int]
) -> OctanePayloadParams:
    values = {"project": runs.project, "build": runs.build}
    try:
        job_name = settings.job_name.format(**values)
        build_name = settings.build_name.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(
            f"octane.job_name/build_name templates may use only {{project}} and {{build}}: {exc}",
            details={"setting": "octane.job_name"},
        ) from exc
    release_name = (
        None if request.release_id is not None else (request.release or settings.release or DEFAULT_RELEASE)
    )
    return OctanePayloadParams(
        server_id=settings.server_id,
        job_id=runs.project,
        job_name=job_name or runs.project,
        build_id=runs.build,
        build_name=build_name or runs.build,
        release_name=release_name,
        release_id=request.release_id,
        module=settings.module,
        backlog_ids=[int(request.backlog)] if request.backlog and settings.backlog_in_payload else [],
        product_area_ids=product_area_ids,
        test_fields=dict(settings.test_fields),
        environment=dict(settings.environment),
        environment_taxonomy=settings.environment_taxonomy,
        max_error_chars=settings.max_error_kb * 1024,
    )


def create_octane_job(
    database: Database, settings: Settings, request: PublishRequest, *, client: OctaneClient | None = None
) -> tuple[JobOut, list[str]]:
    """Check the request against Octane (backlog item, module), store the job; returns warnings."""
    octane = settings.octane
    runs = publish.resolve_runs(database, settings, request, target_label="Octane")
    warnings: list[str] = []
    own_client = client is None
    client = client or OctaneClient(octane)
    try:
        if request.backlog is not None:
            backlog_item(client, request.backlog)  # a wrong id fails now, before anything is sent
        area_ids: list[int] = []
        module_name = request.module or octane.application_module
        if module_name:
            strict = octane.strict_modules if request.strict_modules is None else request.strict_modules
            choice = resolve_module(client, module_name, strict=strict)
            if choice.root.warning:
                warnings.append(choice.root.warning)
            area_ids.append(int(choice.id))
    finally:
        if own_client:
            client.close()
    params = _params(octane, runs, request, area_ids)
    job = publish.create_job(
        database,
        target=TARGET,
        run_ids=runs.run_ids,
        params=params.model_dump(),
        slice_size=octane.max_runs_per_call,
        job_id=request.job_id,
        project=runs.project,
        project_id=runs.project_id,
        build=runs.build,
        release=str(request.release_id) if request.release_id is not None else params.release_name,
        backlog=request.backlog,
    )
    return job, warnings


def publish_run_to_octane(
    database: Database,
    settings: Settings,
    request: PublishRequest,
    *,
    should_continue: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    on_created: Callable[[JobOut, list[str]], None] | None = None,
) -> JobOut:
    """Publish runs to Octane, or resume the job ``request.job_id`` if it exists; returns the final job."""

    def create() -> JobOut:
        job, warnings = create_octane_job(database, settings, request)
        if on_created is not None:
            on_created(job, warnings)
        return job

    return publish.create_or_resume(
        database, settings, request.job_id, create, should_continue=should_continue, progress=progress
    )


def after_job(database: Database, settings: Settings, job: JobOut) -> list[str]:
    """Run after a job succeeded: link its backlog item to the uploaded tests."""
    if not job.backlog:
        return []
    outcome = link_backlog(database, settings, job.id, job.backlog)
    return [outcome.message]


# ---------------------------------------------------------------- dry run


def dry_run(
    database: Database, settings: Settings, request: PublishRequest, out: Path
) -> list[tuple[Path, int, list[str]]]:
    """Write the payloads a job would send (validated, nothing contacted); returns (file, tests, warnings)."""
    octane = settings.octane
    runs = publish.resolve_runs(database, settings, request, target_label="Octane")
    params = _params(octane, runs, request, [])
    with database.session() as session:
        ids = results.result_ids(session, runs.run_ids)
    slices = plan_slices(ids, octane.max_runs_per_call)
    if not slices:
        raise InputError("the runs hold no results: nothing to publish", details={"runs": runs.run_ids})
    written = []
    out.parent.mkdir(parents=True, exist_ok=True)
    for spec in slices:
        with database.session() as session:
            rows = results.export_results(
                session, runs.run_ids, first_id=spec.first_result_id, last_id=spec.last_result_id
            )
        conversion = convert(rows, params)
        path = (
            out
            if len(slices) == 1
            else out.with_name(f"{out.stem}.{spec.slice_no:03d}{out.suffix or '.xml'}")
        )
        path.write_bytes(conversion.payload)
        written.append((path, conversion.tests, conversion.warnings))
    return written


# ---------------------------------------------------------------- coverage


def job_identities(database: Database, job_id: str) -> set[TestIdentity]:
    """The Octane identities of the tests a job uploaded (slices that succeeded)."""
    job = publish.get_job(database, job_id)
    if job.target != TARGET:
        raise InputError(f"job {job_id} published to {job.target}, not Octane", details={"job": job_id})
    if job.state == JobState.RUNNING.value:
        raise ConflictError(
            f"job {job_id} is still running; link or delink once it has finished", details={"job": job_id}
        )
    params = OctanePayloadParams.model_validate(_params_of(database, job_id))
    identities: set[TestIdentity] = set()
    for first, last in publish.published_result_ranges(database, job_id):
        with database.session() as session:
            rows: list[ResultExport] = results.export_results(
                session, job.run_ids, first_id=first, last_id=last
            )
        identities.update(identity(row, params) for row in rows)
    if not identities:
        raise ConflictError(
            f"job {job_id} has no slice Octane processed (state {job.state}): there are no uploaded tests",
            details={"job": job_id},
        )
    return identities


def _params_of(database: Database, job_id: str) -> dict[str, object]:
    with database.session() as session:
        job = session.get(PublishJob, job_id)
        if job is None:
            raise NotFoundError(f"publish job {job_id} does not exist", details={"job": job_id})
        return dict(job.params)


def _coverage(
    database: Database, settings: Settings, job_id: str, backlog_id: str, action: Action
) -> CoverageOutcome:
    identities = job_identities(database, job_id)
    with OctaneClient(settings.octane) as client:
        outcome = change_coverage(client, action, backlog_id, identities)
    log.debug(
        "backlog coverage changed",
        action=action,
        job=job_id,
        backlog=backlog_id,
        changed=outcome.changed,
        found=outcome.found,
        tests=outcome.tests,
    )
    return outcome


def link_backlog(database: Database, settings: Settings, job_id: str, backlog_id: str) -> CoverageOutcome:
    """Add the backlog item to ``covered_content`` of every test the job uploaded (idempotent)."""
    return _coverage(database, settings, job_id, backlog_id, "link")


def delink_backlog(database: Database, settings: Settings, job_id: str, backlog_id: str) -> CoverageOutcome:
    """Remove the backlog item from those tests' ``covered_content`` (idempotent; says if none had it)."""
    return _coverage(database, settings, job_id, backlog_id, "delink")


def octane_tab(database: Database, settings: Settings, job_id: str) -> JobDetail:
    """The job and every slice with task id, status, attempts, last error and timestamps."""
    return publish.job_detail(database, settings, job_id)
