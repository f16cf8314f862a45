from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import ConflictError, InputError
from evidencehub.results.ingest import IngestRequest, ingest
from evidencehub.results.model import Result, RunSource, Test, TestRun
from evidencehub.results.parsers.base import ResultFileError
from tests.support.junit import junit_xml


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _request(*paths: Path, build: str = "100", **extra: str) -> IngestRequest:
    return IngestRequest(paths=[str(path) for path in paths], project="prism", build=build, **extra)


def test_ingest_stores_run_totals_and_results(database: Database, settings: Settings, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.xml",
        junit_xml(
            [
                ("tests.api.TestJobs", "test_create", "passed"),
                ("tests.api.TestJobs", "test_cancel", "failed"),
                ("tests.api.TestJobs", "test_list", "error"),
                ("tests.api.TestJobs", "test_slow", "skipped"),
            ]
        ),
    )
    outcome = ingest(database, settings, _request(path, release="2026.11", environment="staging"))

    assert outcome.created is True
    assert outcome.run is not None
    totals = outcome.run.totals
    assert (totals.tests, totals.passed, totals.failures, totals.errors, totals.skipped) == (4, 1, 1, 1, 1)
    assert totals.duration_ms == pytest.approx(1000.0)
    assert outcome.run.release == "2026.11"
    assert outcome.run.environment == "staging"
    assert outcome.run.started_at is not None and outcome.run.started_at.year == 2026
    with database.session() as session:
        statuses = dict(
            session.execute(
                select(Test.name, Result.status)
                .join(Test, Test.id == Result.test_id)
                .where(Result.run_id == outcome.run.id)
            ).all()
        )
        failed = session.scalar(select(Result).where(Result.status == "failed"))
    assert statuses == {
        "test_create": "passed",
        "test_cancel": "failed",
        "test_list": "error",
        "test_slow": "skipped",
    }
    assert failed is not None
    assert failed.message == "expected 1 got 2"
    assert failed.failure_type == "AssertionError"
    assert failed.trace == "trace line 1\ntrace line 2"


def test_same_test_gets_same_identity_across_runs(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    first = _write(tmp_path / "1.xml", junit_xml([("c", "t1", "passed"), ("c", "t2", "failed")]))
    second = _write(
        tmp_path / "2.xml", junit_xml([("c", "t1", "failed"), ("c", "t2", "failed")], suite="again")
    )
    ingest(database, settings, _request(first, build="1"))
    ingest(database, settings, _request(second, build="2"))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Test)) == 2
        history = (
            session.execute(
                select(Result.status)
                .join(Test, Test.id == Result.test_id)
                .where(Test.name == "t1")
                .order_by(Result.run_id)
            )
            .scalars()
            .all()
        )
    assert history == ["passed", "failed"]


def test_reingesting_the_same_file_is_a_no_op_that_says_so(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "a.xml", junit_xml([("c", "t", "passed")]))
    first = ingest(database, settings, _request(path))
    again = ingest(database, settings, _request(path))
    assert again.created is False
    assert first.run is not None and again.run is not None
    assert again.run.id == first.run.id
    assert "already ingested" in again.message
    assert [source.run_id for source in again.skipped_sources] == [first.run.id]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(TestRun)) == 1


def test_same_file_for_another_build_is_a_new_run(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "a.xml", junit_xml([("c", "t", "passed")]))
    ingest(database, settings, _request(path, build="1"))
    outcome = ingest(database, settings, _request(path, build="2"))
    assert outcome.created is True


def test_new_and_old_files_together_ingest_only_the_new(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    old = _write(tmp_path / "old.xml", junit_xml([("c", "old", "passed")]))
    new = _write(tmp_path / "new.xml", junit_xml([("c", "new", "failed")]))
    ingest(database, settings, _request(old))
    outcome = ingest(database, settings, _request(old, new))
    assert outcome.created is True
    assert outcome.run is not None
    assert outcome.run.totals.tests == 1
    assert [source.path for source in outcome.skipped_sources] == [str(old)]


def test_a_bad_file_stores_nothing_and_names_file_and_line(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    good = _write(tmp_path / "good.xml", junit_xml([("c", f"t{number}", "passed") for number in range(50)]))
    bad = _write(
        tmp_path / "bad.xml", '<?xml version="1.0"?>\n<testsuite>\n<testcase name="x">\n</testsuite>\n'
    )
    with pytest.raises(ResultFileError) as raised:
        ingest(database, settings, _request(good, bad))
    assert str(bad) in raised.value.message
    assert raised.value.line is not None
    assert isinstance(raised.value, InputError)
    with database.session() as session:
        for table in (TestRun, Result, Test, RunSource):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_repeated_testcases_across_files_and_batches_merge_into_one_result(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    # batch_size 3 forces the repeats to land in earlier, already-written batches.
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"batch_size": 3})})
    first = _write(tmp_path / "first.xml", junit_xml([("c", f"t{number}", "failed") for number in range(10)]))
    rerun = _write(
        tmp_path / "rerun.xml",
        junit_xml([("c", "t1", "passed"), ("c", "t2", "error"), ("c", "t1", "failed")], suite="rerun"),
    )
    outcome = ingest(database, settings, _request(first, rerun))
    assert outcome.run is not None
    totals = outcome.run.totals
    # t1 failed, passed, failed: still failed (a pass never hides a failure), and flaky.
    assert (totals.tests, totals.passed, totals.failures, totals.errors, totals.flaky) == (10, 0, 9, 1, 1)
    with database.session() as session:
        t1 = session.execute(
            select(Result).join(Test, Test.id == Result.test_id).where(Test.name == "t1")
        ).scalar_one()
    assert t1.status == "failed"
    assert t1.flaky is True
    assert sorted(attempt["status"] for attempt in t1.attempts or []) == ["failed", "passed"]


def test_repeats_within_one_batch_keep_every_field_of_the_result_that_counts(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    # Both reports of t1 sit in the same pending batch: the merge works on the rows built for the first.
    path = _write(
        tmp_path / "repeat.xml",
        """<testsuite name="s">
  <testcase classname="c" name="t1" time="0.5" file="tests/test_c.py">
    <properties><property name="owner" value="api"/></properties>
    <system-out>first run</system-out>
  </testcase>
  <testcase classname="c" name="t2" time="1"/>
  <testcase classname="c" name="t1" time="0.75" file="tests/test_c.py">
    <error message="boom" type="RuntimeError">Traceback: boom</error>
    <system-err>second run</system-err>
  </testcase>
  <testcase classname="c" name="t1" time="0.25"><skipped message="later"/></testcase>
</testsuite>""",
    )
    outcome = ingest(database, settings, _request(path))
    assert outcome.run is not None
    totals = outcome.run.totals
    assert (totals.tests, totals.passed, totals.errors, totals.skipped, totals.flaky) == (2, 1, 1, 0, 1)
    with database.session() as session:
        t1 = session.execute(
            select(Result).join(Test, Test.id == Result.test_id).where(Test.name == "t1")
        ).scalar_one()
        test = session.get(Test, t1.test_id)
        assert test is not None
        assert (test.classname, test.file) == ("c", "tests/test_c.py")
    assert (t1.status, t1.failure_type, t1.message, t1.trace) == (
        "error",
        "RuntimeError",
        "boom",
        "Traceback: boom",
    )
    assert (t1.duration_ms, t1.stdout, t1.stderr, t1.properties) == (750.0, None, "second run", None)
    assert t1.flaky is True
    assert sorted((attempt["status"], attempt.get("duration_ms")) for attempt in t1.attempts or []) == [
        ("passed", 500.0),
        ("skipped", 250.0),
    ]


def test_build_in_another_release_is_a_conflict(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "a.xml", junit_xml([("c", "t", "passed")]))
    ingest(database, settings, _request(path, release="1.0"))
    other = _write(tmp_path / "b.xml", junit_xml([("c", "u", "passed")]))
    with pytest.raises(ConflictError, match=r"belongs to release '1\.0'"):
        ingest(database, settings, _request(other, release="2.0"))


def test_compressed_and_archived_inputs(database: Database, settings: Settings, tmp_path: Path) -> None:
    gz = tmp_path / "a.xml.gz"
    gz.write_bytes(gzip.compress(junit_xml([("c", "from_gz", "passed")]).encode()))
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("reports/TEST-one.xml", junit_xml([("c", "from_zip_1", "failed")]))
        bundle.writestr("reports/TEST-two.xml", junit_xml([("c", "from_zip_2", "passed")], suite="two"))
        bundle.writestr("reports/readme.txt", "not a result")
    outcome = ingest(database, settings, _request(gz, archive))
    assert outcome.run is not None
    assert outcome.run.totals.tests == 3
    assert sorted(source.path.rsplit("!", 1)[-1].rsplit("/", 1)[-1] for source in outcome.run.sources) == [
        "TEST-one.xml",
        "TEST-two.xml",
        "a.xml.gz",
    ]


def test_size_limit_is_enforced_after_decompression(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"max_file_mb": 1})})
    big = junit_xml([("c", f"t{number}", "passed") for number in range(20_000)])
    gz = tmp_path / "bomb.xml.gz"
    gz.write_bytes(gzip.compress(big.encode()))
    assert gz.stat().st_size < 1024 * 1024 < len(big)
    with pytest.raises(InputError, match=r"larger than the limit of 1 MB"):
        ingest(database, settings, _request(gz))


def test_missing_path_is_a_clear_input_error(database: Database, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        ingest(database, settings, _request(tmp_path / "nope.xml"))


def test_directory_and_glob_inputs(database: Database, settings: Settings, tmp_path: Path) -> None:
    _write(tmp_path / "reports" / "a" / "TEST-a.xml", junit_xml([("c", "a", "passed")]))
    _write(tmp_path / "reports" / "b" / "TEST-b.xml", junit_xml([("c", "b", "passed")], suite="b"))
    _write(tmp_path / "reports" / "notes.txt", "ignored")
    by_dir = ingest(database, settings, _request(tmp_path / "reports", build="dir"))
    by_glob = ingest(
        database,
        settings,
        IngestRequest(paths=[f"{tmp_path}/reports/**/TEST-*.xml"], project="prism", build="glob"),
    )
    assert by_dir.run is not None and by_glob.run is not None
    assert by_dir.run.totals.tests == by_glob.run.totals.tests == 2
