"""Report definitions and executions: create, start on the queue, run, time out, serve outputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evidencehub.config import Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.db.statements import rows_changed
from evidencehub.errors import InputError, NotFoundError, UnavailableError
from evidencehub.ops.logging import get_logger
from evidencehub.orgs.model import Organization
from evidencehub.reports.content import ReportDocument, available_kinds, build_sections
from evidencehub.reports.model import ReportDefinition, ReportExecution, ReportOutput
from evidencehub.reports.render import render_html, render_pdf
from evidencehub.reports.schemas import (
    ReportDefinitionCreate,
    ReportDefinitionOut,
    ReportExecutionOut,
    ReportOutputOut,
    ReportParameters,
)

log = get_logger(__name__)

EXECUTE_TASK = "reports.execute"
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
ACTIVE_STATUSES = ("queued", "processing")


def _definition_out(definition: ReportDefinition) -> ReportDefinitionOut:
    return ReportDefinitionOut(
        id=definition.id,
        name=definition.name,
        kind=definition.kind,
        parameters=definition.parameters,
        created_at=definition.created_at,
    )


def create_definition(
    session: Session, organization_id: int, request: ReportDefinitionCreate, *, actor_user_id: int | None
) -> ReportDefinitionOut:
    if request.kind not in available_kinds():
        raise InputError(
            f"report kind '{request.kind}' is not available in this installation; "
            f"available: {', '.join(available_kinds())}",
            details={"field": "kind"},
        )
    definition = ReportDefinition(
        organization_id=organization_id,
        name=request.name,
        kind=request.kind,
        parameters=request.parameters.model_dump(exclude_defaults=True),
        created_by=actor_user_id,
    )
    session.add(definition)
    session.flush()
    return _definition_out(definition)


def _definition(session: Session, organization_id: int, report_id: int) -> ReportDefinition:
    definition = session.scalar(
        select(ReportDefinition).where(
            ReportDefinition.id == report_id, ReportDefinition.organization_id == organization_id
        )
    )
    if definition is None:
        raise NotFoundError(f"report {report_id} does not exist", details={"report": report_id})
    return definition


def get_definition(session: Session, organization_id: int, report_id: int) -> ReportDefinitionOut:
    return _definition_out(_definition(session, organization_id, report_id))


def list_definitions(
    session: Session, organization_id: int, *, limit: int, after_id: int | None = None
) -> list[ReportDefinitionOut]:
    query = (
        select(ReportDefinition)
        .where(ReportDefinition.organization_id == organization_id)
        .order_by(ReportDefinition.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(ReportDefinition.id > after_id)
    return [_definition_out(definition) for definition in session.scalars(query)]


def delete_definition(session: Session, organization_id: int, report_id: int) -> None:
    session.delete(_definition(session, organization_id, report_id))


# ---------------------------------------------------------------- executions


def _execution_out(session: Session, execution: ReportExecution) -> ReportExecutionOut:
    outputs = session.execute(
        select(ReportOutput.format, ReportOutput.media_type, ReportOutput.size_bytes)
        .where(ReportOutput.execution_id == execution.id)
        .order_by(ReportOutput.format)
    ).all()
    base = f"/api/v1/reports/{execution.definition_id}/executions/{execution.id}/output"
    return ReportExecutionOut(
        id=execution.id,
        report_id=execution.definition_id,
        status=execution.status,
        requested_at=execution.requested_at,
        started_at=execution.started_at,
        finished_at=execution.finished_at,
        deadline_at=execution.deadline_at,
        error=execution.error,
        outputs=[
            ReportOutputOut(format=fmt, media_type=media, size_bytes=size, url=f"{base}?format={fmt}")
            for fmt, media, size in outputs
        ],
    )


def start_execution(
    database: Database, settings: Settings, organization_id: int, report_id: int, *, actor_user_id: int | None
) -> ReportExecutionOut:
    """Record a queued execution and put it on the task queue.

    When the queue is unreachable the execution is marked failed (it would
    never run) and UnavailableError is raised for the caller to answer 503.
    """
    from evidencehub.tasks import enqueue

    with database.session() as session:
        definition = _definition(session, organization_id, report_id)
        execution = ReportExecution(
            organization_id=organization_id,
            definition_id=definition.id,
            status="queued",
            requested_by=actor_user_id,
            requested_at=utcnow(),
        )
        session.add(execution)
        session.flush()
        execution_id = execution.id
    try:
        task_id = enqueue(settings, EXECUTE_TASK, execution_id)
    except UnavailableError as exc:
        _finish(database, execution_id, "failed", error=exc.message, from_statuses=("queued",))
        raise
    with database.session() as session:
        rows_changed(
            session, update(ReportExecution).where(ReportExecution.id == execution_id).values(task_id=task_id)
        )
        return _execution_out(session, session.get_one(ReportExecution, execution_id))


def _execution(session: Session, organization_id: int, report_id: int, execution_id: int) -> ReportExecution:
    execution = session.scalar(
        select(ReportExecution).where(
            ReportExecution.id == execution_id,
            ReportExecution.definition_id == report_id,
            ReportExecution.organization_id == organization_id,
        )
    )
    if execution is None:
        raise NotFoundError(
            f"execution {execution_id} of report {report_id} does not exist",
            details={"report": report_id, "execution": execution_id},
        )
    return execution


def get_execution(
    session: Session, settings: Settings, organization_id: int, report_id: int, execution_id: int
) -> ReportExecutionOut:
    sweep(session, settings, organization_id=organization_id)
    return _execution_out(session, _execution(session, organization_id, report_id, execution_id))


def list_executions(
    session: Session,
    settings: Settings,
    organization_id: int,
    report_id: int,
    *,
    limit: int,
    before_id: int | None = None,
    status: str | None = None,
) -> list[ReportExecutionOut]:
    """Executions of a report, newest first; stuck ones are timed out before they are shown."""
    _definition(session, organization_id, report_id)
    sweep(session, settings, organization_id=organization_id)
    query = (
        select(ReportExecution)
        .where(ReportExecution.definition_id == report_id, ReportExecution.organization_id == organization_id)
        .order_by(ReportExecution.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(ReportExecution.id < before_id)
    if status:
        query = query.where(ReportExecution.status == status)
    return [_execution_out(session, execution) for execution in session.scalars(query)]


def get_output(
    session: Session, organization_id: int, report_id: int, execution_id: int, fmt: str
) -> tuple[bytes, str, str]:
    """(content, media type, file name) of a completed execution's output."""
    execution = _execution(session, organization_id, report_id, execution_id)
    output = session.scalar(
        select(ReportOutput).where(ReportOutput.execution_id == execution.id, ReportOutput.format == fmt)
    )
    if output is None:
        raise NotFoundError(
            f"execution {execution_id} has no {fmt} output (status {execution.status})",
            details={"execution": execution_id, "format": fmt, "status": execution.status},
        )
    return output.content, output.media_type, f"report-{report_id}-execution-{execution_id}.{fmt}"


# ---------------------------------------------------------------- running (task side)


def run_execution(database: Database, settings: Settings, execution_id: int) -> str:
    """Claim a queued execution, render its outputs and store them; returns the final status.

    Only a queued execution is claimed (a duplicate delivery does nothing) and
    only a processing one is finished, so the watchdog's verdict stands even
    when a slow rendering ends after its deadline.
    """
    now = utcnow()
    deadline = now + dt.timedelta(seconds=settings.reports.execution_timeout_seconds)
    with database.session() as session:
        claimed = rows_changed(
            session,
            update(ReportExecution)
            .where(ReportExecution.id == execution_id, ReportExecution.status == "queued")
            .values(status="processing", started_at=now, deadline_at=deadline),
        )
        if claimed != 1:
            current = session.get(ReportExecution, execution_id)
            log.info(
                "report execution not claimed",
                execution=execution_id,
                status=current.status if current else None,
            )
            return current.status if current else "missing"
        execution = session.get_one(ReportExecution, execution_id)
        definition = session.get_one(ReportDefinition, execution.definition_id)
        organization = session.get_one(Organization, execution.organization_id)
        kind, name, parameters = definition.kind, definition.name, ReportParameters(**definition.parameters)
    log.info("report execution started", execution=execution_id, kind=kind)
    try:
        with database.session() as session:
            sections = build_sections(session, kind, organization.id, parameters)
        document = ReportDocument(
            title=name,
            subtitle=_subtitle(kind, parameters),
            organization=organization.slug,
            generated_at=utcnow(),
            sections=sections,
        )
        html = render_html(document)
        pdf = render_pdf(html, settings.reports)
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        log.warning("report execution failed", execution=execution_id, error=message)
        return _finish(database, execution_id, "failed", error=message[:2000])
    return _finish(database, execution_id, "completed", outputs={"html": html.encode("utf-8"), "pdf": pdf})


def _subtitle(kind: str, parameters: ReportParameters) -> str:
    scope = [
        f"{label} {value}"
        for label, value in (
            ("project", parameters.project),
            ("release", parameters.release),
            ("build", parameters.build),
        )
        if value
    ]
    return f"{kind} report" + (" · " + ", ".join(scope) if scope else " · all projects")


def _finish(
    database: Database,
    execution_id: int,
    status: str,
    *,
    error: str | None = None,
    outputs: dict[str, bytes] | None = None,
    from_statuses: tuple[str, ...] = ("processing",),
) -> str:
    with database.session() as session:
        finished = rows_changed(
            session,
            update(ReportExecution)
            .where(ReportExecution.id == execution_id, ReportExecution.status.in_(from_statuses))
            .values(status=status, finished_at=utcnow(), error=error),
        )
        if finished != 1:
            current = session.get_one(ReportExecution, execution_id)
            log.warning("report execution finished too late", execution=execution_id, status=current.status)
            return current.status
        for fmt, content in (outputs or {}).items():
            session.add(
                ReportOutput(
                    execution_id=execution_id,
                    format=fmt,
                    media_type=MEDIA_TYPES[fmt],
                    size_bytes=len(content),
                    content=content,
                )
            )
    log.info("report execution finished", execution=execution_id, status=status)
    return status


def sweep(
    session: Session,
    settings: Settings,
    *,
    organization_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """The watchdog: time out executions processing past their deadline, fail ones never picked up.

    Returns how many executions it ended. Runs periodically on the queue and
    before executions are shown, so none is ever reported "processing" forever.
    """
    moment = now or utcnow()
    scope: list[Any] = (
        [ReportExecution.organization_id == organization_id] if organization_id is not None else []
    )

    def end(status: str, error: str, *where: Any) -> int:
        """Ends the executions ``where`` selects (of the organization, when one is given)."""
        return rows_changed(
            session,
            update(ReportExecution)
            .where(*where, *scope)
            .values(status=status, finished_at=moment, error=error),
        )

    timed_out = end(
        "timed_out",
        f"still processing after {settings.reports.execution_timeout_seconds:g} s: stopped by the watchdog",
        ReportExecution.status == "processing",
        ReportExecution.deadline_at < moment,
    )
    stale = moment - dt.timedelta(seconds=settings.reports.queued_timeout_seconds)
    never_started = end(
        "failed",
        f"not picked up within {settings.reports.queued_timeout_seconds:g} s: "
        "is a worker running (`evidencehub worker`, or `serve` with queue.consumer_threads > 0)?",
        ReportExecution.status == "queued",
        ReportExecution.requested_at < stale,
    )
    if timed_out or never_started:
        log.warning("report watchdog ended executions", timed_out=timed_out, never_started=never_started)
    return int(timed_out + never_started)
