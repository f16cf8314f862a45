"""Runs: upload results (multipart or raw body), list, show, and their results."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from evidencehub.auth.service import Principal
from evidencehub.errors import EvidenceHubError, InputError
from evidencehub.ops.metrics import INGESTED_CASES, UPLOADS, count_triage_decisions
from evidencehub.pipeline import ingest_and_triage
from evidencehub.results import service as results
from evidencehub.results.ingest import IngestRequest
from evidencehub.results.parsers import FORMAT_CHOICES
from evidencehub.results.schemas import IngestOutcome, ResultOut, RunSummary
from evidencehub.results.status import Status
from evidencehub.triage.schemas import TriageOutcome
from evidencehub.web.deps import DbSession, PageLimit, Services, require
from evidencehub.web.routers.paging import MAX_BIG_ID, MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX
from evidencehub.web.uploads import RESULT_FILE_NAMES, upload_openapi, upload_spool

router = APIRouter(prefix=f"{API_PREFIX}/runs", tags=["runs"])


class UploadOutcome(IngestOutcome):
    """What an upload stored, and what the automatic triage of the new run did (when on)."""

    triage: TriageOutcome | None = None


Reader = Annotated[Principal, Depends(require("results:read"))]


@router.post(
    "",
    response_model=UploadOutcome,
    status_code=201,
    openapi_extra=upload_openapi(
        ["application/xml", "application/json", "application/gzip", "application/zip"]
    ),
    responses={
        200: {"description": "Every file had been ingested before: nothing stored"},
        413: {"description": "Too large"},
    },
)
async def upload_run(
    request: Request,
    app: Services,
    principal: Annotated[Principal, Depends(require("results:ingest"))],
    project: Annotated[str, Query(min_length=1, max_length=100, description="Project key.")],
    build: Annotated[str, Query(min_length=1, max_length=200, description="The CI's build id.")],
    release: Annotated[str | None, Query(max_length=200)] = None,
    environment: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[
        str | None, Query(max_length=200, description="Run name (default: from the files).")
    ] = None,
    fmt: Annotated[str, Query(alias="format", description="auto, or a format to force.")] = "auto",
    commit: Annotated[str | None, Query(max_length=64)] = None,
    branch: Annotated[str | None, Query(max_length=200)] = None,
    ci_url: Annotated[str | None, Query(max_length=1000)] = None,
    filename: Annotated[
        str | None,
        Query(max_length=300, description="Raw body: the file's name (its ending tells .gz/.zip)."),
    ] = None,
) -> JSONResponse:
    """Store uploaded result files as one run of a build (all or nothing; re-uploads are a no-op)."""
    if fmt not in FORMAT_CHOICES:
        raise InputError(
            f"format '{fmt}' is not known; choose one of {', '.join(FORMAT_CHOICES)}",
            details={"parameter": "format"},
        )
    try:
        with upload_spool(app.settings) as spool:
            await spool.receive(request, filename, RESULT_FILE_NAMES)
            sources = spool.sources()
            async with app.ingest_turns or nullcontext():
                done = await run_in_threadpool(
                    ingest_and_triage,
                    app.database,
                    app.settings,
                    IngestRequest(
                        paths=[],
                        project=project,
                        build=build,
                        release=release,
                        environment=environment,
                        run_name=name,
                        fmt=fmt,
                        commit=commit,
                        branch=branch,
                        ci_url=ci_url,
                        organization=principal.organization,
                    ),
                    sources=sources,
                )
    except EvidenceHubError as exc:
        UPLOADS.labels(status="rejected" if exc.http_status < 500 else "failed").inc()
        raise
    except Exception:
        UPLOADS.labels(status="failed").inc()
        raise
    outcome = UploadOutcome(**done.ingest.model_dump(), triage=done.triage)
    UPLOADS.labels(status="created" if outcome.created else "duplicate").inc()
    if outcome.created and outcome.run is not None:
        INGESTED_CASES.inc(outcome.run.totals.tests)
    if done.triage is not None:
        count_triage_decisions(done.triage.by_source)
    return JSONResponse(outcome.model_dump(mode="json"), status_code=201 if outcome.created else 200)


@router.get("", response_model=Page[RunSummary])
def list_runs(
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    project: Annotated[str | None, Query(max_length=100)] = None,
    build: Annotated[str | None, Query(max_length=200)] = None,
    release: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Cursor: runs older than this id.")
    ] = None,
) -> Page[RunSummary]:
    """Runs, newest first, with their totals."""
    runs = results.list_runs(
        session,
        results.RunFilter(
            organization_id=principal.organization_id,
            project=project,
            build=build,
            release=release,
            limit=limit,
            before_id=before,
        ),
    )
    return page_of(runs, limit, lambda run: run.id)


@router.get("/{run_id}", response_model=RunSummary)
def show_run(run_id: ObjectId, session: DbSession, principal: Reader) -> RunSummary:
    """A run's totals and the files it was made of."""
    return results.run_summary(session, run_id, organization_id=principal.organization_id)


@router.get("/{run_id}/results", response_model=Page[ResultOut])
def run_results(
    run_id: ObjectId,
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    status: Annotated[
        list[Status] | None, Query(description="Only these statuses (repeat the parameter).")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_BIG_ID, description="Cursor: results after this id.")
    ] = None,
) -> Page[ResultOut]:
    """The run's results in id order, keyset-paged: pass ``next_cursor`` as ``after``."""
    results.ensure_run_visible(session, run_id, principal.organization_id)
    items = results.run_results(session, run_id, statuses=status, limit=limit, after_id=after)
    return page_of(items, limit, lambda result: result.id)
