"""Promotions: the list with a request form, and a promotion's page with its Octane tab.

The Octane tab shows every upload slice of the promotion's Octane publication
(task id, status, attempts, last error) and refreshes itself through htmx while
the promotion is active. Cancelling asks for confirmation on a page of its own
(works without script) before it calls the promotions service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from evidencehub.auth.service import Principal
from evidencehub.errors import ConflictError, InputError, NotFoundError, UnavailableError
from evidencehub.promotions import service as promotions
from evidencehub.promotions.schemas import PromotionCreate, PromotionDetail, PromotionState
from evidencehub.web import promotion_actions
from evidencehub.web.deps import services
from evidencehub.web.pages.errors import problem_text
from evidencehub.web.pages.render import redirect, render
from evidencehub.web.pages.session import CsrfChecked, allowed
from evidencehub.web.routers.paging import MAX_ID, ObjectId

router = APIRouter(include_in_schema=False)
PAGE = 25
OCTANE = "octane"
ACTIVE = {PromotionState.REQUESTED, PromotionState.RUNNING, PromotionState.CANCELLING}
CANCELLABLE = {
    PromotionState.REQUESTED,
    PromotionState.RUNNING,
    PromotionState.SUCCEEDED,
    PromotionState.FAILED,
}
STATES = [state.value for state in PromotionState]
# Errors of a request shown beside the form: they are about the input or the current state.
REQUEST_ERRORS = (InputError, NotFoundError, ConflictError, UnavailableError)

Reader = Annotated[Principal, Depends(allowed("promotions:read"))]
Requester = Annotated[Principal, Depends(allowed("promotions:request"))]
Canceller = Annotated[Principal, Depends(allowed("promotions:cancel"))]
EMPTY_FORM = {"project": "", "release": "", "build": "", "target": "", "reason": ""}


def _list_page(
    request: Request,
    principal: Principal,
    *,
    before: int | None = None,
    state: str | None = None,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    app = services(request)
    with app.database.session() as session:
        items = promotions.list_promotions(
            session, principal.organization_id, limit=PAGE + 1, before_id=before, state=state or None
        )
    more = len(items) > PAGE
    items = items[:PAGE]
    query = f"state={state}&" if state else ""
    return render(
        request,
        "promotions.html.j2",
        status_code=status_code,
        items=items,
        state=state or "",
        states=STATES,
        next_url=f"/promotions?{query}before={items[-1].id}" if more else None,
        first_url=f"/promotions?{query}".rstrip("?&") if before else None,  # the filter stays on
        can_request="promotions:request" in principal.permissions,
        default_target=app.settings.promotions.default_target,
        error=error,
        form=form or EMPTY_FORM,
    )


@router.get("/promotions")
def promotions_page(
    request: Request,
    principal: Reader,
    before: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    state: Annotated[PromotionState | None, Query()] = None,
) -> Response:
    return _list_page(request, principal, before=before, state=state.value if state else None)


@router.post("/promotions", dependencies=[CsrfChecked])
async def request_promotion(
    request: Request,
    principal: Requester,
    project: Annotated[str, Form(max_length=100)] = "",
    release: Annotated[str, Form(max_length=200)] = "",
    build: Annotated[str, Form(max_length=200)] = "",
    target: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    form = {"project": project, "release": release, "build": build, "target": target, "reason": reason}
    try:
        body = PromotionCreate(
            project=project,
            release=release,
            build=build,
            target=target.strip() or None,
            reason=reason.strip() or None,
        )
    except ValidationError as exc:
        return _list_page(request, principal, status_code=422, error=problem_text(exc.errors()[0]), form=form)
    try:
        created = await promotion_actions.request_promotion(request, principal, body)
    except REQUEST_ERRORS as exc:
        return _list_page(request, principal, status_code=exc.http_status, error=exc.message, form=form)
    return redirect(request, f"/promotions/{created.id}?tab=octane")


def _detail(request: Request, principal: Principal, promotion_id: int) -> PromotionDetail:
    app = services(request)
    return promotions.promotion_detail(app.database, app.settings, principal.organization_id, promotion_id)


def _octane_context(detail: PromotionDetail) -> dict[str, Any]:
    return {
        "detail": detail,
        "promotion": detail.promotion,
        "octane_jobs": [job for job in detail.jobs if job.job.target == OCTANE],
        "live": detail.promotion.state in ACTIVE,
    }


@router.get("/promotions/{promotion_id}")
def promotion_page(
    request: Request,
    promotion_id: ObjectId,
    principal: Reader,
    tab: Annotated[str, Query(pattern="^(overview|octane)$")] = "octane",
    cancelled: Annotated[PromotionState | None, Query()] = None,
) -> Response:
    detail = _detail(request, principal, promotion_id)
    return render(
        request,
        "promotion.html.j2",
        tab=tab,
        notice=f"cancel requested: the promotion is {cancelled.value}" if cancelled else None,
        can_cancel="promotions:cancel" in principal.permissions and detail.promotion.state in CANCELLABLE,
        **_octane_context(detail),
    )


@router.get("/promotions/{promotion_id}/octane")
def octane_tab(request: Request, promotion_id: ObjectId, principal: Reader) -> Response:
    """The Octane tab alone: what htmx polls every two seconds while the promotion is active."""
    detail = _detail(request, principal, promotion_id)
    return render(request, "promotion_octane.html.j2", **_octane_context(detail))


@router.get("/promotions/{promotion_id}/cancel")
def confirm_cancel(request: Request, promotion_id: ObjectId, principal: Canceller) -> Response:
    """The confirmation step: what cancelling will do, and a button to go ahead."""
    detail = _detail(request, principal, promotion_id)
    return render(request, "promotion_cancel.html.j2", promotion=detail.promotion, error=None)


@router.post("/promotions/{promotion_id}/cancel", dependencies=[CsrfChecked])
async def cancel(request: Request, promotion_id: ObjectId, principal: Canceller) -> Response:
    try:
        done = await promotion_actions.cancel_promotion(request, principal, promotion_id)
    except (ConflictError, UnavailableError) as exc:
        detail = _detail(request, principal, promotion_id)
        return render(
            request,
            "promotion_cancel.html.j2",
            status_code=exc.http_status,
            promotion=detail.promotion,
            error=exc.message,
        )
    return redirect(request, f"/promotions/{promotion_id}?tab=octane&cancelled={done.state.value}")
