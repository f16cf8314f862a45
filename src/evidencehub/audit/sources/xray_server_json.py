"""Xray Server/Data Center's test export JSON (``GET /rest/raven/1.0/api/test?keys=…``).

An array of tests (or one test, or ``{"tests": [...]}``), each with ``key``,
``type`` (Manual, Generic, Cucumber), ``definition`` — the steps of a Manual
test (``{"steps": [{"index", "step", "data", "result"}]}``, each value raw or
``{"raw", "rendered"}``), or the text of a Generic definition or a Cucumber
scenario — and ``precondition`` (linked Pre-Condition issues). Jira fields
some exports add (``summary``, ``description``, ``labels``, ``components``,
``priority``, ``reporter``, ``assignee``, ``requirementKeys``) are read too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evidencehub.audit.schemas import FieldKind, TestCaseDocument, TestStep
from evidencehub.audit.sources.base import ReadOptions, SourceFormat, json_start, read_json
from evidencehub.audit.sources.jira_json import _xray_steps
from evidencehub.audit.text import wiki_to_markdown
from evidencehub.errors import InputError

_JIRA_TEXT = {
    "priority": "Priority",
    "reporter": "Reporter",
    "assignee": "Assignee",
    "status": "Test Status",
    "folder": "Test Repository Path",
}
_JIRA_LISTS = {"labels": "Labels", "components": "Components"}
_DEFINITION_LABELS = {"generic": "Generic Test Definition", "cucumber": "Cucumber Scenario"}


def _detect(path: Path, head: bytes) -> bool:
    start = json_start(path, head, 4000)
    if b'"fields"' in start or b'"getTest' in start:
        return False
    return b'"definition"' in start or b"/rest/raven/" in start


def _tests(data: Any, path: Path) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("tests"), list):
        return list(data["tests"])
    if isinstance(data, dict) and "key" in data:
        return [data]
    raise InputError(
        f"{path}: expected an Xray Server test export (a JSON array of tests with 'key' and 'definition')",
        details={"file": str(path)},
    )


def _read(path: Path, options: ReadOptions) -> list[TestCaseDocument]:
    data = read_json(path)
    documents = []
    for position, test in enumerate(_tests(data, path), start=1):
        if not isinstance(test, dict) or not str(test.get("key") or "").strip():
            raise InputError(
                f"{path}: test #{position} has no 'key' (expected an object like {{'key': 'PRJ-1', ...}})",
                details={"file": str(path), "test": position},
            )
        documents.append(test_document(test, f"{path}#{position}"))
    return documents


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("raw") or value.get("value") or value.get("name") or value.get("displayName")
    return str(value).strip() if value is not None else ""


def test_document(test: dict[str, Any], source: str) -> TestCaseDocument:
    key = str(test["key"]).strip()
    summary = _text(test.get("summary")) or None
    document = TestCaseDocument(key=key, summary=summary, source=source, source_format=SOURCE.name)
    document.add("Key", FieldKind.DERIVED, key, location="test key")
    if summary:
        document.add("Summary", FieldKind.JIRA_FIELD, summary, location="field 'summary'")
    kind = _text(test.get("type") or test.get("testType"))
    document.add("Test Type", FieldKind.JIRA_FIELD, kind, location="field 'type'")
    if test.get("description"):
        document.add(
            "Description",
            FieldKind.JIRA_FIELD,
            wiki_to_markdown(_text(test["description"])),
            location="field 'description'",
        )
    for name, label in _JIRA_TEXT.items():
        document.add(label, FieldKind.JIRA_FIELD, _text(test.get(name)), location=f"field '{name}'")
    for name, label in _JIRA_LISTS.items():
        values = test.get(name) or []
        items = [_text(item) for item in values if _text(item)] if isinstance(values, list) else []
        document.add(label, FieldKind.JIRA_FIELD, items=items, location=f"field '{name}'")
    requirements = test.get("requirementKeys") or test.get("requirements") or []
    if isinstance(requirements, list):
        document.add(
            "Requirements",
            FieldKind.DERIVED,
            items=[_text(item) for item in requirements],
            location="requirementKeys",
        )
    _add_definition(document, kind, test.get("definition", test.get("steps")))
    _add_preconditions(document, test.get("precondition") or test.get("preconditions") or [])
    return document


def _add_definition(document: TestCaseDocument, kind: str, definition: Any) -> None:
    if isinstance(definition, dict | list):
        steps: list[TestStep] | None = _xray_steps(definition)
        if steps:
            document.add("Test Steps", FieldKind.JIRA_FIELD, steps=steps, location="definition.steps")
        return
    text = _text(definition)
    label = _DEFINITION_LABELS.get(kind.casefold(), "Test Definition")
    document.add(label, FieldKind.JIRA_FIELD, text, location="field 'definition'")


def _add_preconditions(document: TestCaseDocument, preconditions: Any) -> None:
    items = []
    for item in preconditions if isinstance(preconditions, list) else []:
        if isinstance(item, dict):
            condition = _text(item.get("condition") or item.get("definition"))
            key = _text(item.get("key"))
            items.append(f"{key}: {condition}" if key and condition else key or condition)
        elif _text(item):
            items.append(_text(item))
    document.add(
        "Pre-Conditions",
        FieldKind.JIRA_FIELD,
        items=[item for item in items if item],
        location="precondition",
    )


SOURCE = SourceFormat(
    name="xray_server_json",
    description="Xray Server/DC test export JSON (/rest/raven/1.0/api/test)",
    detect=_detect,
    read=_read,
    suffixes=(".json",),
)
