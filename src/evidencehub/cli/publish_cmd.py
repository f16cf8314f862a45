"""``evidencehub publish octane|xray …`` and ``evidencehub publish --resume JOB``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, error_console, print_json
from evidencehub.cli.publish_view import JobProgress, interruptible, job_line, publish_with_progress
from evidencehub.publish.schemas import JobOut, JobState

app = typer.Typer(
    help="Publish a build's evidence to a target (Octane, Xray) — or resume a job with --resume JOB.",
    invoke_without_command=True,
)

# What every target's publish command takes, with one wording.
RunIds = Annotated[list[int], typer.Option("--run", help="Run id (repeatable); or use --build.")]
Build = Annotated[str | None, typer.Option(help="Publish every run of this build (with --project).")]
Project = Annotated[str | None, typer.Option(envvar="EVIDENCEHUB_PROJECT", help="Project key.")]
JobId = Annotated[str | None, typer.Option("--job-id", help="Id for the job (default: generated).")]

EXIT_FAILED = 6
EXIT_CANCELLED = 130


def _finish(job: JobOut, as_json: bool, *, quiet: bool = False) -> None:
    if as_json:
        print_json(job)
    elif not quiet:
        console.print(job_line(job))
        if job.state in (JobState.FAILED.value, JobState.CANCELLED.value):
            console.print(f"resume with: evidencehub publish --resume {job.id}")
    if job.state == JobState.FAILED.value:
        raise typer.Exit(EXIT_FAILED)
    if job.state == JobState.CANCELLED.value:
        raise typer.Exit(EXIT_CANCELLED)


@app.callback()
def publish(
    ctx: typer.Context,
    resume: Annotated[
        str | None, typer.Option("--resume", metavar="JOB", help="Continue an interrupted or failed job.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output (with --resume).")] = False,
) -> None:
    """Publish evidence; ``--resume JOB`` continues a job without re-sending what already succeeded."""
    if ctx.invoked_subcommand is not None:
        if resume is not None:
            raise typer.BadParameter("use --resume without a target: evidencehub publish --resume JOB")
        return
    if resume is None:
        console.print(ctx.get_help())
        raise typer.Exit(2)
    from evidencehub.publish import service

    context = cli_context(ctx)
    database = context.database()
    job = service.get_job(database, resume)
    if not as_json:
        error_console.print(f"resuming {job.target} job {job.id} ({job.state})")
    with (
        interruptible() as should_continue,
        JobProgress(f"{job.target} {job.id}", enabled=not as_json) as bar,
    ):
        bar.begin(job.slices_total)
        final = service.run_job(
            database, context.settings, resume, should_continue=should_continue, progress=bar.update
        )
    _finish(final, as_json)


@app.command("octane")
def publish_octane(
    ctx: typer.Context,
    run: RunIds = [],  # noqa: B006
    build: Build = None,
    project: Project = None,
    release: Annotated[
        str | None, typer.Option(help="Octane release name (default octane.release, else _default_).")
    ] = None,
    release_id: Annotated[int | None, typer.Option(help="Octane release id (instead of a name).")] = None,
    backlog: Annotated[
        str | None, typer.Option(help="Backlog item id linked to the uploaded tests (covered_content).")
    ] = None,
    module: Annotated[
        str | None, typer.Option(help="Application module (default octane.application_module).")
    ] = None,
    strict: Annotated[
        bool | None, typer.Option("--strict/--no-strict", help="Fail on duplicate root application modules.")
    ] = None,
    job_id: JobId = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the payloads to --out; send nothing.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Payload file for --dry-run (FILE.NNN.xml per slice).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Upload runs to ALM Octane in slices of ≤ 1000 tests, tracked and resumable."""
    from evidencehub.errors import InputError
    from evidencehub.publish.targets.octane import service

    if release is not None and release_id is not None:
        raise InputError("give --release or --release-id, not both", details={"parameter": "release"})
    if dry_run and out is None:
        raise InputError("--dry-run needs --out FILE", details={"parameter": "out"})
    request = service.PublishRequest(
        run_ids=run,
        project=project,
        build=build,
        release=release,
        release_id=release_id,
        backlog=backlog,
        module=module,
        strict_modules=strict,
        job_id=job_id,
    )
    context = cli_context(ctx)
    database = context.database()
    if dry_run:
        assert out is not None
        written = service.dry_run(database, context.settings, request, out)
        if as_json:
            print_json(
                [
                    {"file": str(path), "tests": tests, "warnings": warnings}
                    for path, tests, warnings in written
                ]
            )
            return
        for path, tests, warnings in written:
            console.print(f"{path}  {tests} tests (XSD-valid)")
            for warning in warnings:
                error_console.print(f"[yellow]warning[/]: {warning}")
        return

    final = publish_with_progress(
        service.publish_run_to_octane,
        database,
        context.settings,
        request,
        label="octane",
        destination=context.settings.octane.base_url,
        as_json=as_json,
    )
    _finish(final, as_json)


@app.command("xray")
def publish_xray(
    ctx: typer.Context,
    project_key: Annotated[
        str, typer.Option("--project-key", envvar="EVIDENCEHUB_XRAY_PROJECT_KEY", help="Jira project key.")
    ],
    run: RunIds = [],  # noqa: B006
    build: Build = None,
    project: Project = None,
    test_plan: Annotated[
        str | None, typer.Option("--test-plan", metavar="KEY", help="Test Plan the execution joins.")
    ] = None,
    environment: Annotated[
        list[str],
        typer.Option("--environment", help="Test environment (repeatable; default: the runs' environments)."),
    ] = [],  # noqa: B006
    cloud: Annotated[
        bool | None, typer.Option("--cloud/--server", help="Xray Cloud or Server/DC (default xray.flavour).")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Source revision of the results.")] = None,
    fix_version: Annotated[str | None, typer.Option("--fix-version", help="Jira fix version.")] = None,
    test_execution: Annotated[
        str | None,
        typer.Option(
            "--test-execution", metavar="KEY", help="Import into this Test Execution (else a new one)."
        ),
    ] = None,
    job_id: JobId = None,
    as_json: Json = False,
) -> None:
    """Import runs into Jira Xray as a Test Execution, in slices, tracked and resumable."""
    from evidencehub.publish.targets.xray import service

    request = service.PublishRequest(
        project_key=project_key,
        run_ids=run,
        project=project,
        build=build,
        test_plan=test_plan,
        environments=environment,
        cloud=cloud,
        revision=revision,
        fix_version=fix_version,
        test_execution=test_execution,
        job_id=job_id,
    )
    context = cli_context(ctx)
    database = context.database()
    final = publish_with_progress(
        service.publish_run_to_xray,
        database,
        context.settings,
        request,
        label="xray",
        destination=context.settings.xray.base_url,
        as_json=as_json,
    )
    key = service.execution_key(database, final.id)
    if as_json:
        print_json({**final.model_dump(mode="json"), "test_execution": key})
        _finish(final, as_json=False, quiet=True)
        return
    if key:
        error_console.print(f"Test Execution {key}")
    _finish(final, as_json)
