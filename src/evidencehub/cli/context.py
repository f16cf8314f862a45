"""State shared by the commands of one CLI invocation: settings and database, created lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database, get_database
from evidencehub.ops.logging import configure_logging


@dataclass
class CliContext:
    env: str | None = None
    config_file: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.env, self.config_file, **self.overrides)
            configure_logging(self._settings.log)
        return self._settings

    def database(self, *, migrate: bool = True) -> Database:
        """The database, with migrations applied first (idempotent) unless told otherwise."""
        database = get_database(self.settings)
        if migrate:
            from evidencehub.db.migrate import pending_revisions, upgrade

            if pending_revisions(database):
                upgrade(database)
        return database


def cli_context(ctx: typer.Context) -> CliContext:
    context = ctx.find_root().obj
    if not isinstance(context, CliContext):
        context = CliContext()
        ctx.find_root().obj = context
    return context
