"""The bulk writers store rows exactly as the ORM reads them, and leave the connection as they found it."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.orgs.service import ensure_organization
from evidencehub.results.bulk import PostgresBulkWriter, ResultRow, TestRow, bulk_writer
from evidencehub.results.identity import test_id
from evidencehub.results.model import Build, Project, Result, Test, TestRun

STARTED = dt.datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)


def _run(session: Session) -> tuple[int, int]:
    organization = ensure_organization(session, "default")
    project = Project(organization_id=organization.id, key="prism", name="prism")
    session.add(project)
    session.flush()
    build = Build(project_id=project.id, name="1")
    session.add(build)
    session.flush()
    run = TestRun(build_id=build.id, name="run")
    session.add(run)
    session.flush()
    return project.id, run.id


def _rows(project_id: int, run_id: int, count: int) -> tuple[list[TestRow], list[ResultRow]]:
    now = utcnow()
    tests: list[TestRow] = []
    results: list[ResultRow] = []
    for number in range(count):
        key = f"c::t{number}"
        identity = test_id(project_id, key)
        tests.append((identity, project_id, key, None, "c", f"t{number}", "tests/c.py", now))
        results.append(
            (
                run_id,
                identity,
                "failed" if number % 2 else "passed",
                12.5,
                STARTED if number % 2 else None,
                "AssertionError" if number % 2 else None,
                "ünïcode message" if number % 2 else None,
                "trace\nline 2" if number % 2 else None,
                "out",
                None,
                {"owner": "api"} if number % 2 else None,
                [{"status": "passed", "kind": "flaky"}] if number % 2 else None,
                bool(number % 2),
            )
        )
    return tests, results


def test_rows_read_back_through_the_orm_as_written(database: Database) -> None:
    with database.session() as session:
        project_id, run_id = _run(session)
        tests, results = _rows(project_id, run_id, 4)
        writer = bulk_writer(session)
        writer.write_tests(tests)
        writer.write_tests(tests[:2])  # existing tests are left as they are
        writer.write_results(results)
    with database.session() as session:
        stored = session.scalars(select(Result).where(Result.run_id == run_id)).all()
        assert len(stored) == 4
        failed = next(result for result in stored if result.status == "failed")
        passed = next(result for result in stored if result.status == "passed")
        test = session.get(Test, failed.test_id)
        assert test is not None
        assert (test.project_id, test.classname, test.file) == (project_id, "c", "tests/c.py")
    assert failed.started_at == STARTED
    assert (failed.failure_type, failed.message, failed.trace) == (
        "AssertionError",
        "ünïcode message",
        "trace\nline 2",
    )
    assert (failed.duration_ms, failed.stdout, failed.stderr) == (12.5, "out", None)
    assert failed.properties == {"owner": "api"}
    assert failed.attempts == [{"status": "passed", "kind": "flaky"}]
    assert failed.flaky is True
    assert (passed.started_at, passed.properties, passed.attempts, passed.flaky) == (None, None, None, False)


def _dangling_result(session: Session, run_id: int) -> None:
    session.execute(
        text("INSERT INTO results (run_id, test_id, status, flaky) VALUES (:run, 12345, 'passed', false)"),
        {"run": run_id},
    )


def test_postgres_writes_give_foreign_keys_back_after_each_batch(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("session_replication_role is PostgreSQL's")
    with database.session() as session:
        role_before = session.execute(text("SHOW session_replication_role")).scalar_one()
        project_id, run_id = _run(session)
        tests, results = _rows(project_id, run_id, 3)
        writer = bulk_writer(session)
        writer.write_tests(tests)
        writer.write_results(results)
        assert session.execute(text("SHOW session_replication_role")).scalar_one() == role_before
        with pytest.raises(IntegrityError):
            _dangling_result(session, run_id)  # checked again: refused
        session.rollback()


def test_postgres_without_the_privilege_keeps_the_per_row_checks(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("session_replication_role is PostgreSQL's")
    monkeypatch.setattr(PostgresBulkWriter, "_may_set_replication_role", lambda self: False)
    with database.session() as session:
        project_id, run_id = _run(session)
        tests, results = _rows(project_id, run_id, 3)
        writer = bulk_writer(session)
        writer.write_tests(tests)
        writer.write_results(results)
    with database.session() as session:
        assert len(session.scalars(select(Result).where(Result.run_id == run_id)).all()) == 3
    dangling: ResultRow = (run_id, 777, "passed", None, None, None, None, None, None, None, None, None, False)
    with database.session() as session:
        writer = bulk_writer(session)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            writer.write_results([dangling])
        session.rollback()
