"""``evidencehub promote request|list|show|cancel``: release promotions and their Octane tab."""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from evidencehub.cli.context import CliContext, cli_context
from evidencehub.cli.output import Json, console, error_console, print_json, table
from evidencehub.cli.publish_view import job_panel
from evidencehub.promotions.schemas import PromotionDetail, PromotionOut

if TYPE_CHECKING:
    from evidencehub.config import Settings
    from evidencehub.db.session import Database

app = typer.Typer(help="Release promotions: request one, follow its evidence job, cancel it.")

STATE_STYLE = {
    "requested": "cyan",
    "running": "magenta",
    "succeeded": "green",
    "failed": "bold red",
    "cancelling": "yellow",
    "cancelled": "yellow",
}
ACTIVE = ("requested", "running", "cancelling")


def _organization_id(context: CliContext) -> int:
    from evidencehub.errors import NotFoundError
    from evidencehub.results.service import organization_id_for

    slug = context.settings.default_organization
    with context.database().session() as session:
        organization_id = organization_id_for(session, slug)
    if organization_id is None:
        raise NotFoundError(
            f"organization '{slug}' does not exist (ingest results first, or set default_organization)",
            details={"organization": slug},
        )
    return organization_id


def _requester(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _state(state: str) -> str:
    return f"[{STATE_STYLE.get(state, '')}]{state}[/]"


def promotion_line(promotion: PromotionOut) -> str:
    regression = f" · regression {promotion.regression_key}" if promotion.upload_regression else ""
    return (
        f"promotion [bold]{promotion.id}[/] {_state(promotion.state.value)}: {promotion.project} "
        f"{promotion.release} build {promotion.build} → {promotion.target}{regression}"
    )


def _change(
    ctx: typer.Context, as_json: bool, change: Callable[[Database, Settings, int], PromotionOut]
) -> PromotionOut | None:
    """Requests or cancels a promotion of the default organization and prints it: as JSON for tools
    (then None is returned), as its line for people (then it is returned, for the next step's hint)."""
    context = cli_context(ctx)
    promotion = change(context.database(), context.settings, _organization_id(context))
    if as_json:
        print_json(promotion)
        return None
    console.print(promotion_line(promotion))
    return promotion


def promotion_panel(detail: PromotionDetail) -> Group:
    """The Octane tab for people: the promotion, its history, and each publication's upload slices."""
    promotion = detail.promotion
    lines = [
        promotion_line(promotion),
        f"job {promotion.job_name} · requested by {promotion.requester} · attempts {promotion.attempts}",
        f"bundle {promotion.bundle.url if promotion.bundle else '(not stored yet)'}",
    ]
    if promotion.bundle and promotion.bundle.manifest_sha256:
        lines.append(
            f"  manifest sha256 {promotion.bundle.manifest_sha256} · {promotion.bundle.files} files · "
            f"{promotion.bundle.total_bytes} bytes"
        )
    if promotion.error:
        lines.append(f"[red]error[/]: {promotion.error}")
    if promotion.delink_state and promotion.delink_state != "none":
        delink = f"delink {promotion.delink_state} (attempts {promotion.delink_attempts})"
        if promotion.delink_message:
            delink += f": {promotion.delink_message}"
        lines.append(delink)
    if promotion.delink_error:
        lines.append(f"[red]delink error[/]: {promotion.delink_error}")
    history = Table(box=None, pad_edge=False, title="history", title_justify="left")
    for column in ("at", "who", "from", "to", "detail"):
        history.add_column(column)
    for event in detail.history:
        history.add_row(
            event.at.strftime("%Y-%m-%d %H:%M:%S"),
            event.actor,
            event.from_state or "",
            _state(event.to_state) if event.to_state else "",
            event.detail or "",
        )
    parts: list[object] = [
        Panel("\n".join(lines), title=f"promotion {promotion.id}", title_align="left"),
        history,
    ]
    parts.extend(job_panel(job) for job in detail.jobs)
    if not detail.jobs:
        parts.append("no upload tasks yet")
    return Group(*parts)  # type: ignore[arg-type]


@app.command("request")
def request(
    ctx: typer.Context,
    project: Annotated[str, typer.Option(envvar="EVIDENCEHUB_PROJECT", help="Project key.")],
    release: Annotated[str, typer.Option(help="Release being promoted.")],
    build: Annotated[str, typer.Option(help="Build (as ingested) whose evidence is promoted.")],
    target: Annotated[
        str | None, typer.Option(help="Target environment (default promotions.default_target: PROD).")
    ] = None,
    upload_regression: Annotated[
        bool,
        typer.Option("--upload-regression", help="Link the regression backlog item to the uploaded tests."),
    ] = False,
    regression_key: Annotated[
        str | None, typer.Option(help="The regression backlog item (Octane work item id).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (shown in the history).")] = None,
    requester: Annotated[str | None, typer.Option(help="Who asks (default cli:$USER).")] = None,
    as_json: Json = False,
) -> None:
    """Request a promotion: its evidence job goes on the task queue (a worker runs it)."""
    from pydantic import ValidationError

    from evidencehub.errors import InputError
    from evidencehub.promotions import service
    from evidencehub.promotions.schemas import PromotionCreate

    try:
        body = PromotionCreate(
            project=project,
            release=release,
            build=build,
            target=target,
            upload_regression=upload_regression,
            regression_key=regression_key,
            reason=reason,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'request'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InputError(f"invalid promotion request: {problems}") from None
    promotion = _change(
        ctx,
        as_json,
        lambda database, settings, organization_id: service.request_promotion(
            database, settings, organization_id, body, requester=_requester(requester)
        ),
    )
    if promotion is None:
        return
    console.print(
        f"job {promotion.job_name} queued; follow it with: evidencehub promote show {promotion.id} --watch"
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    state: Annotated[str | None, typer.Option(help="Only promotions in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many, newest first.")] = 50,
    as_json: Json = False,
) -> None:
    """Promotions, newest first."""
    from evidencehub.promotions import service

    context = cli_context(ctx)
    organization_id = _organization_id(context)
    with context.database().session() as session:
        promotions = service.list_promotions(
            session, organization_id, limit=limit, project=project, state=state
        )
    if as_json:
        print_json(promotions)
        return
    console.print(
        table(
            "promotions",
            ["id", "state", "project", "release", "build", "target", "regression", "requested", "job"],
            [
                [
                    item.id,
                    _state(item.state.value),
                    item.project,
                    item.release,
                    item.build,
                    item.target,
                    item.regression_key or "",
                    item.created_at.strftime("%Y-%m-%d %H:%M"),
                    item.job_name,
                ]
                for item in promotions
            ],
        )
    )


@app.command("show")
def show(
    ctx: typer.Context,
    promotion_id: Annotated[int, typer.Argument(metavar="ID", help="Promotion id.")],
    watch: Annotated[
        bool | None,
        typer.Option(
            "--watch/--once",
            help="Refresh until the promotion has finished (default: while it runs, at a terminal).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output (the dashboard's).")
    ] = False,
) -> None:
    """The Octane tab: state, history, job name, bundle, every upload slice (task id, status, attempts…)."""
    from evidencehub.promotions import service

    context = cli_context(ctx)
    database, settings = context.database(), context.settings
    organization_id = _organization_id(context)

    def detail() -> PromotionDetail:
        return service.promotion_detail(database, settings, organization_id, promotion_id)

    current = detail()
    # At a terminal the tab stays live while the promotion runs; a script or a pipe gets one snapshot.
    if watch is None:
        watch = console.is_terminal and not as_json
    if watch and current.promotion.state.value in ACTIVE:
        interval = settings.promotions.watch_interval_seconds
        if as_json:
            while current.promotion.state.value in ACTIVE:
                time.sleep(interval)
                current = detail()
        else:
            with Live(promotion_panel(current), console=console, refresh_per_second=4) as live:
                try:
                    while current.promotion.state.value in ACTIVE:
                        time.sleep(interval)
                        current = detail()
                        live.update(promotion_panel(current))
                except KeyboardInterrupt:
                    error_console.print("stopped watching (the promotion goes on)")
            return
    if as_json:
        print_json(current)
        return
    console.print(promotion_panel(current))


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    promotion_id: Annotated[int, typer.Argument(metavar="ID", help="Promotion id.")],
    requester: Annotated[str | None, typer.Option(help="Who cancels (default cli:$USER).")] = None,
    as_json: Json = False,
) -> None:
    """Cancel: a requested promotion at once; a running one stops sending, then delinks the backlog item."""
    from evidencehub.promotions import service

    promotion = _change(
        ctx,
        as_json,
        lambda database, settings, organization_id: service.cancel_promotion(
            database, settings, organization_id, promotion_id, actor=_requester(requester)
        ),
    )
    if promotion is not None and promotion.state.value == "cancelling":
        console.print(
            "the job stops sending new slices, then removes the regression backlog item from the tests it "
            f"linked; follow it with: evidencehub promote show {promotion.id} --watch"
        )
