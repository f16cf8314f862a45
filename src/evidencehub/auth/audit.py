"""The security audit log: record and read security-relevant events.

Other domains record their events here too (triage decisions, promotions,
cancellations) with :func:`record_event`, inside their own transaction, so an
event is stored exactly when the action it describes is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidencehub.auth.model import SecurityEvent
from evidencehub.auth.schemas import SecurityEventOut
from evidencehub.db.base import utcnow
from evidencehub.ops.logging import get_logger

log = get_logger(__name__)

# The kinds recorded by this domain; other domains add theirs (e.g. "triage_decision",
# "promotion_requested", "promotion_cancelled").
KNOWN_KINDS = (
    "login",
    "login_failed",
    "logout",
    "refresh_token_reuse",
    "api_token_created",
    "api_token_revoked",
    "member_added",
    "member_changed",
    "member_removed",
    "triage_decision",
)


@dataclass(frozen=True)
class EventOrigin:
    """Who did an action, for whom and from where: what a domain passes along to record its event."""

    organization_id: int | None = None
    user_id: int | None = None
    api_token_id: int | None = None
    ip: str | None = None


def record_event(
    session: Session,
    kind: str,
    *,
    organization_id: int | None = None,
    user_id: int | None = None,
    api_token_id: int | None = None,
    ip: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Store one event in the caller's transaction and log it."""
    session.add(
        SecurityEvent(
            at=utcnow(),
            kind=kind,
            organization_id=organization_id,
            user_id=user_id,
            api_token_id=api_token_id,
            ip=ip,
            subject=subject,
            details=details or {},
        )
    )
    log.info(
        "security event",
        security_event=kind,
        organization_id=organization_id,
        user_id=user_id,
        api_token_id=api_token_id,
        ip=ip,
    )


def list_events(
    session: Session,
    organization_id: int,
    *,
    limit: int,
    before_id: int | None = None,
    kind: str | None = None,
) -> list[SecurityEventOut]:
    """Events of the organization, newest first, keyset-paged by ``before_id``."""
    query = (
        select(SecurityEvent)
        .where(SecurityEvent.organization_id == organization_id)
        .order_by(SecurityEvent.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(SecurityEvent.id < before_id)
    if kind:
        query = query.where(SecurityEvent.kind == kind)
    return [
        SecurityEventOut(
            id=event.id,
            at=event.at,
            kind=event.kind,
            user_id=event.user_id,
            api_token_id=event.api_token_id,
            ip=event.ip,
            subject=event.subject,
            details=event.details,
        )
        for event in session.scalars(query)
    ]
