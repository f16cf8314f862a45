"""Rendering for people (Rich) and for tools (--json), and the error line both share."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from evidencehub.errors import EvidenceHubError

# The option of every command that can print for tools, with one wording.
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, never wrapped or coloured."""
    if isinstance(data, BaseModel):
        text = data.model_dump_json(indent=2)
    else:
        text = json.dumps(_plain(data), indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _plain(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(value) for value in data]
    return data


def print_error(error: EvidenceHubError) -> None:
    error_console.print(f"[bold red]error[/] ({error.code}): {error.message}", markup=True, soft_wrap=True)


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    result = Table(title=title, title_justify="left")
    for column in columns:
        numeric = column.lower() in {
            "tests",
            "passed",
            "failures",
            "errors",
            "skipped",
            "flaky",
            "id",
            "cases",
        }
        result.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        result.add_row(*("" if value is None else str(value) for value in row))
    return result


def format_duration(milliseconds: float | None) -> str:
    if milliseconds is None:
        return ""
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
