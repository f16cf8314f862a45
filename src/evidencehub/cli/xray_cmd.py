"""``evidencehub xray tasks|jobs``: Xray publish jobs and their slices (the same views as for Octane)."""

from __future__ import annotations

from typing import Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, print_json
from evidencehub.cli.publish_view import job_panel, jobs_command

app = typer.Typer(help="Jira Xray: publish jobs and their slices.", no_args_is_help=True)


@app.command("tasks")
def tasks(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="Publish job id.")],
    as_json: Json = False,
) -> None:
    """The job's slices: Test Execution key, status, attempts, last error."""
    from evidencehub.publish.service import job_detail

    context = cli_context(ctx)
    detail = job_detail(context.database(), context.settings, job_id)
    if as_json:
        print_json(detail)
        return
    console.print(job_panel(detail))


app.command("jobs")(
    jobs_command(
        "xray",
        "Xray",
        "no Xray jobs yet — publish with `evidencehub publish xray --run RUN --project-key KEY`",
    )
)
