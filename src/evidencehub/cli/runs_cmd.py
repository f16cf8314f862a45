"""``evidencehub runs list|show``."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Group
from rich.panel import Panel

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, format_duration, print_json, table
from evidencehub.results.schemas import RunSummary

app = typer.Typer(help="List and show ingested runs.", no_args_is_help=True)


def totals_json(run: RunSummary) -> dict[str, object]:
    """The --json shape tools rely on: the run id and its totals."""
    totals = run.totals
    return {
        "run": run.id,
        "project": run.project,
        "build": run.build,
        "release": run.release,
        "name": run.name,
        "environment": run.environment,
        "tests": totals.tests,
        "passed": totals.passed,
        "failures": totals.failures,
        "errors": totals.errors,
        "skipped": totals.skipped,
        "flaky": totals.flaky,
        "duration_ms": round(totals.duration_ms, 3),
    }


def render_summary(run: RunSummary) -> Panel:
    totals = run.totals
    counts = table(
        None,
        ["tests", "passed", "failures", "errors", "skipped", "flaky", "duration"],
        [
            [
                totals.tests,
                totals.passed,
                totals.failures,
                totals.errors,
                totals.skipped,
                totals.flaky,
                format_duration(totals.duration_ms),
            ]
        ],
    )
    parts: list[object] = [counts]
    if run.sources:
        # Paths relative to what the files share, so a long CI workspace prefix doesn't hide the names.
        paths = [source.path for source in run.sources]
        common = os.path.commonpath([os.path.dirname(path) for path in paths]) if len(paths) > 1 else ""
        parts.append(
            table(
                f"files under {common}" if common else None,
                ["file", "format", "cases", "sha256"],
                [
                    [
                        os.path.relpath(source.path, common) if common else source.path,
                        source.format,
                        source.cases,
                        source.sha256[:12],
                    ]
                    for source in run.sources
                ],
            )
        )
    release = f" · release {run.release}" if run.release else ""
    environment = f" · {run.environment}" if run.environment else ""
    title = f"run {run.id} · {run.project} · build {run.build}{release}{environment}"
    return Panel(Group(*parts), title=title, title_align="left")  # type: ignore[arg-type]


@app.command("list")
def list_runs(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    build: Annotated[str | None, typer.Option(help="Only this build.")] = None,
    release: Annotated[str | None, typer.Option(help="Only this release.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs, newest first.")] = 20,
    as_json: Json = False,
) -> None:
    """Runs, newest first."""
    from evidencehub.results import service

    context = cli_context(ctx)
    database = context.database()
    with database.session() as session:
        organization_id = service.organization_id_for(session, context.settings.default_organization)
        runs = service.list_runs(
            session,
            service.RunFilter(
                organization_id=organization_id, project=project, build=build, release=release, limit=limit
            ),
        )
    if as_json:
        print_json([totals_json(run) for run in runs])
        return
    if not runs:
        console.print("no runs yet — ingest with `evidencehub ingest PATH --project P --build B`")
        return
    console.print(
        table(
            "runs",
            [
                "id",
                "project",
                "build",
                "release",
                "name",
                "tests",
                "failures",
                "errors",
                "skipped",
                "ingested",
            ],
            [
                [
                    run.id,
                    run.project,
                    run.build,
                    run.release,
                    run.name,
                    run.totals.tests,
                    run.totals.failures,
                    run.totals.errors,
                    run.totals.skipped,
                    run.created_at.strftime("%Y-%m-%d %H:%M"),
                ]
                for run in runs
            ],
        )
    )


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="Run id (see `runs list`).")],
    as_json: Json = False,
) -> None:
    """A run's totals and source files."""
    from evidencehub.results import service

    context = cli_context(ctx)
    with context.database().session() as session:
        organization_id = service.organization_id_for(session, context.settings.default_organization)
        run = service.run_summary(session, run_id, organization_id=organization_id)
    if as_json:
        data = totals_json(run)
        data["sources"] = [source.model_dump() for source in run.sources]
        print_json(data)
        return
    console.print(render_summary(run))
