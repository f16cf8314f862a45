"""Real databases for tests: SQLite always, PostgreSQL when EVIDENCEHUB_TEST_DATABASE_URL is set.

Migrations run once per backend and test worker; each test then gets an empty
schema — a copy of a migrated SQLite file, or truncated PostgreSQL tables —
which keeps hundreds of database tests fast.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from evidencehub.db.base import Base
from evidencehub.db.migrate import upgrade
from evidencehub.db.registry import load_all_models
from evidencehub.db.session import Database

PG_URL_VARIABLE = "EVIDENCEHUB_TEST_DATABASE_URL"
REDIS_URL_VARIABLE = "EVIDENCEHUB_TEST_REDIS_URL"


def postgres_base_url() -> str | None:
    url = os.environ.get(PG_URL_VARIABLE)
    if not url:
        return None
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "evidencehub.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


class PostgresScratch:
    """A database of its own for one test worker, created from the configured server and dropped after."""

    def __init__(self, base_url: str, worker: str) -> None:
        self.base = make_url(base_url)
        self.name = f"evidencehub_t_{worker}_{uuid.uuid4().hex[:8]}"
        self.url = self.base.set(database=self.name).render_as_string(hide_password=False)

    def create(self) -> None:
        admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        database = Database(self.url)
        upgrade(database)
        database.dispose()

    def truncate(self, database: Database) -> None:
        load_all_models()
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        with database.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    def drop(self) -> None:
        admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()
