"""``evidencehub init``: create the data dir and bring the database schema up to date."""

from __future__ import annotations

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, print_json


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        ctx: typer.Context,
        as_json: Json = False,
    ) -> None:
        """Create the data dir and apply database migrations (safe to run again)."""
        from evidencehub.auth.tokens import ensure_jwt_secret
        from evidencehub.db.migrate import pending_revisions, upgrade
        from evidencehub.orgs.service import ensure_organization

        context = cli_context(ctx)
        settings = context.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = context.database(migrate=False)
        pending = pending_revisions(database)
        if pending:
            upgrade(database)
        with database.session() as session:
            ensure_organization(session, settings.default_organization)
        ensure_jwt_secret(settings)  # mode 0600 in the data dir, unless auth.jwt_secret is set
        if as_json:
            print_json(
                {
                    "data_dir": str(settings.data_dir),
                    "database": database.display_url,
                    "migrated": sorted(pending),
                }
            )
            return
        console.print(f"data dir  {settings.data_dir}")
        console.print(f"database  {database.display_url}")
        console.print(
            "schema    " + (f"migrated ({', '.join(sorted(pending))})" if pending else "up to date")
        )
