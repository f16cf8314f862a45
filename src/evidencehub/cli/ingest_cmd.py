"""``evidencehub ingest PATH... --project P --build B``."""

from __future__ import annotations

from typing import Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import console, error_console, print_json
from evidencehub.cli.progress import RichIngestProgress
from evidencehub.cli.runs_cmd import render_summary, totals_json


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        ctx: typer.Context,
        paths: Annotated[list[str], typer.Argument(help="Files, directories, globs, .gz or .zip archives.")],
        project: Annotated[str, typer.Option(envvar="EVIDENCEHUB_PROJECT", help="Project key.")],
        build: Annotated[str, typer.Option(envvar="EVIDENCEHUB_BUILD", help="Build id from the CI.")],
        release: Annotated[str | None, typer.Option(envvar="EVIDENCEHUB_RELEASE", help="Release.")] = None,
        environment: Annotated[
            str | None, typer.Option(envvar="EVIDENCEHUB_ENVIRONMENT", help="Test environment, e.g. staging.")
        ] = None,
        name: Annotated[str | None, typer.Option(help="Run name (default: from the files).")] = None,
        fmt: Annotated[
            str, typer.Option("--format", help="auto, junit, nunit, xunit or trx (auto detects per file).")
        ] = "auto",
        commit: Annotated[str | None, typer.Option(envvar="EVIDENCEHUB_COMMIT", help="VCS commit.")] = None,
        branch: Annotated[str | None, typer.Option(envvar="EVIDENCEHUB_BRANCH", help="VCS branch.")] = None,
        ci_url: Annotated[
            str | None, typer.Option(envvar="EVIDENCEHUB_CI_URL", help="Link to the CI build.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Store result files as one run of a build (re-ingesting the same file is a no-op)."""
        from evidencehub.errors import InputError
        from evidencehub.results.ingest import IngestRequest
        from evidencehub.results.ingest import ingest as ingest_files
        from evidencehub.results.parsers import FORMAT_CHOICES

        if fmt not in FORMAT_CHOICES:
            raise InputError(
                f"--format {fmt!r} is not known; choose one of {', '.join(FORMAT_CHOICES)}",
                details={"parameter": "format"},
            )
        context = cli_context(ctx)
        settings = context.settings
        outcome = ingest_files(
            context.database(),
            settings,
            IngestRequest(
                paths=paths,
                project=project,
                build=build,
                release=release,
                environment=environment,
                run_name=name,
                fmt=fmt,
                commit=commit,
                branch=branch,
                ci_url=ci_url,
            ),
            progress=None
            if as_json
            else RichIngestProgress(min_bytes=int(settings.ingest.progress_min_mb * 2**20)),
        )
        if as_json:
            data: dict[str, object] = totals_json(outcome.run) if outcome.run else {"run": None}
            data.update(
                created=outcome.created,
                message=outcome.message,
                skipped_files=[source.model_dump() for source in outcome.skipped_sources],
                warnings=outcome.warnings,
            )
            print_json(data)
            return
        for warning in outcome.warnings:
            error_console.print(f"[yellow]warning[/]: {warning}")
        console.print(outcome.message)
        if outcome.run is not None:
            console.print(render_summary(outcome.run))
