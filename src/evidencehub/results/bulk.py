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
    memory (one waiting batch keeps the writer busy; a second one only cost
    ~4 MB of peak RSS). The caller must not use the connection itself until ``drain()``.
    """

    def __init__(self, writer: BulkWriter, *, depth: int = 1) -> None:
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
        # Most results have no start time, properties or attempts: those rows go to the driver as they are.
        converted = [
            row
            if row[4] is None and row[10] is None and row[11] is None
            else (*row[:4], _sqlite_time(row[4]), *row[5:10], _json(row[10]), _json(row[11]), row[12])
            for row in rows
        ]
        self._connection.executemany(self._RESULTS_SQL, converted)


class PostgresBulkWriter:
    """Binary COPY into the tables; tests go through a temporary table to skip existing ids.

    Foreign keys: PostgreSQL checks them with a trigger per row that locks the
    parent row (a WAL record per row), which cost ~3/4 of the COPY's time on
    the ingest benchmark. The rows written here can only reference what this
    transaction itself wrote or found: results point at the run created in it
    and at tests written before them in it; tests point at the project, which
    is locked (FOR KEY SHARE) so nothing can delete it or cascade its tests
    away until the commit; evidencehub never deletes tests otherwise. So when
    the role may set ``session_replication_role`` (a superuser, or one granted
    ``SET`` on it, as pg_restore's ``--disable-triggers`` also needs), the
    COPY statements run with it set to ``replica`` — which skips those per-row
    triggers — and it is set back at once after each batch; otherwise the
    triggers run as usual.
    """

    # Binary COPY needs each column's type; they follow the results model (JSONB, timestamptz, …).
    _TEST_TYPES = ("int8", "int4", "text", "text", "text", "text", "text", "timestamptz")
    _RESULT_TYPES = (
        "int4",
        "int8",
        "text",
        "float8",
        "timestamptz",
        "text",
        "text",
        "text",
        "text",
        "text",
        "jsonb",
        "jsonb",
        "bool",
    )
    _COPY_TESTS = f"COPY ingest_tests_staging ({', '.join(TEST_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    _MOVE_TESTS = (
        f"INSERT INTO tests ({', '.join(TEST_COLUMNS)}) "  # noqa: S608 - constant column list
        f"SELECT {', '.join(TEST_COLUMNS)} FROM ingest_tests_staging ON CONFLICT (id) DO NOTHING"
    )
    _COPY_RESULTS = f"COPY results ({', '.join(RESULT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"

    def __init__(self, session: Session) -> None:
        self._connection = _driver_connection(session)
        self._prepared = False
        self._skip_triggers: str | None = None  # the role to restore, when the triggers may be skipped

    def _prepare(self, project_id: int) -> None:
        if self._prepared:
            return
        self._prepared = True
        self._connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS ingest_tests_staging "
            "(LIKE tests INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        if not self._may_set_replication_role():
            return
        self._connection.execute("SELECT 1 FROM projects WHERE id = %s FOR KEY SHARE", (project_id,))
        row = self._connection.execute("SHOW session_replication_role").fetchone()
        self._skip_triggers = row[0] if row else "origin"

    def _may_set_replication_role(self) -> bool:
        row = self._connection.execute("SELECT current_setting('is_superuser') = 'on'").fetchone()
        if row and row[0]:
            return True
        if self._connection.info.server_version < 150000:  # GRANT SET ON PARAMETER came in 15
            return False
        row = self._connection.execute(
            "SELECT has_parameter_privilege('session_replication_role', 'SET')"
        ).fetchone()
        return bool(row and row[0])

    def _replication_role(self, cursor: Any, role: str) -> None:
        cursor.execute("SELECT set_config('session_replication_role', %s, true)", (role,))

    def write_tests(self, rows: Sequence[TestRow]) -> None:
        if not rows:
            return
        self._prepare(rows[0][1])
        with self._connection.cursor() as cursor:
            # No try/finally: after a failure the transaction rolls back, and SET LOCAL with it.
            if self._skip_triggers is not None:
                self._replication_role(cursor, "replica")
            with cursor.copy(self._COPY_TESTS) as copy:
                copy.set_types(self._TEST_TYPES)
                for row in rows:
                    copy.write_row(row)
            cursor.execute(self._MOVE_TESTS)
            cursor.execute("TRUNCATE ingest_tests_staging")
            if self._skip_triggers is not None:
                self._replication_role(cursor, self._skip_triggers)

    def write_results(self, rows: Sequence[ResultRow]) -> None:
        if not rows:
            return
        with self._connection.cursor() as cursor:
            if self._skip_triggers is not None:
                self._replication_role(cursor, "replica")
            # JSONB columns take the Python values: the binary dumper serialises them itself.
            with cursor.copy(self._COPY_RESULTS) as copy:
                copy.set_types(self._RESULT_TYPES)
                for row in rows:
                    copy.write_row(row)
            if self._skip_triggers is not None:
                self._replication_role(cursor, self._skip_triggers)
