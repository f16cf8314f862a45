"""``evidencehub ingest PATH... --project P --build B``."""

from __future__ import annotations

from typing import Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, error_console, print_json
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
        as_json: Json = False,
    ) -> None:
        """Store result files as one run of a build (re-ingesting the same file is a no-op)."""
        from evidencehub.errors import InputError
        from evidencehub.pipeline import ingest_and_triage
        from evidencehub.results.ingest import IngestRequest
        from evidencehub.results.parsers import FORMAT_CHOICES

        if fmt not in FORMAT_CHOICES:
            raise InputError(
                f"--format {fmt!r} is not known; choose one of {', '.join(FORMAT_CHOICES)}",
                details={"parameter": "format"},
            )
        context = cli_context(ctx)
        settings = context.settings
        database = context.database()
        done = ingest_and_triage(
            database,
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
        outcome = done.ingest
        triage_summary = None
        if done.triage is not None:
            from evidencehub.triage.service import triage_report

            with database.session() as session:
                triage_summary = triage_report(
                    session,
                    done.triage.run,
                    count_flaky_as_product_bugs=settings.triage.count_flaky_as_product_bugs,
                ).summary
        if as_json:
            data: dict[str, object] = totals_json(outcome.run) if outcome.run else {"run": None}
            data.update(
                created=outcome.created,
                message=outcome.message,
                skipped_files=[source.model_dump() for source in outcome.skipped_sources],
                warnings=outcome.warnings,
                triage=triage_summary.model_dump(mode="json") if triage_summary is not None else None,
            )
            print_json(data)
            return
        for warning in outcome.warnings:
            error_console.print(f"[yellow]warning[/]: {warning}")
        console.print(outcome.message)
        if outcome.run is not None:
            console.print(render_summary(outcome.run))
        if triage_summary is not None and outcome.run is not None:
            counts = ", ".join(
                f"{count} {name}" for name, count in triage_summary.by_category.items() if count
            )
            console.print(
                f"triage: {triage_summary.failures} failures in {triage_summary.clusters} unique errors"
                f"{': ' + counts if counts else ''} — `evidencehub triage {outcome.run.id}` for the report"
            )
