"""``evidencehub octane tasks|jobs|link|delink|check``."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, error_console, print_json
from evidencehub.cli.publish_view import job_panel, jobs_command

app = typer.Typer(
    help="ALM Octane: upload tasks, backlog coverage, the runbook checklist.", no_args_is_help=True
)

Backlog = Annotated[str, typer.Option(help="Backlog item id (story, feature or defect).")]
VERDICT_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@app.command("tasks")
def tasks(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="Publish job id.")],
    watch: Annotated[
        bool | None,
        typer.Option("--watch/--once", help="Refresh until the job ends (default: while it runs)."),
    ] = None,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 1.0,
    as_json: Json = False,
) -> None:
    """The job's slices: task id, status, attempts, last error (a live table while the job runs)."""
    from evidencehub.publish.targets.octane.service import octane_tab

    context = cli_context(ctx)
    database = context.database()
    detail = octane_tab(database, context.settings, job_id)
    if as_json:
        print_json(detail)
        return
    if not (watch if watch is not None else detail.job.state == "running"):
        console.print(job_panel(detail))
        return
    with Live(job_panel(detail), console=console, refresh_per_second=4) as live:
        while detail.job.state in ("running", "pending"):
            time.sleep(interval)
            detail = octane_tab(database, context.settings, job_id)
            live.update(job_panel(detail))


app.command("jobs")(
    jobs_command(
        "octane", "Octane", "no Octane jobs yet — publish with `evidencehub publish octane --run RUN`"
    )
)


def _coverage(ctx: typer.Context, action: str, backlog: str, job_id: str, as_json: bool) -> None:
    from evidencehub.publish.targets.octane import service

    context = cli_context(ctx)
    change = service.link_backlog if action == "link" else service.delink_backlog
    outcome = change(context.database(), context.settings, job_id, backlog)
    if as_json:
        print_json({**outcome.__dict__, "missing": outcome.missing, "message": outcome.message})
        return
    nothing = action == "delink" and outcome.changed == 0
    (error_console if nothing else console).print(
        f"[yellow]warning[/]: {outcome.message}" if nothing else outcome.message
    )


@app.command("link")
def link(
    ctx: typer.Context,
    backlog: Backlog,
    job_id: Annotated[str, typer.Option("--job", help="Publish job whose tests get linked.")],
    as_json: Json = False,
) -> None:
    """Link a backlog item to every test the job uploaded (covered_content; idempotent)."""
    _coverage(ctx, "link", backlog, job_id, as_json)


@app.command("delink")
def delink(
    ctx: typer.Context,
    backlog: Backlog,
    job_id: Annotated[str, typer.Option("--job", help="Publish job whose tests get delinked.")],
    as_json: Json = False,
) -> None:
    """Remove a backlog item from the job's tests (idempotent; warns when none had it)."""
    _coverage(ctx, "delink", backlog, job_id, as_json)


@app.command("check")
def check(
    ctx: typer.Context,
    as_json: Json = False,
) -> None:
    """Runbook checklist: credentials, sign-in, workspace, TLS, XSD, queue, root modules (1 on failure)."""
    from evidencehub.publish.targets.octane.check import run_checks

    context = cli_context(ctx)
    results = run_checks(context.database(), context.settings)
    if as_json:
        print_json([result.__dict__ for result in results])
    else:
        rows = Table(box=None, pad_edge=False, title="Octane checklist", title_justify="left")
        for column in ("check", "result", "detail"):
            rows.add_column(column)
        for result in results:
            style = VERDICT_STYLE[result.verdict]
            rows.add_row(result.name, f"[{style}]{result.verdict}[/]", result.detail)
        console.print(rows)
    if any(result.verdict == "fail" for result in results):
        raise typer.Exit(1)
