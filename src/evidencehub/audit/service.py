"""The audit service: read test-case sources, assess each ticket, render, summarise, store.

No terminal, no HTTP: the CLI (and later the web API) call :func:`run_audit`
and the query functions at the bottom.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidencehub.audit.checks import (
    AutomationAgrees,
    CheckContext,
    Issue,
    claims,
    evidence_params,
    is_resilience,
)
from evidencehub.audit.facts import Facts, gather
from evidencehub.audit.i18n import message
from evidencehub.audit.model import AuditReport, AuditTicketRecord
from evidencehub.audit.repo import RepoIndex
from evidencehub.audit.rubric import Rubric, load_rubric
from evidencehub.audit.schemas import (
    LANGUAGES,
    SEVERITIES,
    AuditResult,
    AuditSummary,
    CodeLink,
    FieldCount,
    FieldFinding,
    Language,
    StoredReport,
    StoredReportDetail,
    StoredTicket,
    TestCaseDocument,
    TestEvidence,
    TicketAudit,
    TicketScore,
)
from evidencehub.audit.scoring import Assessment, assess
from evidencehub.audit.sources import ReadOptions, read_documents, renamed, renamed_error
from evidencehub.audit.template import render_template
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError, NotFoundError
from evidencehub.orgs.service import ensure_organization
from evidencehub.results import service as results_service
from evidencehub.results.model import Project

DISTRIBUTION_BUCKETS: tuple[tuple[str, float], ...] = (
    ("90-100", 90),
    ("75-89", 75),
    ("50-74", 50),
    ("0-49", 0),
)


class EvidenceSource(Protocol):
    """Finds the latest ingested result of the test a ticket describes."""

    def latest(self, document: TestCaseDocument, code: CodeLink | None) -> TestEvidence | None: ...


@dataclass
class ResultsEvidence:
    """Evidence from ingested runs, through the results service (never its tables)."""

    session: Session
    organization_id: int | None
    project: str | None = None

    def latest(self, document: TestCaseDocument, code: CodeLink | None) -> TestEvidence | None:
        classname, name = _junit_identity(code) if code is not None else (None, None)
        match = results_service.TestMatch(xray_key=document.key, classname=classname, name=name)
        if match.xray_key is None and match.name is None:
            return None
        found = results_service.latest_result(
            self.session, match, organization_id=self.organization_id, project=self.project
        )
        if found is None:
            return None
        return TestEvidence(
            status=found.status,
            run_id=found.run_id,
            project=found.project,
            build=found.build,
            release=found.release,
            environment=found.environment,
            executed_at=found.executed_at,
            test_key=found.test_key,
            classname=found.classname,
            name=found.name,
            message=found.message,
            matched_by=found.matched_by,
        )


def _junit_identity(code: CodeLink) -> tuple[str, str]:
    """pytest's JUnit classname (module basename + classes, dotted) and name for a node id."""
    module = PurePosixPath(code.file).stem
    classes = code.classname.split("::") if code.classname else []
    return ".".join([module, *classes]), code.function


@dataclass
class TicketAssessment:
    document: TestCaseDocument
    assessment: Assessment
    facts: Facts
    evidence: TestEvidence | None
    contradiction: tuple[str, dict[str, object]] | None
    automated: bool | None


@dataclass
class AuditOptions:
    rubric: Rubric
    repo: RepoIndex | None = None
    evidence: EvidenceSource | None = None
    today: dt.date | None = None
    fail_under: float | None = None


def assess_documents(documents: Sequence[TestCaseDocument], options: AuditOptions) -> list[TicketAssessment]:
    """Each document against the rubric, with its linked code and evidence."""
    assessments = []
    automation_params = _automation_params(options.rubric)
    for document in documents:
        code = document.code
        if code is None and options.repo is not None:
            linked = options.repo.linked(document.key)
            code = linked.link() if linked is not None else None
        resilience = is_resilience(document, options.rubric)
        evidence = options.evidence.latest(document, code) if options.evidence is not None else None
        context = CheckContext(
            document=document.model_copy(update={"code": code}),
            rubric=options.rubric,
            resilience=resilience,
            evidence=evidence,
            evidence_checked=options.evidence is not None,
            repo=options.repo,
        )
        assessment = assess(document, options.rubric, context)
        facts = gather(
            document, options.rubric, resilience=resilience, code=code, evidence=evidence, repo=options.repo
        )
        claim = _automation_claim(assessment, automation_params)
        contradiction = None
        if claim == "manual" and evidence is not None:
            contradiction = ("contradiction.manual_with_results", evidence_params(evidence))
        elif claim == "automated" and options.evidence is not None and evidence is None:
            contradiction = ("contradiction.automated_never_ran", {})
        automated = (
            True
            if (evidence is not None or code is not None)
            else (None if claim is None else claim == "automated")
        )
        assessments.append(TicketAssessment(document, assessment, facts, evidence, contradiction, automated))
    return assessments


def _automation_params(rubric: Rubric) -> AutomationAgrees | None:
    for rubric_field in rubric.fields:
        for spec in rubric_field.checks:
            if spec.check == "automation_agrees":
                return AutomationAgrees.model_validate(spec.params)
    return None


def _automation_claim(assessment: Assessment, params: AutomationAgrees | None) -> str | None:
    if params is None:
        return None
    for item in assessment.fields:
        if any(spec.check == "automation_agrees" for spec in item.field.checks) and item.values:
            text = "\n".join(value.text or " ".join(value.items) for value in item.values)
            return claims(text, params)
    return None


def issue_text(issue: Issue, language: Language) -> str:
    if issue.text is not None:
        return issue.text.get(language)
    return message(language, f"reason.{issue.code}", **issue.params)


def ticket_audit(
    ticket: TicketAssessment,
    rubric: Rubric,
    language: Language,
    *,
    template: bool,
    today: dt.date | None = None,
) -> TicketAudit:
    """One ticket's findings in ``language`` (and its filled template, when asked)."""
    findings = []
    for item in ticket.assessment.fields:
        reasons = [
            issue_text(issue, language)
            for issue in item.issues
            if item.status != "present" or not issue.blocking
        ]
        findings.append(
            FieldFinding(
                field=item.field.name.en,
                id=item.field.id,
                label=item.field.label(language),
                severity=item.field.severity,
                status=item.status,
                reason="; ".join(reasons) or None,
                found_in=", ".join(dict.fromkeys(value.location for value in item.values if value.location))
                or None,
                what=item.field.explain.what.get(language),
                why=item.field.explain.why.get(language),
                where=item.field.explain.where.get(language),
            )
        )
    document = ticket.document
    draft = None
    if template:
        draft = render_template(
            ticket.facts,
            rubric,
            findings,
            {item.field.id: item.values for item in ticket.assessment.fields},
            language=language,
            source=document.source,
            today=today,
        )
    contradiction = (
        message(language, ticket.contradiction[0], **ticket.contradiction[1])
        if ticket.contradiction
        else None
    )
    return TicketAudit(
        key=document.key,
        summary=document.summary,
        source=document.source,
        source_format=document.source_format,
        score=ticket.assessment.score,
        fields=findings,
        not_applicable=[item.label(language) for item in ticket.assessment.not_applicable],
        automated=ticket.automated,
        contradiction=contradiction,
        evidence=ticket.evidence,
        code=ticket.facts.code,
        template=draft,
    )


def summarize(
    tickets: Sequence[TicketAudit], rubric: Rubric, language: Language, fail_under: float | None
) -> AuditSummary:
    scores = [ticket.score for ticket in tickets]
    distribution = dict.fromkeys((name for name, _ in DISTRIBUTION_BUCKETS), 0)
    for value in scores:
        bucket = next(name for name, floor in DISTRIBUTION_BUCKETS if value >= floor)
        distribution[bucket] += 1
    missing: Counter[str] = Counter()
    insufficient: Counter[str] = Counter()
    for ticket in tickets:
        for finding in ticket.fields:
            if finding.status == "missing":
                missing[finding.id] += 1
            elif finding.status == "insufficient":
                insufficient[finding.id] += 1
    counts = [
        FieldCount(
            field=item.name.en,
            id=item.id,
            label=item.label(language),
            severity=item.severity,
            missing=missing[item.id],
            insufficient=insufficient[item.id],
        )
        for item in rubric.fields
        if missing[item.id] or insufficient[item.id]
    ]
    counts.sort(key=lambda count: (-(count.missing + count.insufficient), SEVERITIES.index(count.severity)))
    return AuditSummary(
        tickets=len(tickets),
        average_score=round(sum(scores) / len(scores), 1) if scores else 0.0,
        lowest_score=min(scores) if scores else None,
        distribution=distribution,
        most_often_missing=counts,
        contradictions=[
            {"key": ticket.key or ticket.source, "reason": ticket.contradiction}
            for ticket in tickets
            if ticket.contradiction
        ],
        below_threshold=[
            ticket.key or ticket.source
            for ticket in tickets
            if fail_under is not None and ticket.score < fail_under
        ],
        fail_under=fail_under,
    )


def render_result(
    assessments: Sequence[TicketAssessment],
    options: AuditOptions,
    language: Language,
    *,
    template: bool,
) -> AuditResult:
    tickets = [
        ticket_audit(item, options.rubric, language, template=template, today=options.today)
        for item in assessments
    ]
    return AuditResult(
        rubric=options.rubric.name,
        rubric_version=options.rubric.version,
        language=language,
        tickets=tickets,
        summary=summarize(tickets, options.rubric, language, options.fail_under),
    )


@dataclass
class AuditRequest:
    paths: Sequence[Path]
    rubric: Path | None = None
    repo: Path | None = None
    language: Language = "en"
    template: bool = False
    fail_under: float | None = None
    source_format: str = "auto"
    project: str | None = None
    organization: str | None = None
    use_evidence: bool = True
    created_by: str | None = None
    today: dt.date | None = None
    extra_field_names: dict[str, str] = field(default_factory=dict)
    # Path (prefix) → the name shown for it: uploads are named as the uploader named them, not by spool path.
    source_names: dict[str, str] = field(default_factory=dict)


def run_audit(request: AuditRequest, settings: Settings, database: Database | None) -> AuditResult:
    """Audit the files; with a database, link ingested evidence; with a project, store the report too."""
    if request.fail_under is not None and not 0 <= request.fail_under <= 100:
        raise InputError("--fail-under must be between 0 and 100", details={"parameter": "fail_under"})
    rubric = load_rubric(request.rubric or settings.audit.rubric)
    repo = RepoIndex.build(request.repo) if request.repo is not None else None
    read_options = ReadOptions(
        jira_field_names={**settings.audit.jira_field_names, **request.extra_field_names},
        max_bytes=settings.audit.max_file_mb * 1024 * 1024,
        repo=request.repo,
    )
    shown = [_shown(str(path), request.source_names) for path in request.paths]
    try:
        documents = renamed(
            read_documents(request.paths, read_options, request.source_format), request.source_names
        )
    except InputError as exc:
        raise renamed_error(exc, request.source_names) from exc
    if not documents:
        raise InputError("no test cases found in the given files", details={"files": shown})
    options = AuditOptions(rubric=rubric, repo=repo, today=request.today, fail_under=request.fail_under)
    if database is None or (not request.use_evidence and request.project is None):
        assessments = assess_documents(documents, options)
        return render_result(assessments, options, request.language, template=request.template)
    organization_slug = request.organization or settings.default_organization
    with database.session() as session:
        organization_id = results_service.organization_id_for(session, organization_slug)
        if request.use_evidence:
            options.evidence = ResultsEvidence(session, organization_id, request.project)
        assessments = assess_documents(documents, options)
        result = render_result(assessments, options, request.language, template=request.template)
        if request.project is not None:
            result.report_id = _store(session, request, organization_slug, assessments, options, result)
    return result


def _shown(path: str, names: dict[str, str]) -> str:
    for prefix, name in sorted(names.items(), key=lambda item: -len(item[0])):
        if path.startswith(prefix):
            return name + path[len(prefix) :]
    return path


def _store(
    session: Session,
    request: AuditRequest,
    organization_slug: str,
    assessments: Sequence[TicketAssessment],
    options: AuditOptions,
    result: AuditResult,
) -> int:
    organization = ensure_organization(session, organization_slug)
    project = session.scalar(
        select(Project).where(Project.organization_id == organization.id, Project.key == request.project)
    )
    if project is None:
        raise NotFoundError(
            f"project '{request.project}' does not exist in organization '{organization_slug}' "
            "(ingest results for it first)",
            details={"project": request.project},
        )
    by_language = {
        language: result
        if language == result.language and request.template
        else render_result(assessments, options, language, template=True)
        for language in LANGUAGES
    }
    report = AuditReport(
        organization_id=organization.id,
        project_id=project.id,
        created_by=request.created_by,
        rubric_name=options.rubric.name,
        rubric_version=options.rubric.version,
        sources=[_shown(str(path), request.source_names) for path in request.paths],
        ticket_count=len(result.tickets),
        average_score=result.summary.average_score,
        summary={
            language: rendered.summary.model_dump(mode="json") for language, rendered in by_language.items()
        },
    )
    for position, item in enumerate(assessments):
        audits = {language: rendered.tickets[position] for language, rendered in by_language.items()}
        report.tickets.append(
            AuditTicketRecord(
                key=item.document.key,
                summary=item.document.summary,
                source=item.document.source[:2000],
                source_format=item.document.source_format,
                score=item.assessment.score,
                findings={
                    language: audit.model_dump(mode="json", exclude={"template"})
                    for language, audit in audits.items()
                },
                templates={language: audit.template for language, audit in audits.items()},
                document=item.document.model_dump(mode="json"),
            )
        )
    session.add(report)
    session.flush()
    return report.id


# --- queries for the web API and the dashboard --------------------------------------------------------


def _stored(report: AuditReport, project: Project, language: Language) -> StoredReport:
    return StoredReport(
        id=report.id,
        project=project.key,
        created_at=report.created_at,
        created_by=report.created_by,
        rubric=report.rubric_name,
        rubric_version=report.rubric_version,
        sources=list(report.sources),
        tickets=report.ticket_count,
        average_score=report.average_score,
        summary=AuditSummary.model_validate(report.summary[language]),
    )


def list_reports(
    session: Session,
    *,
    organization_id: int | None = None,
    project: str | None = None,
    language: Language = "en",
    limit: int = 50,
    before_id: int | None = None,
) -> list[StoredReport]:
    """Stored audit reports, newest first (each with its summary: distribution, most often missing…).

    Keyset-paged by ``before_id`` (reports older than that id).
    """
    if not 1 <= limit <= 1000:
        raise InputError("limit must be between 1 and 1000", details={"parameter": "limit"})
    query = select(AuditReport, Project).join(Project, Project.id == AuditReport.project_id)
    if before_id is not None:
        query = query.where(AuditReport.id < before_id)
    if organization_id is not None:
        query = query.where(AuditReport.organization_id == organization_id)
    if project is not None:
        query = query.where(Project.key == project)
    rows = session.execute(query.order_by(AuditReport.id.desc()).limit(limit)).all()
    return [_stored(report, found_project, language) for report, found_project in rows]


def report_tickets(
    session: Session, report_id: int, *, organization_id: int | None = None, language: Language = "en"
) -> tuple[StoredReport, list[StoredTicket]]:
    """A stored report and its tickets' scores and findings; NotFoundError when absent."""
    query = (
        select(AuditReport, Project)
        .join(Project, Project.id == AuditReport.project_id)
        .where(AuditReport.id == report_id)
    )
    if organization_id is not None:
        query = query.where(AuditReport.organization_id == organization_id)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(f"audit report {report_id} does not exist", details={"report": report_id})
    report, project = row
    tickets = [_stored_ticket(ticket, language) for ticket in report.tickets]
    return _stored(report, project, language), tickets


def report_detail(
    session: Session, report_id: int, *, organization_id: int | None = None, language: Language = "en"
) -> StoredReportDetail:
    """A stored report, its summary (most often missing fields…) and each ticket's score."""
    report, tickets = report_tickets(session, report_id, organization_id=organization_id, language=language)
    return StoredReportDetail(
        **report.model_dump(),
        ticket_scores=[
            TicketScore(
                id=ticket.id,
                key=ticket.key,
                summary=ticket.summary,
                score=ticket.score,
                missing=sum(1 for finding in ticket.audit.fields if finding.status == "missing"),
                insufficient=sum(1 for finding in ticket.audit.fields if finding.status == "insufficient"),
            )
            for ticket in tickets
        ],
    )


def report_ticket(
    session: Session,
    report_id: int,
    ticket_id: int,
    *,
    organization_id: int | None = None,
    language: Language = "en",
) -> StoredTicket:
    """One ticket of a stored report: its findings and filled template; NotFoundError when absent."""
    query = (
        select(AuditTicketRecord)
        .join(AuditReport, AuditReport.id == AuditTicketRecord.report_id)
        .where(AuditTicketRecord.id == ticket_id, AuditTicketRecord.report_id == report_id)
    )
    if organization_id is not None:
        query = query.where(AuditReport.organization_id == organization_id)
    ticket = session.scalar(query)
    if ticket is None:
        raise NotFoundError(
            f"ticket {ticket_id} of audit report {report_id} does not exist",
            details={"report": report_id, "ticket": ticket_id},
        )
    return _stored_ticket(ticket, language)


def _stored_ticket(ticket: AuditTicketRecord, language: Language) -> StoredTicket:
    return StoredTicket(
        id=ticket.id,
        report_id=ticket.report_id,
        key=ticket.key,
        summary=ticket.summary,
        score=ticket.score,
        audit=TicketAudit.model_validate(ticket.findings[language]),
        template=ticket.templates.get(language),
    )


def ticket_history(
    session: Session, key: str, *, organization_id: int | None = None, limit: int = 50
) -> list[tuple[int, dt.datetime, float]]:
    """(report id, when, score) of a ticket across stored reports, newest first."""
    query = (
        select(AuditReport.id, AuditReport.created_at, AuditTicketRecord.score)
        .join(AuditTicketRecord, AuditTicketRecord.report_id == AuditReport.id)
        .where(AuditTicketRecord.key == key)
        .order_by(AuditReport.id.desc())
        .limit(limit)
    )
    if organization_id is not None:
        query = query.where(AuditReport.organization_id == organization_id)
    return [(row[0], row[1], row[2]) for row in session.execute(query).all()]
