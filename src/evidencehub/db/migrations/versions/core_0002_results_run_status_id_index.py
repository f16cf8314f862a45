"""results: (run_id, status, id) index for the filtered, keyset-paged results listing

Replaces (run_id, status), a prefix of the new index, so ingestion still
maintains one index. On PostgreSQL the listing ``WHERE run_id = ? AND status =
? AND id > ? ORDER BY id LIMIT n`` becomes one index range scan instead of
fetching every result of that status and sorting it; on SQLite the rowid was
already the index's hidden last column, so plans stay as they were.

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-11-22 05:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "core_0002"
down_revision: str | Sequence[str] | None = "core_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.create_index("ix_results_run_id_status_id", ["run_id", "status", "id"], unique=False)
        batch_op.drop_index("ix_results_run_id_status")


def downgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.create_index("ix_results_run_id_status", ["run_id", "status"], unique=False)
        batch_op.drop_index("ix_results_run_id_status_id")
