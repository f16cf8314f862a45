"""Fixtures every test can use: isolated settings, real databases, the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Rich reads the terminal width once, at import: make tables wide enough to assert on.
os.environ.setdefault("COLUMNS", "200")

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database, forget_databases
from tests.support.cli import CliRunner, make_cli_runner
from tests.support.databases import (
    PG_URL_VARIABLE,
    PostgresScratch,
    create_sqlite_template,
    postgres_base_url,
    sqlite_copy,
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No EVIDENCEHUB_* variable, config file or XDG dir of the developer's leaks into a test."""
    for name in list(os.environ):
        if (
            name.startswith("EVIDENCEHUB_")
            and not name.startswith("EVIDENCEHUB_TEST_")
            and name != ("EVIDENCEHUB_SHARED_DIR")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield
    forget_databases()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def _postgres(worker_id: str) -> Iterator[PostgresScratch | None]:
    base = postgres_base_url()
    if base is None:
        yield None
        return
    scratch = PostgresScratch(base, worker_id)
    scratch.create()
    yield scratch
    forget_databases()
    scratch.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each database test runs on SQLite, and again on PostgreSQL when configured."""
    if request.param == "postgresql" and postgres_base_url() is None:
        pytest.skip(f"PostgreSQL tests need {PG_URL_VARIABLE} (CI sets it)")
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    _sqlite_template: Path,
) -> Iterator[str]:
    if backend == "sqlite":
        yield sqlite_copy(_sqlite_template, tmp_path)
        return
    scratch: PostgresScratch = request.getfixturevalue("_postgres")
    yield scratch.url
    forget_databases()
    with_engine = Database(scratch.url)
    scratch.truncate(with_engine)
    with_engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a test: its own data dir and an empty, migrated database.

    Also exported as EVIDENCEHUB_* variables so CLI runs in the test see the same.
    """
    data_dir = tmp_path / "data"
    monkeypatch.setenv("EVIDENCEHUB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EVIDENCEHUB_DATABASE_URL", database_url)
    return load_settings()


@pytest.fixture
def database(settings: Settings) -> Database:
    from evidencehub.db.session import get_database

    return get_database(settings)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run ``evidencehub ARGS…`` in-process; returns exit code, stdout and stderr."""
    return make_cli_runner(capsys)
