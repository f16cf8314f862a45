"""``evidencehub demo``: the main job end to end on the embedded default (SQLite, local files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import console, table
from evidencehub.cli.runs_cmd import render_summary
from evidencehub.cli.triage_cmd import render_report

DEMO_PROJECT = "prism"
DEMO_RELEASE = "2026.11"


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        samples: Annotated[
            Path,
            typer.Option(help="Folder of sample results: one sub-folder per build (build-1, build-2, …)."),
        ] = Path("examples/results"),
    ) -> None:
        """Initialise, ingest the sample builds, and print the newest run's summary."""
        from evidencehub.errors import InputError
        from evidencehub.orgs.service import ensure_organization
        from evidencehub.pipeline import ingest_and_triage
        from evidencehub.results.ingest import IngestRequest
        from evidencehub.triage.service import triage_report, triage_run

        build_dirs = sorted(
            (path for path in samples.glob("build-*") if path.is_dir()),
            key=lambda path: int(path.name.removeprefix("build-") or 0),
        )
        if not build_dirs:
            raise InputError(
                f"{samples}: no build-N folders; generate them with `python examples/generate.py`",
                details={"path": str(samples)},
            )
        context = cli_context(ctx)
        settings = context.settings
        database = context.database()
        with database.session() as session:
            ensure_organization(session, settings.default_organization)
        console.print(f"[bold]evidencehub demo[/] · data dir {settings.data_dir} · {database.display_url}")
        rows = []
        newest = None
        for build_dir in build_dirs:
            number = build_dir.name.removeprefix("build-")
            outcome = ingest_and_triage(
                database,
                settings,
                IngestRequest(
                    paths=[str(build_dir)],
                    project=DEMO_PROJECT,
                    build=f"{DEMO_RELEASE}.{number}",
                    release=DEMO_RELEASE,
                    environment="staging",
                    run_name=f"regression {DEMO_RELEASE}.{number}",
                ),
            ).ingest
            newest = outcome.run or newest
            if outcome.run is not None:
                totals = outcome.run.totals
                rows.append(
                    [
                        outcome.run.id,
                        outcome.run.build,
                        totals.tests,
                        totals.failures,
                        totals.errors,
                        totals.skipped,
                        totals.flaky,
                        "new" if outcome.created else "already ingested",
                    ]
                )
        console.print(
            table(
                "ingested builds",
                ["id", "build", "tests", "failures", "errors", "skipped", "flaky", ""],
                rows,
            )
        )
        if newest is not None:
            console.print(render_summary(newest))
            # Runs ingested before (or with auto-triage off) are triaged here; a triaged run is left as it is.
            triage_run(database, settings, newest.id)
            with database.session() as session:
                report = triage_report(
                    session,
                    newest.id,
                    count_flaky_as_product_bugs=settings.triage.count_flaky_as_product_bugs,
                )
            console.print(render_report(report, failures=False))
            console.print(
                f"explanations per failure: `evidencehub triage {newest.id}`; "
                f"decide: `evidencehub triage decide --cluster ID --category product_bug --issue '#26'`"
            )
