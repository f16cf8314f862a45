"""Requesting and cancelling a promotion for a web caller: what the API and the pages both do.

The promotions service records the security event itself; it is given who acts
and from where. It blocks (database, task queue), so it runs in a worker thread.
"""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from evidencehub.auth.service import Principal
from evidencehub.promotions import service as promotions
from evidencehub.promotions.schemas import PromotionCreate, PromotionOut
from evidencehub.web.deps import event_origin, services


async def request_promotion(request: Request, principal: Principal, body: PromotionCreate) -> PromotionOut:
    """Record the promotion and put its evidence job on the task queue, both or neither."""
    app = services(request)
    return await run_in_threadpool(
        promotions.request_promotion,
        app.database,
        app.settings,
        principal.organization_id,
        body,
        requester=principal.name,
        origin=event_origin(request, principal),
    )


async def cancel_promotion(request: Request, principal: Principal, promotion_id: int) -> PromotionOut:
    """Cancel the promotion (requested → cancelled at once; otherwise cancelling, then delinked)."""
    app = services(request)
    return await run_in_threadpool(
        promotions.cancel_promotion,
        app.database,
        app.settings,
        principal.organization_id,
        promotion_id,
        actor=principal.name,
        origin=event_origin(request, principal),
    )
