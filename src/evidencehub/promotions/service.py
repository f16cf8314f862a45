"""Promotions: request one, run its evidence job on the task queue, cancel it (and delink), show it.

The evidence job itself (a queue task) is in :mod:`evidencehub.promotions.job`.

Cancelling a requested promotion ends it at once. A running one is told through
its state (``cancelling``): the publisher stops sending new slices, lets the
ones in flight finish, and the job then removes the regression backlog item
from every test this promotion linked. A finished promotion can be cancelled
too, which runs the same clean-up.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evidencehub.auth.audit import EventOrigin, record_event
from evidencehub.config import Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.db.statements import rows_changed
from evidencehub.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
)
from evidencehub.ops.logging import get_logger
from evidencehub.promotions.model import ACTIVE_STATES, Promotion, PromotionEvent
from evidencehub.promotions.schemas import (
    BundleOut,
    PromotionCreate,
    PromotionDetail,
    PromotionEventOut,
    PromotionOut,
    PromotionState,
    PublicationOut,
)
from evidencehub.publish import service as publish
from evidencehub.publish.registry import TARGET_MODULES
from evidencehub.publish.schemas import JobDetail
from evidencehub.results import service as results
from evidencehub.tasks import runners

log = get_logger(__name__)

RUN_TASK = "promotions.run"
RECOVER_TASK = "promotions.recover"
OCTANE = "octane"
XRAY = "xray"
# The publishing targets whose jobs a promotion knows how to create (each also in publish.registry).
PUBLISHING_TARGETS = (OCTANE, XRAY)
FINISHED_STATES = (PromotionState.SUCCEEDED, PromotionState.FAILED, PromotionState.CANCELLED)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# ---------------------------------------------------------------- names and settings


def format_job_name(
    settings: Settings, *, project: str, release: str, build: str, target: str, promotion_id: int
) -> str:
    """The evidence job's name, from the ``promotions.job_name`` template."""
    try:
        return settings.promotions.job_name.format(
            project=project, release=release, build=build, target=target, promotion_id=promotion_id
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            "promotions.job_name may use only {project}, {release}, {build}, {target} and "
            f"{{promotion_id}}: {exc}",
            details={"setting": "promotions.job_name"},
        ) from exc


def publish_job_id(job_name: str, target: str) -> str:
    """The publisher's job id for one target: the job name made id-safe, then the target."""
    safe = _UNSAFE.sub("_", job_name).strip("._-") or "promotion"
    suffix = f"-{target}"
    return safe[: 120 - len(suffix)] + suffix


def targets_for(settings: Settings, project: str) -> list[str]:
    """The publishing targets of a project's promotions (``promotions.project_targets``, else ``targets``)."""
    chosen = settings.promotions.project_targets.get(project, settings.promotions.targets)
    known = [name for name in PUBLISHING_TARGETS if name in TARGET_MODULES]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ConfigError(
            f"promotion target(s) {', '.join(unknown)} of project '{project}' are not publishing targets; "
            f"known: {', '.join(known)}",
            details={"setting": "promotions.targets", "unknown": unknown},
        )
    return list(dict.fromkeys(chosen))


# ---------------------------------------------------------------- reading


def _event_out(event: PromotionEvent) -> PromotionEventOut:
    return PromotionEventOut.model_validate(event)


def _out(promotion: Promotion) -> PromotionOut:
    bundle = (
        BundleOut(
            url=promotion.bundle_url,
            manifest_sha256=promotion.bundle_sha256,
            files=promotion.bundle_files,
            total_bytes=promotion.bundle_bytes,
        )
        if promotion.bundle_url
        else None
    )
    publications = [
        PublicationOut(
            target=target,
            job_id=value.get("job_id"),
            state=value.get("state"),
            linked=bool(value.get("linked")),
            message=value.get("message"),
        )
        for target, value in sorted((promotion.publications or {}).items())
    ]
    return PromotionOut(
        id=promotion.id,
        project=promotion.project,
        release=promotion.release,
        build=promotion.build,
        target=promotion.target,
        upload_regression=promotion.upload_regression,
        regression_key=promotion.regression_key,
        requester=promotion.requester,
        reason=promotion.reason,
        state=PromotionState(promotion.state),
        job_name=promotion.job_name,
        bundle=bundle,
        publications=publications,
        attempts=promotion.attempts,
        error=promotion.error,
        delink_state=promotion.delink_state,
        delink_attempts=promotion.delink_attempts,
        delink_error=promotion.delink_error,
        delink_message=promotion.delink_message,
        created_at=promotion.created_at,
        started_at=promotion.started_at,
        finished_at=promotion.finished_at,
        updated_at=promotion.updated_at,
    )


def _promotion(session: Session, organization_id: int, promotion_id: int) -> Promotion:
    promotion = session.scalar(
        select(Promotion).where(Promotion.id == promotion_id, Promotion.organization_id == organization_id)
    )
    if promotion is None:
        raise NotFoundError(f"promotion {promotion_id} does not exist", details={"promotion": promotion_id})
    return promotion


def get_promotion(session: Session, organization_id: int, promotion_id: int) -> PromotionOut:
    return _out(_promotion(session, organization_id, promotion_id))


def list_promotions(
    session: Session,
    organization_id: int,
    *,
    limit: int,
    before_id: int | None = None,
    project: str | None = None,
    state: str | None = None,
) -> list[PromotionOut]:
    """Promotions of the organization, newest first, keyset-paged by ``before_id``."""
    query = (
        select(Promotion)
        .where(Promotion.organization_id == organization_id)
        .order_by(Promotion.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(Promotion.id < before_id)
    if project:
        query = query.where(Promotion.project == project)
    if state:
        query = query.where(Promotion.state == state)
    return [_out(promotion) for promotion in session.scalars(query)]


def promotion_detail(
    database: Database, settings: Settings, organization_id: int, promotion_id: int
) -> PromotionDetail:
    """The Octane tab: state, history, job name, bundle, and every upload slice of each publication."""
    with database.session() as session:
        promotion = _out(_promotion(session, organization_id, promotion_id))
        history = [
            _event_out(event)
            for event in session.scalars(
                select(PromotionEvent)
                .where(PromotionEvent.promotion_id == promotion_id)
                .order_by(PromotionEvent.id)
            )
        ]
    jobs: list[JobDetail] = []
    for publication in promotion.publications:
        if publication.job_id:
            try:
                jobs.append(publish.job_detail(database, settings, publication.job_id))
            except NotFoundError:
                continue  # planned but not stored yet
    return PromotionDetail(promotion=promotion, history=history, jobs=jobs)


# ---------------------------------------------------------------- requesting and cancelling


def record_change(
    session: Session,
    promotion: Promotion,
    *,
    actor: str,
    to_state: str | None,
    detail: str | None,
    from_state: str | None = None,
) -> None:
    session.add(
        PromotionEvent(
            promotion_id=promotion.id,
            at=utcnow(),
            actor=actor,
            from_state=from_state,
            to_state=to_state,
            detail=detail,
        )
    )


def _active_one(session: Session, project_id: int, release: str, build_id: int, target: str) -> int | None:
    return session.scalar(
        select(Promotion.id).where(
            Promotion.project_id == project_id,
            Promotion.release == release,
            Promotion.build_id == build_id,
            Promotion.target == target,
            Promotion.state.in_(ACTIVE_STATES),
        )
    )


def _already_active(promotion_id: int | None, what: str) -> ConflictError:
    which = f" (promotion {promotion_id})" if promotion_id is not None else ""
    return ConflictError(
        f"{what} already has an active promotion{which}; wait for it or cancel it first",
        details={"promotion": promotion_id} if promotion_id is not None else {},
    )


def request_promotion(
    database: Database,
    settings: Settings,
    organization_id: int,
    request: PromotionCreate,
    *,
    requester: str,
    origin: EventOrigin | None = None,
) -> PromotionOut:
    """Record a promotion and put its evidence job on the task queue.

    Both happen or neither: the job is enqueued inside the transaction that
    stores the promotion, so when the queue is unreachable (UnavailableError,
    "task queue unavailable") nothing is left behind — no promotion, no job, no
    bundle. A worker that picks the job up before the transaction commits
    finds no promotion yet and is retried.
    """
    from evidencehub.tasks import enqueue

    origin = origin or EventOrigin()  # who and from where, for the security log (none from the CLI)
    target = request.target or settings.promotions.default_target
    targets_for(settings, request.project)  # a misconfigured target fails the request, not the job
    what = f"build '{request.build}' of {request.project} {request.release} → {target}"
    with database.session() as session:
        build = results.find_build(session, organization_id, project=request.project, build=request.build)
        results.runs_of_build(
            session, project=request.project, build=request.build, organization_id=organization_id
        )
        existing = _active_one(session, build.project_id, request.release, build.id, target)
        if existing is not None:
            raise _already_active(existing, what)
        promotion = Promotion(
            organization_id=organization_id,
            project_id=build.project_id,
            build_id=build.id,
            project=request.project,
            release=request.release,
            build=request.build,
            target=target,
            upload_regression=request.upload_regression,
            regression_key=request.regression_key,
            requester=requester,
            requested_by=origin.user_id,
            reason=request.reason,
            state=PromotionState.REQUESTED.value,
            job_name="",
            publications={},
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(promotion)
        try:
            session.flush()
        except IntegrityError:
            # Another request for the same build got in between our check and our insert.
            raise _already_active(None, what) from None
        promotion.job_name = format_job_name(
            settings,
            project=request.project,
            release=request.release,
            build=request.build,
            target=target,
            promotion_id=promotion.id,
        )
        record_change(session, promotion, actor=requester, to_state=promotion.state, detail=request.reason)
        record_event(
            session,
            "promotion_requested",
            organization_id=organization_id,
            user_id=origin.user_id,
            api_token_id=origin.api_token_id,
            ip=origin.ip,
            subject=f"promotion {promotion.id}",
            details={
                "project": request.project,
                "release": request.release,
                "build": request.build,
                "target": target,
                "upload_regression": request.upload_regression,
            },
        )
        promotion.task_id = enqueue(settings, RUN_TASK, promotion.id)  # raises: everything rolls back
        session.flush()
        out = _out(promotion)
    log.info("promotion requested", promotion=out.id, job=out.job_name)
    return out


def cancel_promotion(
    database: Database,
    settings: Settings,
    organization_id: int,
    promotion_id: int,
    *,
    actor: str,
    origin: EventOrigin | None = None,
) -> PromotionOut:
    """Cancel a promotion; harmless when it is already cancelling or cancelled.

    requested → cancelled at once. running → cancelling: the job stops sending,
    then delinks. succeeded or failed → cancelling when there is something to
    delink (the job is put on the queue again for it), else cancelled at once.
    Calling it again on a promotion whose delinking failed tries again.
    """
    from evidencehub.tasks import enqueue

    origin = origin or EventOrigin()
    with database.session() as session:
        promotion = _promotion(session, organization_id, promotion_id)
        before = promotion.state
        now = utcnow()
        needs_cleanup = _has_links_to_remove(promotion)
        if before == PromotionState.REQUESTED.value or (
            before in (PromotionState.SUCCEEDED.value, PromotionState.FAILED.value) and not needs_cleanup
        ):
            after = PromotionState.CANCELLED.value
        elif before in (
            PromotionState.RUNNING.value,
            PromotionState.SUCCEEDED.value,
            PromotionState.FAILED.value,
        ):
            after = PromotionState.CANCELLING.value
        else:
            after = before  # cancelling or cancelled: nothing changes
        changed = after != before
        if changed:
            values: dict[str, Any] = {"state": after, "updated_at": now}
            if after == PromotionState.CANCELLED.value:
                values.update(finished_at=now, delink_state="none", runner=None)
            else:
                values.update(delink_state="pending" if needs_cleanup else "none", finished_at=None)
            try:
                won = rows_changed(
                    session,
                    update(Promotion)
                    .where(Promotion.id == promotion_id, Promotion.state == before)
                    .values(**values),
                )
            except IntegrityError:
                raise _already_active(
                    None, f"build '{promotion.build}' of {promotion.project} {promotion.release}"
                ) from None
            if won != 1:
                raise ConflictError(
                    f"promotion {promotion_id} changed while it was being cancelled; try again",
                    details={"promotion": promotion_id},
                )
            record_change(
                session, promotion, actor=actor, from_state=before, to_state=after, detail="cancel requested"
            )
            record_event(
                session,
                "promotion_cancelled",
                organization_id=organization_id,
                user_id=origin.user_id,
                api_token_id=origin.api_token_id,
                ip=origin.ip,
                subject=f"promotion {promotion_id}",
                details={"from_state": before, "to_state": after},
            )
        session.refresh(promotion)
        # Someone must do the clean-up: the running job does, unless nobody runs the promotion now.
        if promotion.state == PromotionState.CANCELLING.value and not runner_alive(promotion, settings):
            enqueue(settings, RUN_TASK, promotion_id)
        out = _out(promotion)
    log.info("promotion cancel", promotion=promotion_id, from_state=before, state=out.state.value)
    return out


def _has_links_to_remove(promotion: Promotion) -> bool:
    return bool(
        promotion.upload_regression
        and promotion.regression_key
        and (promotion.publications or {}).get(OCTANE, {}).get("job_id")
    )


# ---------------------------------------------------------------- who runs a promotion


def runner_alive(promotion: Promotion, settings: Settings) -> bool:
    """Whether the worker recorded as running the promotion still is (by pid here, by heartbeat elsewhere)."""
    stale = dt.timedelta(seconds=settings.promotions.stale_seconds)
    return runners.runner_alive(promotion.runner, promotion.heartbeat_at, stale)
