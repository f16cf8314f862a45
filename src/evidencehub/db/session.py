"""The one engine and session factory per database URL in a process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from evidencehub.config import DatabaseSettings, Settings, mask_url_password
from evidencehub.errors import UnavailableError


class Database:
    """An engine plus its session factory. Services receive one of these."""

    def __init__(self, url: str | URL, settings: DatabaseSettings | None = None) -> None:
        self.settings = settings or DatabaseSettings()
        self.url = make_url(url)
        self.engine = _create_engine(self.url, self.settings)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return mask_url_password(self.url.render_as_string(hide_password=False))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise _unavailable(self, exc) from exc
        except PoolTimeoutError as exc:
            session.rollback()
            raise UnavailableError(
                f"database connection pool exhausted ({self.engine.pool.status()}); "
                "raise database.pool_size / max_overflow or lower the load",
                details={"pool_timeout_seconds": self.settings.pool_timeout_seconds},
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _unavailable(database: Database, exc: OperationalError) -> Exception:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    # Lock timeouts and lost connections are the database being unavailable; a
    # malformed statement is a bug and keeps its own type.
    markers = ("could not connect", "connection refused", "database is locked", "server closed", "timeout")
    if any(marker in text.lower() for marker in markers):
        return UnavailableError(
            f"database unavailable ({database.display_url}): {text.splitlines()[0] if text else 'no detail'}"
        )
    return exc


def _create_engine(url: URL, settings: DatabaseSettings) -> Engine:
    options: dict[str, Any] = {"echo": settings.echo, "future": True}
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
            "check_same_thread": False,
        }
        if database and database != ":memory:":
            # The web service's threads share a file database through the same pool settings.
            options.update(
                pool_size=settings.pool_size,
                max_overflow=settings.max_overflow,
                pool_timeout=settings.pool_timeout_seconds,
            )
    else:
        options.update(
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout_seconds,
            pool_pre_ping=True,
        )
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, settings)
    return engine


def _configure_sqlite(engine: Engine, settings: DatabaseSettings) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the web service read while an ingest writes; NORMAL is durable
        # across application crashes in WAL mode and much faster than FULL.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        # The default 2 MB cache thrashes when a million-row ingest updates the results indexes.
        cursor.execute(f"PRAGMA cache_size=-{int(settings.sqlite_cache_mb) * 1024}")
        cursor.close()


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def get_database(settings: Settings) -> Database:
    """The process-wide Database for the settings' URL (created on first use)."""
    url = settings.effective_database_url()
    with _databases_lock:
        database = _databases.get(url)
        if database is None:
            database = Database(url, settings.database)
            _databases[url] = database
        return database


def forget_databases() -> None:
    """Dispose every cached engine (tests and forked workers call this)."""
    with _databases_lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()
