"""Test-case audit: audit uploaded test-case documents against the rubric; stored reports, tickets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from evidencehub.audit import service as audits
from evidencehub.audit.schemas import AuditResult, Language, StoredReport, StoredReportDetail, StoredTicket
from evidencehub.audit.sources import source_formats
from evidencehub.auth.service import Principal
from evidencehub.errors import InputError
from evidencehub.web.deps import DbSession, PageLimit, Services, require
from evidencehub.web.routers.paging import MAX_BIG_ID, MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX
from evidencehub.web.uploads import RawBodyNames, upload_openapi, upload_spool

router = APIRouter(prefix=f"{API_PREFIX}/audit", tags=["audit"])
Reader = Annotated[Principal, Depends(require("audit:read"))]
Lang = Annotated[Language, Query(description="Language of findings, labels and templates: en or he.")]
TicketId = Annotated[int, Path(ge=1, le=MAX_BIG_ID, description="The ticket's id in the report.")]

# A raw body without a filename is named by its media type, so the source format can be detected.
_RAW_NAMES = RawBodyNames(
    {
        "application/json": "upload.json",
        "text/csv": "upload.csv",
        "text/markdown": "upload.md",
        "text/x-markdown": "upload.md",
        "text/x-python": "upload_test.py",
        "application/zip": "upload.zip",
    },
    default="upload.json",
)


@router.post(
    "",
    response_model=AuditResult,
    status_code=201,
    openapi_extra=upload_openapi(_RAW_NAMES.by_media_type),
    responses={
        200: {"description": "Audited without storing (no project named)"},
        413: {"description": "Too large"},
    },
)
async def run_audit(
    request: Request,
    app: Services,
    principal: Annotated[Principal, Depends(require("audit:run"))],
    project: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Link evidence from this project's runs and store the report for it (201).",
        ),
    ] = None,
    lang: Lang = "en",
    template: Annotated[
        bool, Query(description="Add each ticket's ready-to-paste draft filling its missing fields.")
    ] = False,
    fail_under: Annotated[
        float | None, Query(ge=0, le=100, description="List tickets scoring below this (a CI gate).")
    ] = None,
    source_format: Annotated[
        str, Query(max_length=40, description="auto (detect per file), or a source format to force.")
    ] = "auto",
    evidence: Annotated[bool, Query(description="Look up ingested results of the tickets' tests.")] = True,
    filename: Annotated[
        str | None,
        Query(max_length=300, description="Raw body: the file's name (its ending tells the format)."),
    ] = None,
) -> JSONResponse:
    """Audit test cases (Jira/Xray JSON, Xray CSV, Markdown, pytest files, a zip of them) against the rubric.

    Send the files as ``multipart/form-data`` (any number of ``file`` parts) or
    one file as the raw body. With ``project`` the report is stored (see
    ``GET /audit/reports``) in both languages and the answer is 201.
    """
    if source_format != "auto" and source_format not in source_formats():
        raise InputError(
            f"unknown source format '{source_format}'; known: auto, {', '.join(source_formats())}",
            details={"parameter": "source_format"},
        )
    if project is not None and not evidence:
        raise InputError(
            "a stored report links evidence: project cannot be combined with evidence=false",
            details={"parameter": "evidence"},
        )
    with upload_spool(app.settings) as spool:
        await spool.receive(request, filename, _RAW_NAMES)
        files = spool.files("test-case file")
        result = await run_in_threadpool(
            audits.run_audit,
            audits.AuditRequest(
                paths=[path for _name, path in files],
                language=lang,
                template=template,
                fail_under=fail_under,
                source_format=source_format,
                project=project,
                organization=principal.organization,
                use_evidence=evidence,
                created_by=principal.name,
                source_names={str(path): name for name, path in files},
            ),
            app.settings,
            app.database,
        )
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if result.report_id else 200)


@router.get("/reports", response_model=Page[StoredReport])
def list_reports(
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    project: Annotated[str | None, Query(max_length=100, description="Only this project's reports.")] = None,
    lang: Lang = "en",
    before: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Cursor: reports older than this id.")
    ] = None,
) -> Page[StoredReport]:
    """Stored audit reports, newest first, each with its summary (score distribution, most often missing)."""
    reports = audits.list_reports(
        session,
        organization_id=principal.organization_id,
        project=project,
        language=lang,
        limit=limit,
        before_id=before,
    )
    return page_of(reports, limit, lambda report: report.id)


@router.get("/reports/{audit_report_id}", response_model=StoredReportDetail)
def show_report(
    audit_report_id: ObjectId, session: DbSession, principal: Reader, lang: Lang = "en"
) -> StoredReportDetail:
    """A stored report: its summary (most often missing fields, contradictions) and every ticket's score."""
    return audits.report_detail(
        session, audit_report_id, organization_id=principal.organization_id, language=lang
    )


@router.get("/reports/{audit_report_id}/tickets/{ticket_id}", response_model=StoredTicket)
def show_ticket(
    audit_report_id: ObjectId, ticket_id: TicketId, session: DbSession, principal: Reader, lang: Lang = "en"
) -> StoredTicket:
    """One ticket's findings (what, why, where to fix each field) and its filled template."""
    return audits.report_ticket(
        session, audit_report_id, ticket_id, organization_id=principal.organization_id, language=lang
    )
