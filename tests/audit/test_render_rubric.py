"""Reports in four formats and two languages; rubric validation; message catalogs."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from evidencehub.audit.i18n import catalog
from evidencehub.audit.report import render
from evidencehub.audit.rubric import default_rubric_text, load_rubric
from evidencehub.errors import ConfigError
from tests.audit.support import REPO, TICKET, audit_files


def test_hebrew_html_is_right_to_left_and_keeps_jira_field_names() -> None:
    html = render(audit_files(TICKET, repo=REPO, language="he", template=True), "html")
    assert '<html lang="he" dir="rtl">' in html
    assert "טבלת סיכום" in html and "סדר עדיפויות לתיקון" in html and "רשימת תיוג מהירה" in html
    assert "❌ חסר" in html and "קריטי" in html and "⚠️ לא מספק" in html
    assert "<bdi>Test Steps</bdi> (צעדי בדיקה)" in html  # Jira's name stays, the Hebrew one beside it
    assert "עצרו את RabbitMQ" in html  # the drafted steps are in Hebrew too
    assert "בשדה Test Type בחלונית Test Details" in html


def test_english_html_escapes_ticket_text(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text("# PZ-1: <script>alert(1)</script>\n## Objective\nx\n")
    html = render(audit_files(path), "html")
    assert '<html lang="en" dir="ltr">' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_markdown_has_summary_table_fix_list_checklist_and_template() -> None:
    text = render(audit_files(TICKET, repo=REPO, template=True), "markdown")
    assert "| Test Steps | critical | ❌ missing |" in text
    assert "**critical (4)**" in text and "**important (7)**" in text and "**nice to have (4)**" in text
    assert "- [ ] Assertions – critical" in text and "- [x] Summary – critical" in text
    assert "### Ticket draft (ready to paste)" in text


def test_json_shape_for_tools() -> None:
    data = json.loads(render(audit_files(TICKET), "json"))
    ticket = data["tickets"][0]
    assert set(ticket) >= {"key", "score", "fields", "template"}
    assert ticket["template"] is None
    field = next(item for item in ticket["fields"] if item["field"] == "Test Data")
    assert field["severity"] == "important" and field["status"] == "insufficient" and field["reason"]
    assert {item["status"] for item in ticket["fields"]} == {"present", "missing", "insufficient"}
    assert data["summary"]["tickets"] == 1


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    english, hebrew = catalog("en"), catalog("he")
    assert set(english) == set(hebrew)
    formatter = string.Formatter()
    for key, text in english.items():
        names = {name for _, name, _, _ in formatter.parse(text) if name}
        assert names == {name for _, name, _, _ in formatter.parse(hebrew[key]) if name}, key
        assert key.startswith(("tpl.", "report.")) or re.search("[\u0590-\u05ff]", hebrew[key]), key


def test_default_rubric_has_the_15_fields_in_three_priorities() -> None:
    rubric = load_rubric()
    audited = [field for field in rubric.fields if not field.basic]
    assert len(audited) == 15
    counts = {
        severity: sum(1 for field in audited if field.severity == severity)
        for severity in ("critical", "important", "nice_to_have")
    }
    assert counts == {"critical": 4, "important": 7, "nice_to_have": 4}
    assert all(field.name.he and field.explain.where.he for field in rubric.fields)


def _rubric(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("severity: critical\n    explain", "severity: urgent\n    explain"),
            r"field 'summary' \(fields\[1\]\)\.severity: Input should be",
        ),
        (
            ("- {check: steps, min: 5", "- {check: stepz, min: 5"),
            r"field 'test_steps', checks\[0\] \(stepz\): unknown check",
        ),
        (
            ("- {check: steps, min: 5", "- {check: steps, min: 0"),
            r"field 'test_steps', checks\[0\] \(steps\): min",
        ),
        (("id: summary", "id: test_id"), "field id 'test_id' is used twice"),
        (("name: xray-completeness", "name: [unclosed"), r"line \d+: not valid YAML"),
    ],
)
def test_broken_rubric_names_file_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    text = default_rubric_text()
    assert change[0] in text
    path = _rubric(tmp_path, text.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError, match=expected) as error:
        load_rubric(path)
    assert str(path) in error.value.message


def test_organisations_change_the_rubric_without_code(tmp_path: Path) -> None:
    text = default_rubric_text().replace("- {check: steps, min: 5,", "- {check: steps, min: 20,")
    ticket = audit_files(
        TICKET.with_name("pz-13602-complete.json"), repo=REPO, rubric=_rubric(tmp_path, text)
    ).tickets[0]
    steps = next(finding for finding in ticket.fields if finding.field == "Test Steps")
    assert steps.status == "insufficient" and "at least 20" in (steps.reason or "")
    assert ticket.score < 100
