"""The template draft shows each field once, even when the description holds other fields under headings."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from tests.audit.support import TICKET, audit_files

HEBREW_DESCRIPTION = """\
h2. תיאור
בודק איך Live configure מתנהג כאשר RabbitMQ אינו זמין.

h2. נתוני בדיקה
מטען תקין של live

h2. קריטריוני קבלה
* POST /live/configure מחזיר 503 כל עוד RabbitMQ למטה
* בתשובה אין job_id

h2. תוצאות צפויות
# ה-API מחזיר שגיאה ללקוח
# לא נוצר job

h2. הערות לבודק
להריץ רק בסביבת staging
"""


def _headings(draft: str) -> Counter[str]:
    """Every level-2 heading of the draft by field name (the [NEW] / [IMPROVED] tag left off)."""
    return Counter(line[3:].split(" [")[0] for line in draft.splitlines() if line.startswith("## "))


def _section(draft: str, heading: str) -> str:
    """The body of the draft's section headed ``heading`` (with or without a tag)."""
    for part in draft.split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        if title.split(" [")[0] == heading:
            return body
    raise AssertionError(f"no section {heading!r} in the draft")


def _times_written(draft: str, text: str) -> int:
    """How many lines of the draft are ``text`` (as a list item or not)."""
    return len(re.findall(rf"^(?:[-*]|\d+\.)?\s*{re.escape(text)}$", draft, flags=re.MULTILINE))


def _draft(path: Path, language: str = "en") -> str:
    draft = audit_files(path, language=language, template=True).tickets[0].template  # type: ignore[arg-type]
    assert draft is not None
    return draft


def test_description_sections_of_other_fields_appear_once_in_their_own_sections() -> None:
    draft = _draft(TICKET)
    assert all(count == 1 for count in _headings(draft).values()), _headings(draft)
    description = _section(draft, "Description")
    assert description.strip() == (
        "Checks how the Live configure API behaves when the message broker (RabbitMQ) is not reachable."
    )
    # what the description held under the other headings is kept, once, in its own section
    found = {
        "Acceptance Criteria": [
            "POST /live/configure answers 503 Service Unavailable while RabbitMQ is down",
            "The response holds no job_id",
            "No jobs or services are created",
        ],
        "Expected Outcomes": [
            "The API returns an error to the client",
            "No job is created",
            "The failure is logged",
        ],
        "Test Data": ["_Was: Valid live payload_"],
    }
    for heading, lines in found.items():
        for line in lines:
            assert line in _section(draft, heading)
            assert _times_written(draft, line) == 1, line


def test_hebrew_headings_in_the_description_are_split_the_same_way(tmp_path: Path) -> None:
    ticket = json.loads(TICKET.read_text(encoding="utf-8"))
    ticket["fields"]["description"] = HEBREW_DESCRIPTION
    path = tmp_path / "pz-13602-he.json"
    path.write_text(json.dumps(ticket, ensure_ascii=False), encoding="utf-8")
    draft = _draft(path, language="he")
    assert all(count == 1 for count in _headings(draft).values()), _headings(draft)
    for hebrew_heading in ("תיאור", "נתוני בדיקה", "קריטריוני קבלה", "תוצאות צפויות"):
        assert f"## {hebrew_heading}" not in draft
    description = draft.split("\n## Description\n")[1].split("\n## Requirements\n")[0]
    assert "בודק איך Live configure מתנהג כאשר RabbitMQ אינו זמין." in description
    # a section no rubric field claims stays in the description, heading and all
    assert "## הערות לבודק\nלהריץ רק בסביבת staging" in description
    assert _times_written(draft, "להריץ רק בסביבת staging") == 1
    for heading, line in (
        ("Test Data", "_היה: מטען תקין של live_"),
        ("Acceptance Criteria", "POST /live/configure מחזיר 503 כל עוד RabbitMQ למטה"),
        ("Acceptance Criteria", "בתשובה אין job_id"),
        ("Expected Outcomes", "ה-API מחזיר שגיאה ללקוח"),
        ("Expected Outcomes", "לא נוצר job"),
    ):
        assert line in _section(draft, heading)
        assert _times_written(draft, line) == 1, line
