"""The evidence job of a promotion (a queue task), its clean-up after a cancel, and recovery.

The job collects the build's runs, stores the evidence bundle in the landing
zone, and publishes the runs to every configured target through the publisher,
linking the regression backlog item in Octane when asked. Every step is
idempotent and recorded, so a job interrupted by a crash or a transient error
is simply run again: the bundle is stored once per name, and the publisher
resumes its job without re-sending what already succeeded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evidencehub.config import Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.db.statements import rows_changed
from evidencehub.errors import (
    ConfigError,
    ConflictError,
    EvidenceHubError,
    InputError,
    NotFoundError,
    RemoteError,
    UnavailableError,
)
from evidencehub.ops.logging import get_logger
from evidencehub.orgs.model import Organization
from evidencehub.promotions.bundle import store_evidence_bundle
from evidencehub.promotions.model import ACTIVE_STATES, Promotion
from evidencehub.promotions.schemas import PromotionState
from evidencehub.promotions.service import (
    FINISHED_STATES,
    OCTANE,
    PUBLISHING_TARGETS,
    RUN_TASK,
    XRAY,
    publish_job_id,
    record_change,
    runner_alive,
    targets_for,
)
from evidencehub.publish import service as publish
from evidencehub.publish.schemas import JobState
from evidencehub.results import service as results
from evidencehub.tasks.runners import runner_name

log = get_logger(__name__)

_CHECK_EVERY_SECONDS = 0.5
VISIBILITY_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class _Claim:
    promotion_id: int
    organization_id: int
    build_id: int
    project: str
    build: str
    job_name: str
    upload_regression: bool
    regression_key: str | None
    runner: str
    cleanup_only: bool


class _StoppedError(Exception):
    """The promotion is being cancelled: stop the job's steps and clean up."""


def _worker_actor() -> str:
    return f"worker {socket.gethostname()}:{os.getpid()}"


def _wait_until_visible(database: Database, promotion_id: int) -> None:
    """The request enqueues the job just before it commits: a fast worker waits a moment for the commit.

    (Past the wait the claim raises UnavailableError and the queue retries later:
    the request may also have been rolled back, leaving a job with no promotion.)
    """
    deadline = time.monotonic() + VISIBILITY_WAIT_SECONDS
    while time.monotonic() < deadline:
        with database.session() as session:
            if session.scalar(select(Promotion.id).where(Promotion.id == promotion_id)) is not None:
                return
        time.sleep(0.05)


def _claim(database: Database, settings: Settings, promotion_id: int) -> _Claim | None:
    """Take the promotion for this thread, or None when it is finished or someone alive runs it.

    The guarded update (state, runner and attempt count unchanged since read)
    makes two workers picking up the same promotion agree on one of them.
    """
    _wait_until_visible(database, promotion_id)
    with database.session() as session:
        promotion = session.get(Promotion, promotion_id)
        if promotion is None:
            raise UnavailableError(
                f"promotion {promotion_id} is not visible (yet)", details={"promotion": promotion_id}
            )
        state = promotion.state
        if state in FINISHED_STATES or runner_alive(promotion, settings):
            log.info("promotion not claimed", promotion=promotion_id, state=state, runner=promotion.runner)
            return None
        now = utcnow()
        if promotion.attempts >= settings.promotions.max_attempts:
            _give_up(session, promotion, settings)
            return None
        runner = runner_name()
        new_state = PromotionState.RUNNING.value if state == PromotionState.REQUESTED.value else state
        won = rows_changed(
            session,
            update(Promotion)
            .where(
                Promotion.id == promotion_id,
                Promotion.state == state,
                Promotion.attempts == promotion.attempts,
            )
            .values(
                state=new_state,
                runner=runner,
                heartbeat_at=now,
                attempts=promotion.attempts + 1,
                started_at=promotion.started_at or now,
                updated_at=now,
            ),
        )
        if won != 1:
            return None
        detail = (
            "evidence job started"
            if promotion.attempts == 0
            else f"evidence job resumed (attempt {promotion.attempts + 1})"
        )
        if state == PromotionState.CANCELLING.value:
            detail = f"clean-up started (attempt {promotion.attempts + 1})"
        record_change(
            session,
            promotion,
            actor=_worker_actor(),
            from_state=state,
            to_state=new_state,
            detail=detail,
        )
        return _Claim(
            promotion_id=promotion_id,
            organization_id=promotion.organization_id,
            build_id=promotion.build_id,
            project=promotion.project,
            build=promotion.build,
            job_name=promotion.job_name,
            upload_regression=promotion.upload_regression,
            regression_key=promotion.regression_key,
            runner=runner,
            cleanup_only=state == PromotionState.CANCELLING.value,
        )


def _give_up(session: Session, promotion: Promotion, settings: Settings) -> None:
    now = utcnow()
    message = (
        f"gave up after {promotion.attempts} attempts (promotions.max_attempts "
        f"{settings.promotions.max_attempts}); last error: {promotion.error or promotion.delink_error}"
    )
    if promotion.state == PromotionState.CANCELLING.value:
        values: dict[str, Any] = {"state": PromotionState.CANCELLED.value, "delink_state": "failed"}
    else:
        values = {"state": PromotionState.FAILED.value, "error": message}
    rows_changed(
        session,
        update(Promotion)
        .where(Promotion.id == promotion.id, Promotion.state == promotion.state)
        .values(runner=None, finished_at=now, updated_at=now, **values),
    )
    record_change(
        session,
        promotion,
        actor=_worker_actor(),
        from_state=promotion.state,
        to_state=values["state"],
        detail=message,
    )


class _Watch:
    """Heartbeats the promotion and notices a cancel; given to the publisher as ``should_continue``."""

    def __init__(self, database: Database, settings: Settings, claim: _Claim) -> None:
        self.database = database
        self.claim = claim
        self.heartbeat_every = settings.promotions.heartbeat_seconds
        self._last_check = 0.0
        self._last_beat = time.monotonic()
        self.cancelling = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if self.cancelling or now - self._last_check < _CHECK_EVERY_SECONDS:
            return not self.cancelling
        self._last_check = now
        with self.database.session() as session:
            if now - self._last_beat >= self.heartbeat_every:
                self._last_beat = now
                rows_changed(
                    session,
                    update(Promotion)
                    .where(Promotion.id == self.claim.promotion_id, Promotion.runner == self.claim.runner)
                    .values(heartbeat_at=utcnow()),
                )
            state = session.scalar(select(Promotion.state).where(Promotion.id == self.claim.promotion_id))
        self.cancelling = state == PromotionState.CANCELLING.value
        return not self.cancelling

    def check(self) -> None:
        """Between steps: stop when the promotion is being cancelled."""
        self._last_check = 0.0
        if not self():
            raise _StoppedError


def run_promotion(database: Database, settings: Settings, promotion_id: int) -> str:
    """The evidence job of one promotion (a queue task); returns the promotion's state afterwards.

    Raises transient errors (UnavailableError, RemoteError…) for the queue to
    retry with backoff; the promotion keeps its state and progress.
    """
    claim = _claim(database, settings, promotion_id)
    if claim is None:
        return _state(database, promotion_id)
    watch = _Watch(database, settings, claim)
    try:
        if not claim.cleanup_only:
            with contextlib.suppress(_StoppedError):  # a cancel: go on to the clean-up
                _evidence(database, settings, claim, watch)
            if _finish(database, claim, PromotionState.SUCCEEDED, detail="evidence stored and published"):
                return PromotionState.SUCCEEDED.value
        _clean_up(database, settings, claim)
    except _TRANSIENT as exc:
        _release(database, claim, error=_message(exc))
        raise
    except EvidenceHubError as exc:
        _fail(database, claim, exc.message)
        raise
    except Exception as exc:
        # Not log.exception: a traceback's locals could carry payloads; the queue logs the failure.
        _fail(database, claim, f"unexpected error: {exc!r}")
        raise
    return _state(database, promotion_id)


_TRANSIENT: tuple[type[BaseException], ...] = (UnavailableError, RemoteError, ConnectionError, TimeoutError)


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text)[:2000]


def _state(database: Database, promotion_id: int) -> str:
    with database.session() as session:
        state = session.scalar(select(Promotion.state).where(Promotion.id == promotion_id))
    return state or "missing"


def _update(database: Database, claim: _Claim, **values: Any) -> None:
    with database.session() as session:
        rows_changed(
            session,
            update(Promotion)
            .where(Promotion.id == claim.promotion_id)
            .values(updated_at=utcnow(), heartbeat_at=utcnow(), **values),
        )


def _note(database: Database, claim: _Claim, detail: str) -> None:
    with database.session() as session:
        promotion = session.get_one(Promotion, claim.promotion_id)
        record_change(session, promotion, actor=_worker_actor(), to_state=None, detail=detail)


def _finish(database: Database, claim: _Claim, state: PromotionState, *, detail: str) -> bool:
    """running → ``state``; False when the promotion is no longer running (a cancel came first)."""
    now = utcnow()
    with database.session() as session:
        won = rows_changed(
            session,
            update(Promotion)
            .where(Promotion.id == claim.promotion_id, Promotion.state == PromotionState.RUNNING.value)
            .values(state=state.value, runner=None, finished_at=now, updated_at=now, error=None),
        )
        if won == 1:
            promotion = session.get_one(Promotion, claim.promotion_id)
            record_change(
                session,
                promotion,
                actor=_worker_actor(),
                from_state=PromotionState.RUNNING.value,
                to_state=state.value,
                detail=detail,
            )
    if won == 1:
        log.info("promotion finished", promotion=claim.promotion_id, state=state.value)
    return won == 1


def _release(database: Database, claim: _Claim, *, error: str) -> None:
    """A transient failure: keep the state, note the error, free the promotion for the retry."""
    with database.session() as session:
        promotion = session.get_one(Promotion, claim.promotion_id)
        column = "delink_error" if promotion.state == PromotionState.CANCELLING.value else "error"
        rows_changed(
            session,
            update(Promotion)
            .where(Promotion.id == claim.promotion_id, Promotion.runner == claim.runner)
            .values(runner=None, updated_at=utcnow(), **{column: error}),
        )
        record_change(
            session,
            promotion,
            actor=_worker_actor(),
            to_state=None,
            detail=f"interrupted by a transient error, will be retried: {error}",
        )
    log.warning("promotion job interrupted; it will be retried", promotion=claim.promotion_id, error=error)


def _fail(database: Database, claim: _Claim, error: str) -> None:
    """A permanent failure: running → failed; a clean-up that cannot succeed → cancelled, delink failed."""
    now = utcnow()
    with database.session() as session:
        promotion = session.get_one(Promotion, claim.promotion_id)
        before = promotion.state
        if before == PromotionState.CANCELLING.value:
            values: dict[str, Any] = {
                "state": PromotionState.CANCELLED.value,
                "delink_state": "failed",
                "delink_error": error,
            }
        else:
            values = {"state": PromotionState.FAILED.value, "error": error}
        rows_changed(
            session,
            update(Promotion)
            .where(Promotion.id == claim.promotion_id, Promotion.state == before)
            .values(runner=None, finished_at=now, updated_at=now, **values),
        )
        record_change(
            session,
            promotion,
            actor=_worker_actor(),
            from_state=before,
            to_state=values["state"],
            detail=error,
        )
    log.warning("promotion failed", promotion=claim.promotion_id, error=error)


def _evidence(database: Database, settings: Settings, claim: _Claim, watch: _Watch) -> None:
    """Collect the runs, store the bundle, publish to every target (each step skipped once done)."""
    with database.session() as session:
        run_ids = results.runs_of_build(
            session, project=claim.project, build=claim.build, organization_id=claim.organization_id
        )
        promotion = session.get_one(Promotion, claim.promotion_id)
        bundle_url = promotion.bundle_url
        organization = session.get_one(Organization, claim.organization_id).slug
    watch.check()
    if bundle_url is None:
        stored = store_evidence_bundle(database, settings, build_id=claim.build_id, name=claim.job_name)
        _update(
            database,
            claim,
            bundle_url=stored.url,
            bundle_sha256=stored.manifest_sha256,
            bundle_files=stored.files,
            bundle_bytes=stored.total_bytes,
        )
        _note(
            database,
            claim,
            f"evidence bundle of {len(run_ids)} run(s) stored: {stored.url} "
            f"({stored.files} files, {stored.total_bytes} bytes)",
        )
    for target in targets_for(settings, claim.project):
        watch.check()
        state = _publish(database, settings, claim, target, run_ids, organization, watch)
        if state == JobState.CANCELLED.value:
            if watch.cancelling:
                raise _StoppedError
            # Stopped by someone else (a Ctrl-C'd `publish --resume`): the next attempt resumes it.
            raise RemoteError(
                f"the {target} publish job was stopped before it finished", details={"target": target}
            )


def _publications(database: Database, claim: _Claim) -> dict[str, Any]:
    with database.session() as session:
        return dict(session.get_one(Promotion, claim.promotion_id).publications or {})


def _set_publication(database: Database, claim: _Claim, target: str, **values: Any) -> None:
    with database.session() as session:
        promotion = session.get_one(Promotion, claim.promotion_id)
        publications = dict(promotion.publications or {})
        publications[target] = {**publications.get(target, {}), **values}
        promotion.publications = publications  # a new dict: JSON columns track assignment, not mutation
        promotion.updated_at = utcnow()


def _publish(
    database: Database,
    settings: Settings,
    claim: _Claim,
    target: str,
    run_ids: list[int],
    organization: str,
    watch: _Watch,
) -> str:
    """Publish the runs to one target (create the job once, then run or resume it); returns its state."""
    publication = _publications(database, claim).get(target, {})
    job_id = publication.get("job_id") or publish_job_id(claim.job_name, target)
    backlog = claim.regression_key if claim.upload_regression and target == OCTANE else None
    try:
        job = publish.get_job(database, job_id)
    except NotFoundError:
        job = _create_job(database, settings, target, job_id, run_ids, organization, backlog, claim.project)
        _set_publication(database, claim, target, job_id=job.id, state=job.state, linked=False)
        _note(database, claim, f"{target}: publish job {job.id} created ({job.slices_total} slice(s))")
    if job.state == JobState.SUCCEEDED.value:
        if backlog and not publication.get("linked"):
            # The job succeeded before, but linking the backlog item did not: do only that.
            from evidencehub.publish.targets.octane.service import link_backlog

            outcome = link_backlog(database, settings, job.id, backlog)
            _set_publication(database, claim, target, state=job.state, linked=True, message=outcome.message)
            _note(database, claim, f"{target}: {outcome.message}")
        return job.state
    # On a cancel, the slices Octane holds are waited for, so that the delink sees everything they linked.
    final = publish.run_job(database, settings, job_id, should_continue=watch, drain_on_cancel=True)
    message = final.error or f"{final.slices_done}/{final.slices_total} slices published"
    linked = (
        bool(backlog) and final.state == JobState.SUCCEEDED.value
    )  # the target's after-job hook linked it
    _set_publication(database, claim, target, state=final.state, linked=linked, message=message)
    _note(database, claim, f"{target}: publish job {final.id} {final.state}: {message}")
    if final.state == JobState.FAILED.value:
        if final.slices_failed:
            raise InputError(
                f"publishing to {target} failed: {final.error} (job {final.id})",
                details={"job": final.id, "target": target},
            )
        # Nothing refused for good: the next attempt resumes the job where it stopped.
        raise RemoteError(
            f"publishing to {target} stopped: {final.error} (job {final.id})",
            details={"job": final.id, "target": target},
        )
    return final.state


def jira_project(settings: Settings, project: str) -> str:
    """The Jira project an xray publication goes to (``xray.project_keys``, else the key upper-cased)."""
    return settings.xray.project_keys.get(project) or project.upper()


def _create_job(
    database: Database,
    settings: Settings,
    target: str,
    job_id: str,
    run_ids: list[int],
    organization: str,
    backlog: str | None,
    project: str,
) -> Any:
    if target == OCTANE:
        from evidencehub.publish.targets.octane.service import PublishRequest, create_octane_job

        job, warnings = create_octane_job(
            database,
            settings,
            PublishRequest(run_ids=run_ids, backlog=backlog, job_id=job_id, organization=organization),
        )
        for warning in warnings:
            log.warning("octane publish job warning", job=job_id, warning=warning)
        return job
    if target == XRAY:
        from evidencehub.publish.targets.xray import service as xray

        return xray.create_xray_job(
            database,
            settings,
            xray.PublishRequest(
                project_key=jira_project(settings, project),
                run_ids=run_ids,
                job_id=job_id,
                organization=organization,
            ),
        )
    raise ConfigError(
        f"promotions cannot publish to {target!r}; they publish to {', '.join(PUBLISHING_TARGETS)}",
        details={"target": target},
    )


def _clean_up(database: Database, settings: Settings, claim: _Claim) -> None:
    """cancelling → cancelled: stop what still runs, then delink the backlog item from what was linked."""
    publications = _publications(database, claim)
    for target, publication in sorted(publications.items()):
        job_id = publication.get("job_id")
        if job_id and publish.get_job(database, job_id).state in (
            JobState.PENDING.value,
            JobState.RUNNING.value,
        ):
            # Left running by a crash, or never started: close it (nothing new is sent).
            final = publish.run_job(
                database, settings, job_id, should_continue=lambda: False, drain_on_cancel=True
            )
            _set_publication(database, claim, target, state=final.state, message=final.error)
    publication = publications.get(OCTANE, {})
    messages: list[str] = []
    delink_state = "none"
    if claim.upload_regression and claim.regression_key and publication.get("job_id"):
        from evidencehub.publish.targets.octane.service import delink_backlog

        with database.session() as session:
            rows_changed(
                session,
                update(Promotion)
                .where(Promotion.id == claim.promotion_id)
                .values(delink_attempts=Promotion.delink_attempts + 1, delink_state="pending"),
            )
        try:
            outcome = delink_backlog(database, settings, publication["job_id"], claim.regression_key)
            messages.append(outcome.message)
        except ConflictError as exc:
            messages.append(f"nothing to delink: {exc.message}")  # no slice reached Octane
        except NotFoundError as exc:
            messages.append(f"nothing to delink: {exc.message}")  # the backlog item is gone
        delink_state = "done"
    message = "; ".join(messages) or "nothing was linked: nothing to delink"
    now = utcnow()
    with database.session() as session:
        won = rows_changed(
            session,
            update(Promotion)
            .where(Promotion.id == claim.promotion_id, Promotion.state == PromotionState.CANCELLING.value)
            .values(
                state=PromotionState.CANCELLED.value,
                runner=None,
                finished_at=now,
                updated_at=now,
                delink_state=delink_state,
                delink_error=None,
                delink_message=message,
            ),
        )
        if won == 1:
            promotion = session.get_one(Promotion, claim.promotion_id)
            record_change(
                session,
                promotion,
                actor=_worker_actor(),
                from_state=PromotionState.CANCELLING.value,
                to_state=PromotionState.CANCELLED.value,
                detail=message,
            )
    log.info("promotion cancelled", promotion=claim.promotion_id, delink=message)


# ---------------------------------------------------------------- recovery (periodic task)


def recover(database: Database, settings: Settings, *, enqueue: Callable[[int], object] | None = None) -> int:
    """Put back on the queue every active promotion nobody runs (its worker died, or retries ran out).

    Runs when a worker starts and then every minute. Requested promotions are
    put back only once they have waited ``promotions.stale_seconds`` (their
    job may have been lost with a worker); a duplicate on the queue is harmless,
    as only one worker can claim a promotion.
    """
    if enqueue is None:
        from evidencehub.tasks import enqueue as put

        def enqueue(promotion_id: int) -> object:
            return put(settings, RUN_TASK, promotion_id)

    stale_before = utcnow() - dt.timedelta(seconds=settings.promotions.stale_seconds)
    with database.session() as session:
        candidates = list(session.scalars(select(Promotion).where(Promotion.state.in_(ACTIVE_STATES))))
        orphans = [
            promotion.id
            for promotion in candidates
            if (promotion.state == PromotionState.REQUESTED.value and promotion.updated_at < stale_before)
            or (promotion.state != PromotionState.REQUESTED.value and not runner_alive(promotion, settings))
        ]
    for promotion_id in orphans:
        enqueue(promotion_id)
    if orphans:
        log.info("promotions put back on the queue", promotions=orphans)
    return len(orphans)
