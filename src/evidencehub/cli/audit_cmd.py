"""``evidencehub audit FILE...``: how well test cases are documented, against the completeness rubric."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import console, table

FORMAT_HELP = "table (terminal), markdown, json or html."


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


def audit(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILE...",
            help="Jira issue/search JSON, Xray test CSV, Markdown test docs, pytest files or directories.",
        ),
    ] = None,
    rubric: Annotated[
        Path | None,
        typer.Option("--rubric", envvar="EVIDENCEHUB_AUDIT__RUBRIC", help="Rubric YAML (default: built-in)."),
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo", help="Repository whose pytest tests the tickets' execution commands must name."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
    lang: Annotated[str, typer.Option("--lang", help="Report language: en or he.")] = "en",
    template: Annotated[
        bool,
        typer.Option("--template", help="Add a ready-to-paste ticket draft filling every missing field."),
    ] = False,
    fail_under: Annotated[
        float | None,
        typer.Option("--fail-under", help="Exit 1 when any ticket scores below this (0-100): a CI gate."),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="Link evidence from this project's runs and store the report for it."),
    ] = None,
    source_format: Annotated[
        str, typer.Option("--source-format", help="Force a source format (default: detect per file).")
    ] = "auto",
    no_evidence: Annotated[
        bool, typer.Option("--no-evidence", help="Do not look up ingested results (no database is opened).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")
    ] = None,
    print_rubric: Annotated[
        bool,
        typer.Option(
            "--print-rubric", help="Print the built-in rubric YAML (a start for your own) and exit."
        ),
    ] = False,
) -> None:
    """Audit test tickets against the Xray completeness rubric: findings, score, fixes, filled template."""
    from evidencehub.audit import report, service
    from evidencehub.audit import rubric as rubric_module
    from evidencehub.errors import InputError

    if print_rubric:
        sys.stdout.write(rubric_module.default_rubric_text())
        return
    if not files:
        raise InputError("give at least one FILE (or directory) to audit", details={"parameter": "FILE"})
    if fmt not in report.FORMATS:
        raise InputError(
            f"--format must be one of {', '.join(report.FORMATS)}", details={"parameter": "format"}
        )
    if lang not in ("en", "he"):
        raise InputError("--lang must be en or he", details={"parameter": "lang"})
    if no_evidence and project is not None:
        raise InputError("--project stores evidence-linked reports; it cannot be combined with --no-evidence")
    context = cli_context(ctx)
    settings = context.settings
    database = None if no_evidence else context.database()
    result = service.run_audit(
        service.AuditRequest(
            paths=files,
            rubric=rubric,
            repo=repo,
            language=lang,  # type: ignore[arg-type]  # checked above
            template=template,
            fail_under=fail_under,
            source_format=source_format,
            project=project,
            use_evidence=not no_evidence,
            created_by=_user(),
        ),
        settings,
        database,
    )
    if fmt == "table" and output is None:
        _print_tables(result)
    else:
        text = report.render(result, "markdown" if fmt == "table" else fmt)
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    if result.summary.below_threshold:
        raise typer.Exit(1)


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _print_tables(result: object) -> None:
    from evidencehub.audit.i18n import message
    from evidencehub.audit.report import STATUS_MARK, fix_groups
    from evidencehub.audit.schemas import AuditResult

    assert isinstance(result, AuditResult)
    language = result.language

    def t(key: str, **params: object) -> str:
        return message(language, key, **params)

    for ticket in result.tickets:
        rows = [
            [
                finding.field if language == "en" else f"{finding.field} ({finding.label})",
                t(f"severity.{finding.severity}"),
                f"{STATUS_MARK[finding.status]} {t(f'status.{finding.status}')}",
                finding.reason or "",
            ]
            for finding in ticket.fields
        ]
        parts: list[object] = [
            table(
                None,
                [t("report.field"), t("report.importance"), t("report.status"), t("report.reason")],
                rows,
            )
        ]
        fixes = Text()
        for group in fix_groups(ticket, language):
            fixes.append(
                t("report.fix_group", severity=group.label, count=len(group.findings)) + "\n", "bold"
            )
            for number, finding in enumerate(group.findings, start=1):
                fixes.append(f"  {number}. {finding.field}: {finding.where}\n")
        if fixes:
            parts.append(Text(t("report.fixes"), style="bold underline"))
            parts.append(fixes)
        if ticket.contradiction:
            parts.append(Text(f"⚠ {ticket.contradiction}", style="yellow"))
        title = f"{ticket.key or ticket.source} · {t('report.score_line', score=ticket.score)}"
        if ticket.summary:
            title = f"{title} · {ticket.summary}"
        console.print(Panel(Group(*parts), title=title, title_align="left"))  # type: ignore[arg-type]
        if ticket.template:
            console.print(Text(ticket.template))
    if len(result.tickets) > 1:
        summary = result.summary
        console.print(
            t(
                "report.total_line",
                tickets=summary.tickets,
                average=summary.average_score,
                lowest=summary.lowest_score,
            )
        )
        if summary.most_often_missing:
            console.print(
                table(
                    t("report.most_missing"),
                    [
                        t("report.field"),
                        t("report.importance"),
                        t("report.missing_count"),
                        t("report.insufficient_count"),
                    ],
                    [
                        [item.field, t(f"severity.{item.severity}"), item.missing, item.insufficient]
                        for item in summary.most_often_missing[:10]
                    ],
                )
            )
        for item in summary.contradictions:
            console.print(f"⚠ {item['key']}: {item['reason']}")
    if result.report_id is not None:
        console.print(t("report.stored", id=result.report_id))
