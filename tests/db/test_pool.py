"""Connection-pool exhaustion is a clear 'unavailable', not a stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from evidencehub.config import DatabaseSettings
from evidencehub.db.session import Database
from evidencehub.errors import UnavailableError


def test_an_exhausted_pool_raises_unavailable_naming_the_settings(tmp_path: Path) -> None:
    database = Database(
        f"sqlite:///{tmp_path / 'pool.db'}",
        DatabaseSettings(pool_size=1, max_overflow=0, pool_timeout_seconds=0.2),
    )
    try:
        with database.session() as holder:
            holder.execute(text("SELECT 1"))  # checks out the only connection
            with (
                pytest.raises(UnavailableError, match=r"pool exhausted.*pool_size"),
                database.session() as other,
            ):
                other.execute(text("SELECT 1"))
    finally:
        database.dispose()
