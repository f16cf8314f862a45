"""The audit pages: stored audit reports, ticket scores, most often missing fields, a ticket's
findings and its filled template to copy, in English or Hebrew (right-to-left)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from evidencehub.audit import service as audit
from evidencehub.audit.i18n import catalog
from evidencehub.audit.report import fix_groups
from evidencehub.audit.schemas import Language
from evidencehub.errors import NotFoundError
from evidencehub.web.deps import services
from evidencehub.web.pages.render import render
from evidencehub.web.pages.session import SignedIn
from evidencehub.web.routers.paging import ObjectId

router = APIRouter(include_in_schema=False)
TICKETS_PAGE = 50
LANGUAGE_NAMES = {"en": "English", "he": "עברית"}
LanguageQuery = Annotated[Language, Query()]


@router.get("/audit")
def audit_reports_page(
    request: Request,
    principal: SignedIn,
    project: Annotated[str | None, Query(max_length=100)] = None,
    lang: LanguageQuery = "en",
) -> Response:
    with services(request).database.session() as session:
        reports = audit.list_reports(
            session,
            organization_id=principal.organization_id,
            project=project or None,
            language=lang,
            limit=100,
        )
    return render(request, "audit_list.html.j2", reports=reports, project=project or "", lang=lang)


@router.get("/audit/{report_id}")
def audit_report_page(
    request: Request,
    report_id: ObjectId,
    principal: SignedIn,
    lang: LanguageQuery = "en",
    ticket: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    with services(request).database.session() as session:
        report, tickets = audit.report_tickets(
            session, report_id, organization_id=principal.organization_id, language=lang
        )
    ranked = sorted(tickets, key=lambda item: (item.score, item.key or ""))
    pages = max(1, -(-len(ranked) // TICKETS_PAGE))
    page = min(page, pages)
    selected = None
    if ticket is not None:
        selected = next((item for item in tickets if item.key == ticket), None)
        if selected is None:
            raise NotFoundError(
                f"ticket {ticket} is not in audit report {report_id}", details={"ticket": ticket}
            )
    return render(
        request,
        "audit_report.html.j2",
        report=report,
        tickets=ranked[(page - 1) * TICKETS_PAGE : page * TICKETS_PAGE],
        page=page,
        pages=pages,
        selected=selected,
        fixes=fix_groups(selected.audit, lang) if selected else [],
        lang=lang,
        rtl=lang == "he",
        t=catalog(lang),
        languages=LANGUAGE_NAMES,
    )
