"""Alembic environment: runs on the connection handed over by evidencehub.db.migrate."""

from __future__ import annotations

from alembic import context

from evidencehub.db.base import Base
from evidencehub.db.registry import load_all_models

load_all_models()
target_metadata = Base.metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through evidencehub (evidencehub init), which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    # SQLite cannot ALTER most things in place; batch mode recreates tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # Custom column types render as evidencehub.db.base.X (imported by script.py.mako).
    user_module_prefix="evidencehub.db.base.",
)
with context.begin_transaction():
    context.run_migrations()
