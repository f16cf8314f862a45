"""Apply Alembic migrations to the newest revision of every domain branch.

Each domain keeps its own branch of revisions (``branch_labels``) in
``db/migrations/versions``; upgrading to ``heads`` applies all of them, so
domains developed side by side never fight over a single linear history.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from evidencehub.db.session import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every evidencehub process.
_PG_MIGRATION_LOCK = 0x65766964


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def pending_revisions(database: Database) -> set[str]:
    """Heads not yet applied; empty when the schema is current."""
    script = ScriptDirectory.from_config(alembic_config())
    with database.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    applied: set[str] = set()
    for revision in current:
        applied.update(rev.revision for rev in script.iterate_revisions(revision, "base"))
    return heads - applied


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision; a no-op when it already is.

    On PostgreSQL an advisory lock serialises concurrent starters (several
    ``serve`` workers or ``worker`` processes starting at once).
    """
    with database.engine.connect() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        try:
            command.upgrade(alembic_config(connection), "heads")
            connection.commit()
        finally:
            if database.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
                connection.commit()
