"""The end of ``evidencehub demo``: a demo admin and report, then the dashboard served (or not)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evidencehub.audit.model import AuditReport
from evidencehub.auth.model import User
from evidencehub.auth.service import Authenticator
from evidencehub.auth.tokens import ensure_jwt_secret
from evidencehub.cli import demo_cmd
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.reports.model import ReportDefinition, ReportExecution
from tests.support.cli import CliRunner
from tests.support.junit import junit_xml
from tests.support.shared import REPO_ROOT
from tests.support.web import set_fast_web_env


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    set_fast_web_env(monkeypatch)


TEST_CASES = str(REPO_ROOT / demo_cmd.DEMO_TEST_CASES)


def _samples(tmp_path: Path) -> Path:
    folder = tmp_path / "samples" / "build-1"
    folder.mkdir(parents=True)
    (folder / "results.xml").write_text(
        junit_xml([("a.B", "test_ok", "passed"), ("a.B", "test_bad", "failed")]), encoding="utf-8"
    )
    return folder.parent


def test_demo_no_serve_stops_after_the_summary(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: Database
) -> None:
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: served.append(args))
    result = cli("demo", "--samples", str(_samples(tmp_path)), "--no-serve")
    assert result.exit_code == 0, result.stdout
    assert served == [] and "dashboard" not in result.stdout
    with database.session() as session:
        assert session.scalars(select(User)).all() == []  # no admin unless the dashboard is served


def test_demo_ends_serving_the_dashboard_with_a_generated_admin(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings, database: Database
) -> None:
    served: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: served.append({"app": app, **kwargs}))
    first = cli("demo", "--samples", str(_samples(tmp_path)), "--test-cases", TEST_CASES)
    assert first.exit_code == 0, first.stdout
    assert len(served) == 1 and served[0]["host"] == settings.web.host
    found = re.search(r"with password (\S+) \(shown this once", first.stdout)
    assert found, first.stdout
    password = found.group(1)
    with database.session() as session:
        stored = session.scalars(select(User).where(User.email == demo_cmd.DEMO_ADMIN_EMAIL)).one()
        assert stored.password_hash and password not in stored.password_hash
        assert session.scalars(select(ReportDefinition)).one().name == "prism evidence"
        assert session.scalars(select(ReportExecution)).one().status == "queued"
    authenticator = Authenticator(database, settings, ensure_jwt_secret(settings))
    assert authenticator.login(demo_cmd.DEMO_ADMIN_EMAIL, password, None, ip=None).organization

    again = cli("demo", "--samples", str(_samples(tmp_path / "again")), "--test-cases", TEST_CASES)
    assert again.exit_code == 0
    assert password not in again.stdout and "printed when the demo first ran" in again.stdout
    with database.session() as session:
        assert len(session.scalars(select(ReportDefinition)).all()) == 1
        assert len(session.scalars(select(AuditReport)).all()) == 1  # the test cases are audited once
