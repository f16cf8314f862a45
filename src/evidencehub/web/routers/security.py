"""The security audit log of the caller's organization (admins: security:read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from evidencehub.auth.audit import list_events
from evidencehub.auth.schemas import SecurityEventOut
from evidencehub.auth.service import Principal
from evidencehub.web.deps import DbSession, PageLimit, require
from evidencehub.web.routers.paging import MAX_BIG_ID, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/security-events", tags=["security"])


@router.get("", response_model=Page[SecurityEventOut])
def list_security_events(
    session: DbSession,
    principal: Annotated[Principal, Depends(require("security:read"))],
    limit: PageLimit,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_BIG_ID, description="Cursor: events older than this id.")
    ] = None,
    kind: Annotated[str | None, Query(max_length=60, description="Only events of this kind.")] = None,
) -> Page[SecurityEventOut]:
    """Sign-ins, failed sign-ins, token and membership changes, decisions, promotions: newest first."""
    events = list_events(session, principal.organization_id, limit=limit, before_id=before, kind=kind)
    return page_of(events, limit, lambda event: event.id)
