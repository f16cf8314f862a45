"""Rendering publish jobs for people: the live progress bar, the slice table, the summary line."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Protocol, TypeVar

import typer
from rich.console import Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from evidencehub.cli.output import Json, console, error_console, print_json
from evidencehub.publish.schemas import JobDetail, JobOut

if TYPE_CHECKING:  # the CLI imports the publishing machinery only when a command needs it
    from evidencehub.config import Settings
    from evidencehub.db.session import Database
    from evidencehub.publish.engine import Progress as ProgressCallback

RequestT_contra = TypeVar("RequestT_contra", contravariant=True)

STATUS_STYLE = {
    "pending": "dim",
    "sending": "cyan",
    "queued": "blue",
    "running": "magenta",
    "success": "green",
    "warning": "yellow",
    "failed": "bold red",
    "lost": "red",
}
FINISHED = ("success", "warning", "failed")


class JobProgress:
    """A Rich progress bar on stderr fed by the engine's progress callback; shown once ``begin`` is called."""

    def __init__(self, label: str, *, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def begin(self, total: int) -> None:
        if not self.enabled or self._progress is not None:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[states]}"),
            TimeElapsedColumn(),
            console=error_console,
            transient=True,
        )
        self._task = self._progress.add_task(self.label, total=total, states="")
        self._progress.start()

    def update(self, counts: dict[str, int]) -> None:
        if self._progress is None or self._task is None:
            return
        done = sum(counts.get(status, 0) for status in FINISHED)
        states = " · ".join(
            f"[{STATUS_STYLE.get(status, '')}]{status} {count}[/]"
            for status, count in sorted(counts.items())
            if count
        )
        self._progress.update(self._task, completed=done, states=states)

    def __enter__(self) -> JobProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


@contextmanager
def interruptible() -> Iterator[Callable[[], bool]]:
    """While active, Ctrl-C asks the job to stop cleanly (a second Ctrl-C interrupts at once)."""
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        error_console.print("[yellow]stopping: finishing the requests in progress (Ctrl-C again to abort)[/]")

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: not stop.is_set()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


def job_line(job: JobOut) -> str:
    style = {"succeeded": "green", "failed": "bold red", "cancelled": "yellow"}.get(job.state, "cyan")
    text = (
        f"job [bold]{job.id}[/] [{style}]{job.state}[/]: {job.slices_done}/{job.slices_total} slices "
        f"({job.tests_total} tests)"
    )
    if job.slices_failed:
        text += f", {job.slices_failed} failed"
    if job.warnings:
        text += f", {job.warnings} warning(s)"
    if job.error:
        text += f" — {job.error}"
    return text


def _short(text: str | None, width: int = 70) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def job_panel(detail: JobDetail) -> Panel:
    job = detail.job
    slices = Table(box=None, pad_edge=False)
    for column in ("slice", "tests", "status", "task", "attempts", "updated", "last error"):
        slices.add_column(column, justify="right" if column in ("slice", "tests", "attempts") else "left")
    for item in detail.slices:
        style = STATUS_STYLE.get(item.status, "")
        slices.add_row(
            str(item.slice_no),
            str(item.test_count),
            f"[{style}]{item.status}[/]",
            item.remote_task_id or "",
            str(item.attempts),
            item.updated_at.strftime("%H:%M:%S"),
            _short(item.last_error),
        )
    where = " · ".join(part for part in (job.project, f"build {job.build}" if job.build else None) if part)
    header = f"{job_line(job)}\n{where} · release {job.release or '-'} · log {detail.log_path}"
    return Panel(Group(header, slices), title=f"{job.target} upload tasks", title_align="left")


class OnCreated(Protocol):
    """Told of a job once stored, with the target's warnings about it (if it has any)."""

    def __call__(self, job: JobOut, warnings: Sequence[str] = ()) -> None: ...


class TargetPublish(Protocol[RequestT_contra]):
    """A target's publish-or-resume entry point (``publish_run_to_octane``, ``publish_run_to_xray``)."""

    def __call__(
        self,
        database: Database,
        settings: Settings,
        request: RequestT_contra,
        *,
        should_continue: Callable[[], bool] | None = ...,
        progress: ProgressCallback | None = ...,
        on_created: OnCreated = ...,
    ) -> JobOut: ...


def publish_with_progress(
    publish: TargetPublish[RequestT_contra],
    database: Database,
    settings: Settings,
    request: RequestT_contra,
    *,
    label: str,
    destination: str,
    as_json: bool,
) -> JobOut:
    """Publish with Ctrl-C as a clean stop and a progress bar that starts once the job exists."""
    with interruptible() as should_continue, JobProgress(label, enabled=not as_json) as bar:

        def created(job: JobOut, warnings: Sequence[str] = ()) -> None:
            for warning in warnings:
                error_console.print(f"[yellow]warning[/]: {warning}")
            if not as_json:
                error_console.print(
                    f"job {job.id}: {job.tests_total} tests in {job.slices_total} slice(s) → {destination}"
                )
            bar.begin(job.slices_total)

        return publish(
            database,
            settings,
            request,
            should_continue=should_continue,
            progress=bar.update,
            on_created=created,
        )


def jobs_command(target: str, label: str, none_yet: str) -> Callable[..., None]:
    """The ``jobs`` command of a target's command group: its publish jobs, newest first.

    ``none_yet`` says how to make the first job.
    """

    def jobs(
        ctx: typer.Context,
        limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
        as_json: Json = False,
    ) -> None:
        from evidencehub.cli.context import cli_context
        from evidencehub.publish.service import list_jobs

        found = list_jobs(cli_context(ctx).database(), target=target, limit=limit)
        if as_json:
            print_json(found)
            return
        if not found:
            console.print(none_yet)
        for job in found:
            console.print(job_line(job))

    jobs.__doc__ = f"{label} publish jobs, newest first."
    return jobs
