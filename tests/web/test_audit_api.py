"""The audit routes: upload test-case files (or a zip) to audit, stored reports, one ticket in en/he."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi.testclient import TestClient

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.web import create_app
from tests.audit.support import TICKET
from tests.support.junit import junit_xml
from tests.support.web import MARKDOWN_TEST_CASE, World

PYTEST_CASE = '''\
import pytest


@pytest.mark.xray("PRISM-102")
def test_upload_is_stored():
    """Upload a result file and find its run.

    Steps:
        1. Upload TEST-a.xml.
        2. List the runs.
    """
    assert True
'''


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _project(client: TestClient, world: World) -> str:
    response = client.post(
        "/api/v1/runs",
        params={"project": "prism", "build": "1"},
        headers={**world.callers["tester"].headers, "Content-Type": "application/xml"},
        content=junit_xml([("a.A", "test_one", "passed")]).encode(),
    )
    assert response.status_code == 201, response.text
    return "prism"


def _get(client: TestClient, world: World, url: str, **params: Any) -> Any:
    response = client.get(url, headers=world.callers["viewer"].headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_upload_audit_store_and_read_back_in_both_languages(
    client: TestClient, world: World, settings: Settings
) -> None:
    project = _project(client, world)
    tester = world.callers["tester"].headers
    response = client.post(
        "/api/v1/audit",
        headers=tester,
        params={"project": project, "lang": "he", "template": True},
        files=[
            ("file", ("exports/PZ-13602.json", TICKET.read_bytes(), "application/json")),
            ("file", ("cases.md", MARKDOWN_TEST_CASE.encode(), "text/markdown")),
        ],
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["language"] == "he" and result["report_id"] is not None
    assert [ticket["key"] for ticket in result["tickets"]] == ["PZ-13602", "PRISM-101"]
    assert result["tickets"][0]["source"] == "exports/PZ-13602.json"
    assert result["tickets"][1]["source"].startswith("cases.md")
    assert result["tickets"][1]["template"]
    assert str(settings.data_dir) not in response.text  # spool paths never show

    listed = _get(client, world, "/api/v1/audit/reports", project=project)
    (report,) = listed["items"]
    assert report["id"] == result["report_id"] and report["created_by"] == "tester@acme.test"
    assert report["sources"] == ["exports/PZ-13602.json", "cases.md"]
    assert report["summary"]["most_often_missing"], "a partial test case misses fields"

    detail = _get(client, world, f"/api/v1/audit/reports/{report['id']}")
    scores = detail["ticket_scores"]
    assert [score["key"] for score in scores] == ["PZ-13602", "PRISM-101"]
    weak = scores[1]
    assert weak["missing"] > 0 and 0 <= weak["score"] < 100
    english = _get(client, world, f"/api/v1/audit/reports/{report['id']}/tickets/{weak['id']}")
    hebrew = _get(client, world, f"/api/v1/audit/reports/{report['id']}/tickets/{weak['id']}", lang="he")
    assert english["audit"]["fields"][0]["label"] == "Test ID"
    assert hebrew["audit"]["fields"][0]["label"] == "מזהה בדיקה"
    assert english["template"] and hebrew["template"] and english["template"] != hebrew["template"]
    assert english["score"] == weak["score"]
    other_report = client.get(
        f"/api/v1/audit/reports/{report['id'] + 1000}/tickets/{weak['id']}", headers=tester
    )
    assert other_report.status_code == 404


def test_a_zip_is_read_like_a_directory_and_unsafe_archives_are_refused(
    client: TestClient, world: World
) -> None:
    tester = world.callers["tester"].headers
    archive = _zip({"docs/cases.md": MARKDOWN_TEST_CASE, "tests/test_upload.py": PYTEST_CASE})
    response = client.post(
        "/api/v1/audit",
        headers={**tester, "Content-Type": "application/zip"},
        params={"filename": "suite.zip"},
        content=archive,
    )
    assert response.status_code == 200, response.text  # no project: audited, not stored
    tickets = {ticket["key"]: ticket for ticket in response.json()["tickets"]}
    assert set(tickets) == {"PRISM-101", "PRISM-102"}
    assert tickets["PRISM-101"]["source"].startswith("suite.zip!docs/cases.md")
    assert response.json()["report_id"] is None
    assert _get(client, world, "/api/v1/audit/reports")["items"] == []

    escaping = _zip({"../outside.md": MARKDOWN_TEST_CASE})
    refused = client.post(
        "/api/v1/audit",
        headers={**tester, "Content-Type": "application/zip"},
        params={"filename": "evil.zip"},
        content=escaping,
    )
    assert refused.status_code == 422 and "outside the archive" in refused.json()["error"]["message"]


def test_bad_uploads_are_clear_errors_naming_the_uploaded_file(
    client: TestClient, world: World, settings: Settings
) -> None:
    tester = world.callers["tester"].headers
    unknown = client.post(
        "/api/v1/audit",
        headers={**tester, "Content-Type": "application/octet-stream"},
        params={"filename": "notes.bin"},
        content=b"\x00\x01binary",
    )
    assert unknown.status_code == 422
    message = unknown.json()["error"]["message"]
    assert message.startswith("notes.bin: not a test-case source") and str(settings.data_dir) not in message
    empty = client.post("/api/v1/audit", headers={**tester, "Content-Type": "text/markdown"}, content=b"")
    assert empty.status_code == 422 and "no test-case file" in empty.json()["error"]["message"]
    missing_project = client.post(
        "/api/v1/audit",
        headers={**tester, "Content-Type": "text/markdown"},
        params={"project": "nowhere"},
        content=MARKDOWN_TEST_CASE.encode(),
    )
    assert missing_project.status_code == 404
    viewer = client.post(
        "/api/v1/audit",
        headers={**world.callers["viewer"].headers, "Content-Type": "text/markdown"},
        content=MARKDOWN_TEST_CASE.encode(),
    )
    assert viewer.status_code == 403


def test_audit_uploads_have_the_upload_size_limit(
    settings: Settings, database: Database, world: World
) -> None:
    small = settings.model_copy(
        update={"web": settings.web.model_copy(update={"max_upload_mb": 1, "max_body_kb": 4})}
    )
    headers = {**world.callers["tester"].headers, "Content-Type": "text/markdown"}
    with TestClient(create_app(small, database=database, run_consumer=False)) as client:
        # Over the JSON body limit but within the upload limit: uploads are allowed more.
        fits = client.post(
            "/api/v1/audit", headers=headers, content=(MARKDOWN_TEST_CASE + " " * 8000).encode()
        )
        assert fits.status_code == 200, fits.text
        big = client.post("/api/v1/audit", headers=headers, content=b" " * (1024 * 1024 + 10))
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"


def test_nul_characters_are_bad_input_or_dropped(client: TestClient, world: World) -> None:
    """PostgreSQL text cannot hold NUL: parameters with one are refused, test-case text loses it."""
    viewer = world.callers["viewer"].headers
    for url in ("/api/v1/audit/reports", "/api/v1/runs"):
        response = client.get(url, headers=viewer, params={"project": "a\x00b"})
        assert response.status_code == 422, url
        assert response.json()["error"]["details"] == {"parameter": "project"}
    project = _project(client, world)
    stored = client.post(
        "/api/v1/audit",
        headers={**world.callers["tester"].headers, "Content-Type": "text/markdown"},
        params={"project": project, "filename": "nul.md"},
        content=MARKDOWN_TEST_CASE.replace("broken", "bro\x00ken").encode(),
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["tickets"][0]["summary"] == "Upload refuses a broken result file"
