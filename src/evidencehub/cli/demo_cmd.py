"""``evidencehub demo``: the main job end to end on the embedded default (SQLite, local files)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import console, table
from evidencehub.cli.promote_cmd import promotion_panel
from evidencehub.cli.runs_cmd import render_summary
from evidencehub.cli.triage_cmd import render_report

if TYPE_CHECKING:
    from fastapi import FastAPI

    from evidencehub.auth.service import DemoAdmin
    from evidencehub.config import Settings
    from evidencehub.db.session import Database
    from evidencehub.emulators.octane.runner import RunningEmulator
    from evidencehub.promotions.schemas import PromotionDetail
    from evidencehub.results.schemas import RunSummary

DEMO_PROJECT = "prism"
DEMO_RELEASE = "2026.11"
# The in-process Octane emulator's API key for the promotion part of the demo (not a secret).
DEMO_OCTANE_CLIENT = ("evidencehub-demo", "demo-secret-not-for-production")
# Test cases whose documentation the demo audits (a report in English and Hebrew on the dashboard).
DEMO_TEST_CASES = Path("examples/test-cases")


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        samples: Annotated[
            Path,
            typer.Option(help="Folder of sample results: one sub-folder per build (build-1, build-2, …)."),
        ] = Path("examples/results"),
        serve: Annotated[
            bool,
            typer.Option(
                "--serve/--no-serve",
                help="End by serving the dashboard on the demo data (web.host, web.port).",
            ),
        ] = True,
        test_cases: Annotated[
            Path,
            typer.Option(help="Folder of Markdown test cases to audit against the demo project."),
        ] = DEMO_TEST_CASES,
    ) -> None:
        """Initialise, ingest and triage the sample builds, audit, promote, then serve the dashboard."""
        context = cli_context(ctx)
        database = context.database()
        run_demo(context.settings, database, samples, test_cases)
        if serve:
            serve_dashboard(context.settings, database)


# ---------------------------------------------------------------- the steps, shared with the browser test


@dataclass(frozen=True)
class DemoRun:
    """What the demo left behind, for the dashboard (and the test that photographs it)."""

    builds: list[str]
    newest_run_id: int | None
    audit_report_id: int | None
    promotion_ids: list[int]  # the succeeded promotion first, then the cancelled one


def run_demo(settings: Settings, database: Database, samples: Path, test_cases: Path) -> DemoRun:
    """Everything ``evidencehub demo`` does before serving: ingest, triage, audit, promotions."""
    from evidencehub.orgs.service import ensure_organization

    build_dirs = sample_builds(samples)
    with database.session() as session:
        ensure_organization(session, settings.default_organization)
    console.print(f"[bold]evidencehub demo[/] · data dir {settings.data_dir} · {database.display_url}")
    builds = [demo_build(path) for path in build_dirs]
    newest = ingest_samples(database, settings, build_dirs)
    audit_report_id = None
    promotion_ids: list[int] = []
    if newest is not None:
        show_triage(database, settings, newest)
        audit_report_id = audit_demo(database, settings, test_cases)
        promotion_ids = promotion_demo(database, settings, builds)
    return DemoRun(
        builds=builds,
        newest_run_id=newest.id if newest else None,
        audit_report_id=audit_report_id,
        promotion_ids=promotion_ids,
    )


def sample_builds(samples: Path) -> list[Path]:
    """The ``build-N`` folders under ``samples``, oldest build first."""
    from evidencehub.errors import InputError

    build_dirs = sorted(
        (path for path in samples.glob("build-*") if path.is_dir()),
        key=lambda path: int(path.name.removeprefix("build-") or 0),
    )
    if not build_dirs:
        raise InputError(
            f"{samples}: no build-N folders; generate them with `python examples/generate.py`",
            details={"path": str(samples)},
        )
    return build_dirs


def demo_build(build_dir: Path) -> str:
    """The build name the demo gives a ``build-N`` folder's results."""
    return f"{DEMO_RELEASE}.{build_dir.name.removeprefix('build-')}"


def ingest_samples(database: Database, settings: Settings, build_dirs: list[Path]) -> RunSummary | None:
    """Ingest (and triage) each build's results; print a table of them; return the newest run."""
    from evidencehub.pipeline import ingest_and_triage
    from evidencehub.results.ingest import IngestRequest

    rows = []
    newest = None
    for build_dir in build_dirs:
        build = demo_build(build_dir)
        outcome = ingest_and_triage(
            database,
            settings,
            IngestRequest(
                paths=[str(build_dir)],
                project=DEMO_PROJECT,
                build=build,
                release=DEMO_RELEASE,
                environment="staging",
                run_name=f"regression {build}",
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
    return newest


def show_triage(database: Database, settings: Settings, newest: RunSummary) -> None:
    """Print the newest run's summary and triage report (triaging it first if nobody has)."""
    from evidencehub.triage.service import triage_report, triage_run

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


def audit_demo(database: Database, settings: Settings, test_cases: Path) -> int | None:
    """Audit the sample test cases against the demo project and store the report, once.

    Returns the stored report's id (None: no test cases, the audit part is skipped).
    """
    from evidencehub.audit.service import AuditRequest, list_reports, run_audit

    organization_id = _organization_id(database, settings)
    with database.session() as session:
        stored = list_reports(session, organization_id=organization_id, project=DEMO_PROJECT, limit=1)
    if stored:  # like the ingestion, a second demo run adds nothing
        console.print(f"test cases of {DEMO_PROJECT} already audited: report {stored[0].id}")
        return stored[0].id
    documents = sorted(test_cases.glob("*.md")) if test_cases.is_dir() else []
    if not documents:
        console.print(f"no Markdown test cases in {test_cases}: the audit part is skipped")
        return None
    result = run_audit(
        AuditRequest(paths=documents, project=DEMO_PROJECT, template=True, created_by="cli:demo"),
        settings,
        database,
    )
    console.print(
        f"audited the test cases in {test_cases} against {DEMO_PROJECT}: "
        f"report {result.report_id}, stored in English and Hebrew"
    )
    return result.report_id


# ---------------------------------------------------------------- the promotion part


def promotion_demo(database: Database, settings: Settings, builds: list[str]) -> list[int]:
    """Octane emulator in-process; promote the newest build with upload regression; cancel a second one.

    Returns the promotions' ids, the succeeded one first.
    """
    from evidencehub.emulators.octane.config import EmulatorConfig
    from evidencehub.emulators.octane.runner import start_in_thread
    from evidencehub.tasks.queue import forget_queues, start_consumer

    emulator = start_in_thread(EmulatorConfig(api_keys=dict([DEMO_OCTANE_CLIENT]), tasks_per_second=50.0))
    demo_settings = _demo_settings(settings, emulator.url)
    forget_queues()  # the queue's tasks must run with these settings
    consumer = start_consumer(demo_settings, 2)
    console.rule("[bold]release promotion[/]")
    console.print(f"Octane emulator at {emulator.url} · evidence job on the task queue (consumer threads)")
    try:
        story = _demo_story(emulator, f"Regression {DEMO_RELEASE}")
        first = _promote_and_wait(database, demo_settings, builds[-1], story)
        console.print(promotion_panel(first))
        promotion_ids = [first.promotion.id]
        if len(builds) > 1:
            second_story = _demo_story(emulator, f"Regression {DEMO_RELEASE} (hotfix)")
            promotion_ids.append(
                _cancel_and_show_delink(database, demo_settings, emulator, builds[-2], second_story)
            )
            console.print(
                f"{_covering(emulator, story)} tests still cover story {story} of the first promotion"
            )
        return promotion_ids
    finally:
        consumer.stop(graceful=True)
        forget_queues()
        emulator.stop()


def _demo_settings(settings: Settings, octane_url: str) -> Settings:
    client_id, secret = DEMO_OCTANE_CLIENT
    from pydantic import SecretStr

    octane = settings.octane.model_copy(
        update={
            "base_url": octane_url,
            "client_id": client_id,
            "client_secret": SecretStr(secret),
            "poll_interval_seconds": 0.2,
        }
    )
    # A queue of this demo run's own, so that nothing an earlier, interrupted demo left is picked up.
    queue = settings.queue.model_copy(update={"name": f"demo-{uuid.uuid4().hex[:8]}"})
    return settings.model_copy(update={"octane": octane, "queue": queue})


def _demo_story(emulator: RunningEmulator, name: str) -> str:
    response = emulator.control("POST", "entities/stories", json={"data": [{"name": name}]})
    return str(response.json()["data"][0]["id"])


def _organization_id(database: Database, settings: Settings) -> int:
    from evidencehub.results.service import organization_id_for

    with database.session() as session:
        organization_id = organization_id_for(session, settings.default_organization)
    assert organization_id is not None  # the demo created it
    return organization_id


def _wait(database: Database, settings: Settings, promotion_id: int, *states: str) -> PromotionDetail:
    from evidencehub.errors import RemoteError
    from evidencehub.promotions.service import promotion_detail

    organization_id = _organization_id(database, settings)
    deadline = time.monotonic() + 300
    while True:
        detail = promotion_detail(database, settings, organization_id, promotion_id)
        if detail.promotion.state.value in states:
            return detail
        if time.monotonic() > deadline:
            raise RemoteError(
                f"promotion {promotion_id} did not finish in 5 minutes (state {detail.promotion.state})"
            )
        time.sleep(0.2)


def _promote_and_wait(database: Database, settings: Settings, build: str, story: str) -> PromotionDetail:
    from evidencehub.promotions.schemas import PromotionCreate
    from evidencehub.promotions.service import request_promotion

    promotion = request_promotion(
        database,
        settings,
        _organization_id(database, settings),
        PromotionCreate(
            project=DEMO_PROJECT,
            release=DEMO_RELEASE,
            build=build,
            upload_regression=True,
            regression_key=story,
            reason="demo: promote to PROD with Upload Regression",
        ),
        requester="cli:demo",
    )
    console.print(
        f"requested promotion {promotion.id} of build {build} → {promotion.target} "
        f"(job {promotion.job_name}, regression story {story})"
    )
    return _wait(database, settings, promotion.id, "succeeded", "failed")


def _covering(emulator: RunningEmulator, story: str) -> int:
    tests = emulator.state.store.kinds["tests"].values()
    return sum(any(str(item["id"]) == story for item in test["covered_content"]["data"]) for test in tests)


def _cancel_and_show_delink(
    database: Database, settings: Settings, emulator: RunningEmulator, build: str, story: str
) -> int:
    from evidencehub.promotions.service import cancel_promotion

    second = _promote_and_wait(database, settings, build, story)
    console.print(
        f"promotion {second.promotion.id} {second.promotion.state.value}: "
        f"{_covering(emulator, story)} tests in Octane now cover story {story}"
    )
    cancelled = cancel_promotion(
        database, settings, _organization_id(database, settings), second.promotion.id, actor="cli:demo"
    )
    console.print(f"cancel promotion {cancelled.id}: {cancelled.state.value}")
    done = _wait(database, settings, second.promotion.id, "cancelled")
    console.print(
        f"promotion {done.promotion.id} {done.promotion.state.value} · delink {done.promotion.delink_state}: "
        f"{done.promotion.delink_message}"
    )
    console.print(f"{_covering(emulator, story)} tests in Octane cover story {story} after the delink")
    return done.promotion.id


DEMO_ADMIN_EMAIL = "admin@demo.evidencehub.test"


def prepare_dashboard(settings: Settings, database: Database) -> DemoAdmin:
    """The demo organization's admin (a generated password, stored hashed) and a report to download."""
    from evidencehub.auth.service import ensure_admin
    from evidencehub.reports import service as reports
    from evidencehub.reports.schemas import ReportDefinitionCreate, ReportParameters
    from evidencehub.results.service import organization_id_for

    admin = ensure_admin(
        database, settings, organization=settings.default_organization, email=DEMO_ADMIN_EMAIL
    )
    with database.session() as session:
        organization_id = organization_id_for(session, admin.organization)
        assert organization_id is not None  # ensure_admin created it
        if reports.list_definitions(session, organization_id, limit=1):
            return admin
        definition = reports.create_definition(
            session,
            organization_id,
            ReportDefinitionCreate(
                name=f"{DEMO_PROJECT} evidence",
                kind="evidence",
                parameters=ReportParameters(project=DEMO_PROJECT),
            ),
            actor_user_id=None,
        )
    # Rendered by the task-queue consumer that `serve` starts (HTML, and PDF with Chromium).
    reports.start_execution(database, settings, organization_id, definition.id, actor_user_id=None)
    return admin


def serve_dashboard(settings: Settings, database: Database) -> None:
    """Serve the dashboard on the demo data until interrupted, printing the admin's sign-in once."""
    import uvicorn

    admin = prepare_dashboard(settings, database)
    url = f"http://{settings.web.host}:{settings.web.port}/"
    console.print(f"\n[bold]dashboard[/] {url} · organization [bold]{admin.organization}[/]")
    if admin.password is not None:
        console.print(
            f"sign in as [bold]{admin.email}[/] with password [bold]{admin.password}[/] "
            "(shown this once; only its hash is stored)"
        )
    else:
        console.print(
            f"sign in as [bold]{admin.email}[/] with the password printed when the demo first ran "
            f"(to start over, delete {settings.data_dir})"
        )
    console.print("stop with Ctrl+C")
    uvicorn.run(
        dashboard_app(settings, database),
        host=settings.web.host,
        port=settings.web.port,
        log_config=None,
        access_log=False,
    )


def dashboard_app(settings: Settings, database: Database) -> FastAPI:
    """The dashboard the demo serves: with the task-queue consumer that renders the demo's report."""
    from evidencehub.web import create_app

    return create_app(settings, database=database)
