"""``evidencehub triage RUN``, ``triage decide``, ``triage rules check``, ``triage clusters|flaky``."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.panel import Panel
from rich.text import Text
from typer.core import TyperGroup

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, print_json, table

if TYPE_CHECKING:
    from evidencehub.triage.schemas import TriageReport


class _RunOrCommand(TyperGroup):
    """``triage 17`` means ``triage show 17``: a run id where a sub-command is expected."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0].lstrip("-").isdigit():
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunOrCommand,
    help="Triage failures: `triage RUN` shows (and makes, if needed) a run's triage.",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="Triage rule files.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


def _default_actor() -> str:
    try:
        return os.environ.get("EVIDENCEHUB_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def render_report(report: TriageReport, *, failures: bool = True) -> Panel:
    """The report for people: the summary table, then (unless told not to) each category's failures."""
    from evidencehub.triage.categories import CATEGORY_TITLES
    from evidencehub.triage.report import (
        FAILURE_COLUMNS,
        SUMMARY_COLUMNS,
        failure_row,
        grouped,
        heading,
        summary_line,
        summary_row,
    )

    parts: list[Any] = [Text(summary_line(report))]
    if report.clusters:
        rows = [summary_row(cluster, title_chars=70) for cluster in report.clusters]
        parts.append(table("summary", SUMMARY_COLUMNS, rows))
    for category, members in grouped(report) if failures else []:
        title = f"{CATEGORY_TITLES[category]} ({len(members)})"
        parts.append(table(title, FAILURE_COLUMNS, [failure_row(failure) for failure in members]))
    return Panel(Group(*parts), title=f"triage · {heading(report)}", title_align="left")


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="Run id (see `runs list`).")],
    fmt: Annotated[str, typer.Option("--format", help="table, markdown, json or html.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")
    ] = None,
    retriage: Annotated[
        bool,
        typer.Option("--retriage", help="Decide every automatic failure again (people's decisions stay)."),
    ] = False,
    count_flaky: Annotated[
        bool,
        typer.Option("--count-flaky-as-product-bugs", help="Count flaky failures in the product-bug total."),
    ] = False,
) -> None:
    """A run's triage: summary table, then failures per category with explanations (triages it if needed)."""
    from evidencehub.errors import InputError
    from evidencehub.results.service import organization_id_for
    from evidencehub.triage import report as rendering
    from evidencehub.triage.service import triage_report, triage_run

    if fmt not in rendering.FORMATS:
        raise InputError(
            f"--format {fmt!r} is not known; choose one of {', '.join(rendering.FORMATS)}",
            details={"parameter": "format"},
        )
    context = cli_context(ctx)
    settings = context.settings
    database = context.database()
    with database.session() as session:
        organization_id = organization_id_for(session, settings.default_organization)
    triage_run(database, settings, run_id, retriage=retriage, organization_id=organization_id)
    with database.session() as session:
        report = triage_report(
            session,
            run_id,
            organization_id=organization_id,
            count_flaky_as_product_bugs=count_flaky or settings.triage.count_flaky_as_product_bugs,
        )
    if fmt == "table":
        if output is not None:
            raise InputError(
                "--output needs --format markdown, json or html", details={"parameter": "output"}
            )
        console.print(render_report(report))
        return
    rendered = {"json": rendering.to_json, "markdown": rendering.to_markdown, "html": rendering.to_html}[fmt](
        report
    )
    if output is not None:
        output.write_text(rendered, encoding="utf-8")
        console.print(f"wrote {output} ({fmt})")
        return
    typer.echo(rendered, nl=False)


@app.command("decide")
def decide(
    ctx: typer.Context,
    category: Annotated[
        str,
        typer.Option(help="product_bug, automation_bug, system_issue, no_defect or to_investigate."),
    ],
    failure: Annotated[int | None, typer.Option("--failure", help="A failure id (see the report).")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="A cluster id, e.g. c1a2b3c4d5e6.")] = None,
    issue: Annotated[
        str | None, typer.Option("--issue", help="Bug reference, e.g. '#26' or PRISM-123.")
    ] = None,
    comment: Annotated[str | None, typer.Option("--comment", help="Why (kept in the history).")] = None,
    actor: Annotated[
        str | None,
        typer.Option("--by", envvar="EVIDENCEHUB_ACTOR", help="Who decides (default: your user name)."),
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="Project of the cluster, when the id is ambiguous.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Decide the category of one failure or a whole cluster; later runs learn from it."""
    from evidencehub.errors import InputError
    from evidencehub.results.service import organization_id_for
    from evidencehub.triage.service import decide_cluster, decide_failure

    if (failure is None) == (cluster is None):
        raise InputError("name exactly one of --failure ID or --cluster ID", details={"parameter": "failure"})
    context = cli_context(ctx)
    settings = context.settings
    database = context.database()
    with database.session() as session:
        organization_id = organization_id_for(session, settings.default_organization)
    who = actor or _default_actor()
    if failure is not None:
        decision = decide_failure(
            database,
            settings,
            result_id=failure,
            category=category,
            actor=who,
            issue=issue,
            comment=comment,
            organization_id=organization_id,
        )
    else:
        assert cluster is not None
        decision = decide_cluster(
            database,
            cluster_key=cluster,
            category=category,
            actor=who,
            issue=issue,
            comment=comment,
            project=project,
            organization_id=organization_id,
        )
    if as_json:
        print_json(decision)
        return
    target = f"failure {decision.result_id}" if decision.scope == "failure" else f"cluster {decision.cluster}"
    bug = f" ({decision.issue})" if decision.issue else ""
    console.print(
        f"{target}: {decision.category.value}{bug} decided by {decision.actor}; "
        f"{decision.failures_updated} failure(s) updated; later runs learn from it"
    )


@rules_app.command("check")
def rules_check(
    file: Annotated[Path, typer.Argument(help="A YAML rule file.")],
    as_json: Json = False,
) -> None:
    """Validate a rule file and list its rules in the order they are tried."""
    from evidencehub.triage.service import check_rules

    checked = check_rules(file)
    if as_json:
        print_json(checked)
        return
    console.print(f"{file}: {len(checked.rules)} rule(s), valid")
    if checked.rules:
        console.print(
            table(
                None,
                ["#", "name", "category", "description"],
                [
                    [position, rule.name, rule.category.value, rule.description]
                    for position, rule in enumerate(checked.rules, 1)
                ],
            )
        )


@app.command("clusters")
def clusters(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="All clusters of this project.")] = None,
    run: Annotated[int | None, typer.Option(help="Clusters of this run (counts for the run).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, most failures first.")] = 50,
    as_json: Json = False,
) -> None:
    """Unique errors of a project or a run."""
    from evidencehub.errors import InputError
    from evidencehub.results.service import organization_id_for
    from evidencehub.triage.report import cluster_title
    from evidencehub.triage.service import list_clusters, project_id_for

    if (project is None) == (run is None):
        raise InputError("name exactly one of --project or --run", details={"parameter": "project"})
    context = cli_context(ctx)
    with context.database().session() as session:
        organization_id = organization_id_for(session, context.settings.default_organization)
        project_id = project_id_for(session, project, organization_id) if project is not None else None
        found = list_clusters(
            session, project_id=project_id, run_id=run, organization_id=organization_id, limit=limit
        )
    if as_json:
        print_json([cluster.model_dump(mode="json") for cluster in found])
        return
    console.print(
        table(
            "clusters",
            ["cluster", "error", "category", "status", "bug", "failures", "tests", "first seen", "last seen"],
            [
                [
                    cluster.id,
                    cluster_title(cluster, 70),
                    cluster.category.value,
                    cluster.status,
                    cluster.issue,
                    cluster.failures,
                    cluster.tests,
                    cluster.first_seen.strftime("%Y-%m-%d %H:%M"),
                    cluster.last_seen.strftime("%Y-%m-%d %H:%M"),
                ]
                for cluster in found
            ],
        )
    )


_OUTCOME_MARKS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}


@app.command("flaky")
def flaky(
    ctx: typer.Context,
    project: Annotated[str, typer.Option(help="Project key.")],
    branch: Annotated[str | None, typer.Option(help="Branch (default: that of the newest run).")] = None,
    environment: Annotated[
        str | None, typer.Option(help="Environment (default: that of the newest run).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, highest score first.")] = 50,
    as_json: Json = False,
) -> None:
    """Flaky tests ranked by score, with their recent pass/fail history (oldest first)."""
    from evidencehub.results.service import organization_id_for
    from evidencehub.triage.service import flaky_tests, project_id_for

    context = cli_context(ctx)
    settings = context.settings
    with context.database().session() as session:
        organization_id = organization_id_for(session, settings.default_organization)
        project_id = project_id_for(session, project, organization_id)
        found = flaky_tests(
            session,
            project_id=project_id,
            settings=settings.triage,
            branch=branch,
            environment=environment,
            limit=limit,
            organization_id=organization_id,
        )
    if as_json:
        print_json([test.model_dump(mode="json") for test in found])
        return
    if not found:
        console.print("no flaky tests in the recent runs")
        return
    console.print(
        table(
            "flaky tests",
            ["test", "score", "flips", "runs", "history"],
            [
                [
                    test.key,
                    f"{test.score:.2f}",
                    test.flips,
                    test.observed,
                    "".join(
                        ("~" if outcome.flaky else _OUTCOME_MARKS.get(outcome.status, "?"))
                        for outcome in test.history
                    ),
                ]
                for test in found
            ],
        )
    )
