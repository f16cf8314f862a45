"""Report definitions and their executions, with download links (HTML and PDF)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from evidencehub.auth.service import Principal
from evidencehub.errors import InputError, UnavailableError
from evidencehub.reports import service as reports
from evidencehub.reports.schemas import (
    OutputFormat,
    ReportDefinitionCreate,
    ReportKind,
)
from evidencehub.web.deps import services
from evidencehub.web.pages.errors import problem_text
from evidencehub.web.pages.render import finish, redirect, render
from evidencehub.web.pages.session import CsrfChecked, allowed
from evidencehub.web.report_actions import start_report_execution
from evidencehub.web.routers.paging import MAX_ID, ObjectId

router = APIRouter(include_in_schema=False)
PAGE = 20
EXECUTIONS_SHOWN = 5
Creator = Annotated[Principal, Depends(allowed("reports:create"))]
Reader = Annotated[Principal, Depends(allowed("reports:read"))]


def _table(request: Request, principal: Principal, after: int | None) -> dict[str, Any]:
    """The context of reports_table.html.j2: a page of definitions, each with its latest executions."""
    app = services(request)
    with app.database.session() as session:
        definitions = reports.list_definitions(
            session, principal.organization_id, limit=PAGE + 1, after_id=after
        )
        more = len(definitions) > PAGE
        rows = [
            (
                definition,
                reports.list_executions(
                    session, app.settings, principal.organization_id, definition.id, limit=EXECUTIONS_SHOWN
                ),
            )
            for definition in definitions[:PAGE]
        ]
    return {
        "rows": rows,
        # While an execution is queued or processing, htmx polls the table.
        "active": any(
            execution.status in reports.ACTIVE_STATUSES
            for _definition, executions in rows
            for execution in executions
        ),
        "next_url": f"/reports?after={rows[-1][0].id}" if more else None,
        "after": after,
        "can_create": "reports:create" in principal.permissions,
    }


def _page(
    request: Request,
    principal: Principal,
    after: int | None,
    *,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "reports.html.j2",
        status_code=status_code,
        first_url="/reports" if after else None,
        kinds=list(get_args(ReportKind)),
        error=error,
        form=form or {"name": "", "kind": "evidence", "project": "", "build": ""},
        **_table(request, principal, after),
    )


@router.get("/reports")
def reports_page(
    request: Request, principal: Reader, after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None
) -> Response:
    return _page(request, principal, after)


@router.get("/reports/executions")
def executions_fragment(
    request: Request, principal: Reader, after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None
) -> Response:
    """The definitions table alone: polled by htmx while an execution is queued or processing."""
    return render(request, "reports_table.html.j2", **_table(request, principal, after))


@router.post("/reports", dependencies=[CsrfChecked])
def create_report(
    request: Request,
    principal: Creator,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=40)] = "evidence",
    project: Annotated[str, Form(max_length=100)] = "",
    build: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"name": name, "kind": kind, "project": project, "build": build}
    try:
        body = ReportDefinitionCreate.model_validate(
            {
                "name": name.strip(),
                "kind": kind,
                "parameters": {
                    key: value.strip()
                    for key, value in (("project", project), ("build", build))
                    if value.strip()
                },
            }
        )
    except ValidationError as exc:
        return _page(
            request, principal, None, status_code=422, error=problem_text(exc.errors()[0]), form=form
        )
    app = services(request)
    try:
        with app.database.session() as session:
            reports.create_definition(
                session, principal.organization_id, body, actor_user_id=principal.user_id
            )
    except InputError as exc:
        return _page(request, principal, None, status_code=422, error=exc.message, form=form)
    return redirect(request, "/reports")


@router.post("/reports/{report_id}/run", dependencies=[CsrfChecked])
async def run_report(request: Request, report_id: ObjectId, principal: Creator) -> Response:
    try:
        await start_report_execution(services(request), principal, report_id)
    except UnavailableError as exc:
        return _page(request, principal, None, status_code=503, error=exc.message)
    return redirect(request, "/reports")


@router.get("/reports/{report_id}/executions/{execution_id}/download")
def download(
    request: Request,
    report_id: ObjectId,
    execution_id: ObjectId,
    principal: Reader,
    fmt: Annotated[OutputFormat, Query(alias="format")] = "pdf",
) -> Response:
    with services(request).database.session() as session:
        content, media_type, filename = reports.get_output(
            session, principal.organization_id, report_id, execution_id, fmt
        )
    response = Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'{"inline" if fmt == "html" else "attachment"}; filename="{filename}"',
        },
    )
    finish(request, response)
    # A report is data, not an application: no scripts, no fetches, even if a name sneaks markup in.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
