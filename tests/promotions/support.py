"""Builds with real result files ingested (and triaged), for the evidence bundle tests."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.pipeline import ingest_and_triage
from evidencehub.results.ingest import IngestRequest
from evidencehub.results.model import Build, Project
from tests.support.junit import junit_xml

# A failure message that tries to inject markup and to load something from outside.
HOSTILE_MESSAGE = '<img src="https://evil.example/x.png"> & <script>alert(1)</script>'


def _hostile_junit() -> str:
    message = HOSTILE_MESSAGE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    message = message.replace('"', "&quot;")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<testsuites><testsuite name="ui" timestamp="2026-11-01T11:00:00">'
        f'<testcase classname="ui.Page" name="test_render" time="1.5"><failure message="{message}" '
        'type="AssertionError">AssertionError: markup</failure></testcase>'
        '<testcase classname="ui.Page" name="test_db" time="0.5"><error message="connection refused: '
        'db.internal:5432" type="psycopg.OperationalError">psycopg.OperationalError: connection refused'
        "</error></testcase>"
        '<testcase classname="ui.Page" name="test_ok" time="0.1"/>'
        "</testsuite></testsuites>\n"
    )


@dataclass(frozen=True)
class SampleBuild:
    build_id: int
    files: dict[str, bytes]  # name of every ingested file → its exact bytes
    results: int
    failures: int  # failed + error


def ingest_sample_build(
    database: Database, settings: Settings, folder: Path, *, project: str = "prism", build: str = "1042"
) -> SampleBuild:
    """Two runs of one build: a plain and a gzip-compressed JUnit file, then a second run's file."""
    folder.mkdir(parents=True, exist_ok=True)
    api = folder / "api" / "TEST-api.xml"
    api.parent.mkdir(parents=True, exist_ok=True)
    api.write_text(
        junit_xml(
            [
                ("tests.api.TestJobs", "test_create", "passed"),
                ("tests.api.TestJobs", "test_cancel", "failed"),
                ("tests.api.TestJobs", "test_list", "error"),
                ("tests.api.TestJobs", "test_slow", "skipped"),
                ("tests.api.TestJobs", "test_update", "passed"),
            ]
        ),
        encoding="utf-8",
    )
    cli = folder / "cli" / "TEST-cli.xml.gz"
    cli.parent.mkdir(parents=True, exist_ok=True)
    cli.write_bytes(
        gzip.compress(
            junit_xml(
                [("tests.cli.TestMain", "test_help", "passed"), ("tests.cli.TestMain", "test_bad", "failed")],
                suite="cli",
            ).encode()
        )
    )
    ui = folder / "ui results.xml"
    ui.write_text(_hostile_junit(), encoding="utf-8")
    for paths, environment in (([api, cli], "staging"), ([ui], "qa")):
        ingest_and_triage(
            database,
            settings,
            IngestRequest(
                paths=[str(path) for path in paths],
                project=project,
                build=build,
                release="2026.11",
                environment=environment,
                commit="4f2a9c1",
                ci_url="https://ci.example/job/prism/1042",
            ),
        )
    with database.session() as session:
        build_id = session.scalar(
            select(Build.id)
            .join(Project, Project.id == Build.project_id)
            .where(Project.key == project, Build.name == build)
        )
    assert build_id is not None
    files = {path.name: path.read_bytes() for path in (api, cli, ui)}
    return SampleBuild(build_id=build_id, files=files, results=10, failures=5)
