"""``evidencehub xray tasks|jobs``: Xray publish jobs and their slices (the same views as for Octane)."""

from __future__ import annotations

from typing import Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import console, print_json
from evidencehub.cli.publish_view import job_line, job_panel

app = typer.Typer(help="Jira Xray: publish jobs and their slices.", no_args_is_help=True)


@app.command("tasks")
def tasks(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="Publish job id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The job's slices: Test Execution key, status, attempts, last error."""
    from evidencehub.publish.service import job_detail

    context = cli_context(ctx)
    detail = job_detail(context.database(), context.settings, job_id)
    if as_json:
        print_json(detail)
        return
    console.print(job_panel(detail))


@app.command("jobs")
def jobs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Xray publish jobs, newest first."""
    from evidencehub.publish.service import list_jobs

    context = cli_context(ctx)
    found = list_jobs(context.database(), target="xray", limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print(
            "no Xray jobs yet — publish with `evidencehub publish xray --run RUN --project-key KEY`"
        )
    for job in found:
        console.print(job_line(job))
