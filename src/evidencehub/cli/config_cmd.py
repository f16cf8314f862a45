"""``evidencehub config show``: the effective settings, secrets masked."""

from __future__ import annotations

from typing import Any

import typer
import yaml

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, print_json

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Json = False,
) -> None:
    """Print the effective settings (flags > EVIDENCEHUB_* > config file > defaults), secrets masked."""
    settings = cli_context(ctx).settings
    data: dict[str, Any] = settings.redacted()
    data["database_url"] = data["database_url"] or f"(default) {settings.effective_database_url()}"
    if as_json:
        print_json(data)
        return
    console.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip(), markup=False)
