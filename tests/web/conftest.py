"""Web test fixtures: fast hashing, no rate limits (unless a test turns them on), a world, a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.web import create_app
from tests.support.web import World, build_world, set_fast_web_env


@pytest.fixture(autouse=True)
def _fast_web_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fast_web_env(monkeypatch)


@pytest.fixture
def world(database: Database, settings: Settings) -> World:
    return build_world(database, settings)


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    app = create_app(settings, database=database, run_consumer=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
