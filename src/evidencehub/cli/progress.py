"""A Rich progress bar for ingestion, shown only when the inputs are large enough to wait for."""

from __future__ import annotations

from collections.abc import Sequence

from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from evidencehub.cli.output import error_console
from evidencehub.results.inputs import InputSource


class RichIngestProgress:
    def __init__(self, *, min_bytes: int) -> None:
        self._min_bytes = min_bytes
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def begin(self, sources: Sequence[InputSource]) -> None:
        total = sum(source.size_bytes for source in sources)
        if total < self._min_bytes:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=error_console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("ingesting", total=total)

    def file_started(self, source: InputSource) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=source.name.rsplit("/", 1)[-1][:40])

    def advance(self, stored_bytes: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, stored_bytes)

    def end(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
