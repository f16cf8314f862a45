"""Release promotions: request one (its evidence job goes on the task queue), list, the Octane tab, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from evidencehub.auth.service import Principal
from evidencehub.promotions import service as promotions
from evidencehub.promotions.schemas import PromotionCreate, PromotionDetail, PromotionOut, PromotionState
from evidencehub.web import promotion_actions
from evidencehub.web.deps import DbSession, PageLimit, Services, require
from evidencehub.web.routers.paging import MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/promotions", tags=["promotions"])
Reader = Annotated[Principal, Depends(require("promotions:read"))]
Requester = Annotated[Principal, Depends(require("promotions:request"))]
Canceller = Annotated[Principal, Depends(require("promotions:cancel"))]


@router.post(
    "",
    response_model=PromotionOut,
    status_code=202,
    responses={
        409: {"description": "The build already has an active promotion to this target"},
        503: {"description": "The task queue is unreachable: nothing was recorded; try again"},
    },
)
async def request_promotion(body: PromotionCreate, request: Request, principal: Requester) -> PromotionOut:
    """Request a promotion: recorded and put on the task queue together, or not at all."""
    return await promotion_actions.request_promotion(request, principal, body)


@router.get("", response_model=Page[PromotionOut])
def list_promotions(
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    project: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[PromotionState | None, Query()] = None,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Cursor: promotions older than this id.")
    ] = None,
) -> Page[PromotionOut]:
    """Promotions newest first."""
    items = promotions.list_promotions(
        session,
        principal.organization_id,
        limit=limit,
        before_id=before,
        project=project,
        state=state.value if state else None,
    )
    return page_of(items, limit, lambda item: item.id)


@router.get("/{promotion_id}", response_model=PromotionDetail)
def show_promotion(promotion_id: ObjectId, principal: Reader, app: Services) -> PromotionDetail:
    """The Octane tab: state, history, job name, bundle, and every upload slice of each publication."""
    return promotions.promotion_detail(app.database, app.settings, principal.organization_id, promotion_id)


@router.post(
    "/{promotion_id}/cancel",
    response_model=PromotionOut,
    responses={503: {"description": "The task queue is unreachable for the clean-up; try again"}},
)
async def cancel_promotion(promotion_id: ObjectId, request: Request, principal: Canceller) -> PromotionOut:
    """Cancel: requested → cancelled at once; otherwise cancelling, then the backlog item is delinked."""
    return await promotion_actions.cancel_promotion(request, principal, promotion_id)
