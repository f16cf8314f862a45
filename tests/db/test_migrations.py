from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from evidencehub.db.base import Base
from evidencehub.db.migrate import alembic_config, pending_revisions, upgrade
from evidencehub.db.registry import load_all_models
from evidencehub.db.session import Database


def test_migrations_match_the_models(database: Database) -> None:
    """Every model change comes with a migration (on SQLite and PostgreSQL alike)."""
    load_all_models()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_is_idempotent(database: Database) -> None:
    assert pending_revisions(database) == set()
    upgrade(database)
    assert pending_revisions(database) == set()


def _branch_label(script: ScriptDirectory, head: str) -> str | None:
    for revision in script.iterate_revisions(head, "base"):
        if revision.branch_labels:
            return sorted(revision.branch_labels)[0]
    return None


def test_each_domain_branch_has_exactly_one_head() -> None:
    """Domains keep separate migration branches; two heads on one branch would need a merge."""
    script = ScriptDirectory.from_config(alembic_config())
    labels = [_branch_label(script, head) for head in script.get_heads()]
    assert None not in labels, "every migration branch starts with a branch_labels revision"
    assert len(labels) == len(set(labels)), f"a branch has several heads: {labels}"
    assert "core" in labels
