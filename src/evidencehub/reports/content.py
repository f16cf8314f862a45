"""What each kind of report says, as a neutral document (sections of text and tables).

Builders read through other domains' services only. A domain can add or
replace a kind with :func:`register_kind` (the audit domain registers "audit").
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from evidencehub.errors import InputError
from evidencehub.reports.schemas import ReportParameters
from evidencehub.results.schemas import RunSummary
from evidencehub.results.service import RunFilter, list_runs, run_results
from evidencehub.results.status import Status


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)  # column indexes aligned right


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    table: Table | None = None


@dataclass
class ReportDocument:
    title: str
    subtitle: str
    organization: str
    generated_at: dt.datetime
    sections: list[Section] = field(default_factory=list)


Builder = Callable[[Session, int, ReportParameters], list[Section]]
_BUILDERS: dict[str, Builder] = {}


def register_kind(kind: str, builder: Builder) -> None:
    _BUILDERS[kind] = builder


def available_kinds() -> list[str]:
    return sorted(_BUILDERS)


def build_sections(
    session: Session, kind: str, organization_id: int, parameters: ReportParameters
) -> list[Section]:
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise InputError(
            f"report kind '{kind}' has no builder in this installation; "
            f"available: {', '.join(available_kinds())}",
            details={"kind": kind},
        )
    return builder(session, organization_id, parameters)


def _runs(
    session: Session, organization_id: int, parameters: ReportParameters, limit: int
) -> list[RunSummary]:
    return list_runs(
        session,
        RunFilter(
            organization_id=organization_id,
            project=parameters.project,
            build=parameters.build,
            release=parameters.release,
            limit=limit,
        ),
    )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _runs_table(runs: list[RunSummary]) -> Table:
    return Table(
        columns=[
            "run",
            "project",
            "build",
            "release",
            "environment",
            "tests",
            "passed",
            "failures",
            "errors",
            "skipped",
            "flaky",
            "pass rate",
        ],
        rows=[
            [
                str(run.id),
                run.project,
                run.build,
                run.release or "",
                run.environment or "",
                str(run.totals.tests),
                str(run.totals.passed),
                str(run.totals.failures),
                str(run.totals.errors),
                str(run.totals.skipped),
                str(run.totals.flaky),
                _percent(run.totals.passed, run.totals.tests - run.totals.skipped),
            ]
            for run in runs
        ],
        numeric={0, 5, 6, 7, 8, 9, 10, 11},
    )


def _failures(
    session: Session, runs: list[RunSummary], limit: int
) -> list[tuple[RunSummary, str, str, str, str]]:
    found: list[tuple[RunSummary, str, str, str, str]] = []
    for run in runs:
        remaining = limit - len(found)
        if remaining <= 0:
            break
        for result in run_results(
            session, run.id, statuses=[Status.FAILED, Status.ERROR], limit=min(remaining, 10_000)
        ):
            first_line = (result.message or "").strip().splitlines()[0] if result.message else ""
            found.append((run, result.test_key, result.status, result.failure_type or "", first_line[:300]))
    return found


def evidence_sections(session: Session, organization_id: int, parameters: ReportParameters) -> list[Section]:
    runs = _runs(session, organization_id, parameters, limit=1000)
    if not runs:
        return [Section("Runs", ["No runs match this report's project, build and release."])]
    totals = Counter[str]()
    for run in runs:
        totals.update(
            run.totals.model_dump(include={"tests", "passed", "failures", "errors", "skipped", "flaky"})
        )
    executed = totals["tests"] - totals["skipped"]
    summary = Section(
        "Summary",
        [
            f"{len(runs)} run(s), {totals['tests']} test results: {totals['passed']} passed, "
            f"{totals['failures']} failed, {totals['errors']} errors, {totals['skipped']} skipped, "
            f"{totals['flaky']} flaky. Pass rate of executed tests: {_percent(totals['passed'], executed)}."
        ],
    )
    failures = _failures(session, runs, parameters.max_failures)
    failure_section = Section(
        "Failures and errors",
        [] if failures else ["None: every executed test passed."],
        Table(
            ["run", "test", "status", "type", "message"],
            [[str(r.id), key, status, kind, message] for r, key, status, kind, message in failures],
            {0},
        )
        if failures
        else None,
    )
    if len(failures) >= parameters.max_failures:
        failure_section.paragraphs.append(f"Only the first {parameters.max_failures} are listed.")
    return [summary, Section("Runs", table=_runs_table(runs)), failure_section]


def triage_sections(session: Session, organization_id: int, parameters: ReportParameters) -> list[Section]:
    """The triage domain's view of the runs' failures: categories, unique errors and people's decisions.

    Only a triage pass gives failures a category and a cluster, so a run with failures that was never
    triaged is named, with the command that triages it, instead of being guessed at here.
    """
    from evidencehub.triage.browse import explained_clusters, needs_triage
    from evidencehub.triage.categories import CATEGORY_ORDER
    from evidencehub.triage.report import SUMMARY_COLUMNS, summary_row
    from evidencehub.triage.schemas import TriageReport
    from evidencehub.triage.service import triage_report

    runs = _runs(session, organization_id, parameters, limit=1000)
    failing = [run for run in runs if run.totals.failures + run.totals.errors]
    if not failing:
        return [Section("Failures by category", ["No failures or errors in the runs this report covers."])]
    reports: dict[int, TriageReport] = {}
    untriaged: list[RunSummary] = []
    for run in failing:
        if needs_triage(session, run.id, organization_id=organization_id):
            untriaged.append(run)
        else:
            reports[run.id] = triage_report(session, run.id, organization_id=organization_id)

    by_category = Counter[str]()
    for report in reports.values():
        by_category.update(report.summary.by_category)
    triaged_failures = sum(report.summary.failures for report in reports.values())
    unique_errors = sum(report.summary.clusters for report in reports.values())
    categories = [category.value for category in CATEGORY_ORDER]
    overview = Section(
        "Failures by category",
        [
            f"{triaged_failures} triaged failures in {unique_errors} unique errors, "
            f"{len(reports)} of {len(failing)} run(s) with failures triaged."
        ],
        Table(
            ["category", "failures"],
            [[name, str(by_category[name])] for name in categories],
            {1},
        ),
    )
    per_run = Section(
        "Runs",
        table=Table(
            ["run", "project", "build", "failing results", "unique errors", *categories],
            [
                [str(run.id), run.project, run.build, str(run.totals.failures + run.totals.errors)]
                + (
                    [str(reports[run.id].summary.clusters)]
                    + [str(reports[run.id].summary.by_category.get(name, 0)) for name in categories]
                    if run.id in reports
                    else ["not triaged"] + [""] * len(categories)
                )
                for run in failing
            ],
            set(range(len(categories) + 5)) - {1, 2},
        ),
    )
    rows: list[list[str]] = []
    for report in reports.values():
        # Who decided a cluster's failures one by one, gathered in one pass over the run's failures.
        deciders: defaultdict[str, set[str]] = defaultdict(set)
        for failure in report.failures:
            if failure.decided_by:
                deciders[failure.cluster].add(failure.decided_by)
        for cluster in explained_clusters(session, report):
            decided_by = cluster.decided_by or ", ".join(sorted(deciders.get(cluster.id, ())))
            rows.append([str(report.run), *map(str, summary_row(cluster)), decided_by, cluster.explanation])
    clusters = Section(
        "Unique errors",
        [
            "Each triaged run's unique errors, most urgent first. The status says where the category "
            "comes from: confirmed by a person, suggested by a rule or by people's past decisions, "
            "or needing verification."
        ]
        if rows
        else ["None: no run this report covers has been triaged yet."],
        Table(
            ["run", *SUMMARY_COLUMNS, "decided by", "explanation"],
            rows[: parameters.max_failures],
            {0, 7, 8},
        )
        if rows
        else None,
    )
    if len(rows) > parameters.max_failures:
        clusters.paragraphs.append(f"Only the first {parameters.max_failures} of {len(rows)} are listed.")
    sections = [overview, per_run, clusters]
    if untriaged:
        sections.append(
            Section(
                "Runs never triaged",
                [
                    f"{len(untriaged)} run(s) with failures were never triaged, so their failures have no "
                    "category, unique error or decision yet and are not counted above. Triage a run with "
                    "`evidencehub triage RUN` (or POST /api/v1/runs/RUN/triage), then run this report again."
                ],
                Table(
                    ["run", "project", "build", "failing results", "command"],
                    [
                        [
                            str(run.id),
                            run.project,
                            run.build,
                            str(run.totals.failures + run.totals.errors),
                            f"evidencehub triage {run.id}",
                        ]
                        for run in untriaged
                    ],
                    {0, 3},
                ),
            )
        )
    return sections


def trend_sections(session: Session, organization_id: int, parameters: ReportParameters) -> list[Section]:
    runs = _runs(session, organization_id, parameters.model_copy(update={"build": None}), limit=1000)
    by_build: dict[tuple[str, str], list[RunSummary]] = {}
    for run in runs:
        by_build.setdefault((run.project, run.build), []).append(run)
    recent = list(by_build.items())[: parameters.builds]
    if not recent:
        return [Section("Trend", ["No builds match this report's project and release."])]
    rows = []
    for (project, build), build_runs in reversed(recent):
        tests = sum(run.totals.tests for run in build_runs)
        passed = sum(run.totals.passed for run in build_runs)
        skipped = sum(run.totals.skipped for run in build_runs)
        failing = sum(run.totals.failures + run.totals.errors for run in build_runs)
        flaky = sum(run.totals.flaky for run in build_runs)
        minutes = sum(run.totals.duration_ms for run in build_runs) / 60000
        rows.append(
            [
                project,
                build,
                str(len(build_runs)),
                str(tests),
                str(failing),
                str(flaky),
                _percent(passed, tests - skipped),
                f"{minutes:.1f}",
            ]
        )
    return [
        Section(
            "Trend by build",
            [f"The {len(rows)} most recent build(s), oldest first."],
            Table(
                ["project", "build", "runs", "tests", "failing", "flaky", "pass rate", "test minutes"],
                rows,
                {2, 3, 4, 5, 6, 7},
            ),
        )
    ]


def audit_sections(session: Session, organization_id: int, parameters: ReportParameters) -> list[Section]:
    """The newest stored test-case audit (``evidencehub audit --store``) of the project."""
    from evidencehub.audit.service import list_reports, report_tickets

    stored = list_reports(session, organization_id=organization_id, project=parameters.project, limit=1)
    if not stored:
        return [
            Section(
                "Test-case audit",
                ["No stored audit for this project yet: run `evidencehub audit … --store` first."],
            )
        ]
    report, tickets = report_tickets(session, stored[0].id, organization_id=organization_id)
    summary = report.summary
    sections = [
        Section(
            "Summary",
            [
                f"Audit {report.id} of project {report.project} ({report.created_at:%Y-%m-%d %H:%M} UTC), "
                f"rubric {report.rubric} {report.rubric_version}: {summary.tickets} test case(s), "
                f"average score {summary.average_score:.1f}"
                + (f", lowest {summary.lowest_score:.1f}" if summary.lowest_score is not None else "")
                + "."
            ],
            Table(
                ["score band", "test cases"],
                [[band, str(count)] for band, count in summary.distribution.items()],
                {1},
            ),
        )
    ]
    if summary.most_often_missing:
        sections.append(
            Section(
                "Most often missing",
                table=Table(
                    ["field", "severity", "missing", "insufficient"],
                    [
                        [item.label, str(item.severity), str(item.missing), str(item.insufficient)]
                        for item in summary.most_often_missing
                    ],
                    {2, 3},
                ),
            )
        )
    ordered = sorted(tickets, key=lambda ticket: ticket.score)[: parameters.max_failures]
    sections.append(
        Section(
            "Test cases, weakest first",
            table=Table(
                ["key", "summary", "score", "missing or insufficient"],
                [
                    [
                        ticket.key or "",
                        ticket.summary or "",
                        f"{ticket.score:.1f}",
                        ", ".join(f.label for f in ticket.audit.fields if f.status != "present"),
                    ]
                    for ticket in ordered
                ],
                {2},
            ),
        )
    )
    return sections


register_kind("evidence", evidence_sections)
register_kind("audit", audit_sections)
register_kind("triage", triage_sections)
register_kind("trend", trend_sections)
