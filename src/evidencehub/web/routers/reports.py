"""Report definitions and their executions (run on the task queue; HTML and PDF outputs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from evidencehub.auth.service import Principal
from evidencehub.reports import service as reports
from evidencehub.reports.schemas import (
    ExecutionStatus,
    OutputFormat,
    ReportDefinitionCreate,
    ReportDefinitionOut,
    ReportExecutionOut,
)
from evidencehub.web.deps import DbSession, PageLimit, Services, require
from evidencehub.web.report_actions import start_report_execution
from evidencehub.web.routers.paging import MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])
Reader = Annotated[Principal, Depends(require("reports:read"))]
Creator = Annotated[Principal, Depends(require("reports:create"))]


@router.get("", response_model=Page[ReportDefinitionOut])
def list_reports(
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Cursor: reports after this id.")] = None,
) -> Page[ReportDefinitionOut]:
    definitions = reports.list_definitions(session, principal.organization_id, limit=limit, after_id=after)
    return page_of(definitions, limit, lambda definition: definition.id)


@router.post("", response_model=ReportDefinitionOut, status_code=201)
def create_report(
    body: ReportDefinitionCreate, session: DbSession, principal: Creator
) -> ReportDefinitionOut:
    """Define a report (evidence, triage, audit or trend) over a project, release or build."""
    return reports.create_definition(
        session, principal.organization_id, body, actor_user_id=principal.user_id
    )


@router.get("/{report_id}", response_model=ReportDefinitionOut)
def show_report(report_id: ObjectId, session: DbSession, principal: Reader) -> ReportDefinitionOut:
    return reports.get_definition(session, principal.organization_id, report_id)


@router.delete("/{report_id}", status_code=204)
def delete_report(report_id: ObjectId, session: DbSession, principal: Creator) -> Response:
    """Delete a definition with its executions and outputs."""
    reports.delete_definition(session, principal.organization_id, report_id)
    return Response(status_code=204)


@router.post(
    "/{report_id}/executions",
    response_model=ReportExecutionOut,
    status_code=202,
    responses={503: {"description": "The task queue is unreachable (the execution is marked failed)"}},
)
async def start_execution(report_id: ObjectId, principal: Creator, app: Services) -> ReportExecutionOut:
    """Start an execution on the task queue: queued → processing → completed | failed | timed_out."""
    return await start_report_execution(app, principal, report_id)


@router.get("/{report_id}/executions", response_model=Page[ReportExecutionOut])
def list_executions(
    report_id: ObjectId,
    session: DbSession,
    principal: Reader,
    app: Services,
    limit: PageLimit,
    status: Annotated[ExecutionStatus | None, Query()] = None,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Cursor: executions older than this id.")
    ] = None,
) -> Page[ReportExecutionOut]:
    """Executions newest first; any stuck past its deadline is shown (and stored) as timed_out."""
    executions = reports.list_executions(
        session,
        app.settings,
        principal.organization_id,
        report_id,
        limit=limit,
        before_id=before,
        status=status,
    )
    return page_of(executions, limit, lambda execution: execution.id)


@router.get("/{report_id}/executions/{execution_id}", response_model=ReportExecutionOut)
def show_execution(
    report_id: ObjectId, execution_id: ObjectId, session: DbSession, principal: Reader, app: Services
) -> ReportExecutionOut:
    return reports.get_execution(session, app.settings, principal.organization_id, report_id, execution_id)


@router.get(
    "/{report_id}/executions/{execution_id}/output",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
)
def download_output(
    report_id: ObjectId,
    execution_id: ObjectId,
    session: DbSession,
    principal: Reader,
    fmt: Annotated[OutputFormat, Query(alias="format")] = "html",
) -> Response:
    """The rendered report, as HTML or PDF."""
    content, media_type, filename = reports.get_output(
        session, principal.organization_id, report_id, execution_id, fmt
    )
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            # A report is data, not an application: no scripts, no fetches, even if a name sneaks markup in.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )
