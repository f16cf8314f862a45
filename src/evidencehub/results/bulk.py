"""Fast bulk writes of tests and results inside the ingest transaction.

The ORM is far too slow for millions of rows, so ingestion writes through the
driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL. Both run on the
session's own connection, so everything still commits or rolls back as one.
Values are converted exactly as SQLAlchemy's column types would store them,
so rows read back through the ORM are identical to ORM-written ones.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from evidencehub.errors import ConfigError

TEST_COLUMNS = ("id", "project_id", "key", "module", "classname", "name", "file", "first_seen_at")
RESULT_COLUMNS = (
    "run_id",
    "test_id",
    "status",
    "duration_ms",
    "started_at",
    "failure_type",
    "message",
    "trace",
    "stdout",
    "stderr",
    "properties",
    "attempts",
    "flaky",
)

# Rows as tuples in the column order above; datetimes aware, JSON values as Python objects.
TestRow = tuple[int, int, str, str | None, str | None, str, str | None, dt.datetime]
ResultRow = tuple[
    int,
    int,
    str,
    float | None,
    dt.datetime | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    dict[str, Any] | None,
    list[Any] | None,
    bool,
]


class BulkWriter(Protocol):
    def write_tests(self, rows: Sequence[TestRow]) -> None:
        """Insert tests; rows whose id already exists are left as they are."""

    def write_results(self, rows: Sequence[ResultRow]) -> None:
        """Insert results (the caller guarantees no (test, run) pair is written twice)."""


def bulk_writer(session: Session) -> BulkWriter:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return SqliteBulkWriter(session)
    if dialect == "postgresql":
        return PostgresBulkWriter(session)
    raise ConfigError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")


def _driver_connection(session: Session) -> Any:
    return session.connection().connection.driver_connection


def _sqlite_time(value: dt.datetime | None) -> str | None:
    # The format SQLAlchemy's SQLite DateTime type stores, in UTC (see db.base.UTCDateTime).
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


class BackgroundWriter:
    """Writes batches on a thread of its own while the caller parses the next ones.

    sqlite3 and psycopg release the GIL while the database does its work, so
    parsing and writing overlap. At most ``depth`` batches wait, which bounds
    memory. The caller must not use the connection itself until ``drain()``.
    """

    def __init__(self, writer: BulkWriter, *, depth: int = 2) -> None:
        self._writer = writer
        self._batches: queue.Queue[tuple[Sequence[TestRow], Sequence[ResultRow]] | None] = queue.Queue(
            maxsize=depth
        )
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._batches.get()
            try:
                if item is None:  # close() asks the thread to stop
                    return
                if self._failure is None:
                    tests, results = item
                    self._writer.write_tests(tests)
                    self._writer.write_results(results)
            except BaseException as failure:  # handed to the caller, which re-raises it
                self._failure = failure
            finally:
                self._batches.task_done()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def submit(self, tests: Sequence[TestRow], results: Sequence[ResultRow]) -> None:
        self._raise_failure()
        self._batches.put((tests, results))

    def drain(self) -> None:
        """Wait until every submitted batch is written; re-raise a write failure."""
        self._batches.join()
        self._raise_failure()

    def close(self) -> None:
        """Stop the thread (after the batches already queued)."""
        if self._thread.is_alive():
            self._batches.put(None)
            self._thread.join()


class SqliteBulkWriter:
    # Column lists are this module's constants, never input: nothing to inject.
    _TESTS_SQL = (
        f"INSERT OR IGNORE INTO tests ({', '.join(TEST_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(TEST_COLUMNS))})"
    )
    _RESULTS_SQL = (
        f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(RESULT_COLUMNS))})"
    )

    def __init__(self, session: Session) -> None:
        self._connection = _driver_connection(session)

    def write_tests(self, rows: Sequence[TestRow]) -> None:
        if not rows:
            return
        # The tests of one ingestion share one first_seen_at object: format it once.
        shared = rows[0][7]
        stamp = _sqlite_time(shared)
        converted = [(*row[:7], stamp if row[7] is shared else _sqlite_time(row[7])) for row in rows]
        self._connection.executemany(self._TESTS_SQL, converted)

    def write_results(self, rows: Sequence[ResultRow]) -> None:
        converted = [
            (*row[:4], _sqlite_time(row[4]), *row[5:10], _json(row[10]), _json(row[11]), row[12])
            for row in rows
        ]
        self._connection.executemany(self._RESULTS_SQL, converted)


class PostgresBulkWriter:
    """COPY into the tables; tests go through a temporary table to skip existing ids."""

    def __init__(self, session: Session) -> None:
        self._connection = _driver_connection(session)
        self._staging_ready = False

    def _ensure_staging(self) -> None:
        if not self._staging_ready:
            self._connection.execute(
                "CREATE TEMP TABLE IF NOT EXISTS ingest_tests_staging "
                "(LIKE tests INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            self._staging_ready = True

    def write_tests(self, rows: Sequence[TestRow]) -> None:
        if not rows:
            return
        self._ensure_staging()
        with self._connection.cursor() as cursor:
            with cursor.copy(f"COPY ingest_tests_staging ({', '.join(TEST_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO tests ({', '.join(TEST_COLUMNS)}) "  # noqa: S608 - constant column list
                f"SELECT {', '.join(TEST_COLUMNS)} FROM ingest_tests_staging ON CONFLICT (id) DO NOTHING"
            )
            cursor.execute("TRUNCATE ingest_tests_staging")

    def write_results(self, rows: Sequence[ResultRow]) -> None:
        if not rows:
            return
        with (
            self._connection.cursor() as cursor,
            cursor.copy(f"COPY results ({', '.join(RESULT_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((*row[:10], _json(row[10]), _json(row[11]), row[12]))
