"""Xray Cloud GraphQL test export: the answer to ``getTests`` (or ``getTest``), as saved from the API.

Accepted shapes: ``{"data": {"getTests": {"results": [...]}}}``, the same with
``getTest`` (one test), several pages saved as a JSON array of such answers,
or the bare ``results`` array. Each test has ``testType {name, kind}``,
``steps [{action, data, result}]`` (Manual), ``unstructured`` (Generic),
``gherkin`` (Cucumber), ``folder {path}``, ``preconditions {results}`` and
``jira`` — the Jira fields asked for (``key``, ``summary``, ``description``,
``labels``, ``issuelinks``…), read exactly as the Jira issue JSON source reads
them. A GraphQL ``errors`` answer is refused with its message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evidencehub.audit.schemas import FieldKind, TestCaseDocument, TestStep
from evidencehub.audit.sources.base import ReadOptions, SourceFormat, json_start, read_json
from evidencehub.audit.sources.jira_json import issue_document
from evidencehub.audit.text import wiki_to_markdown
from evidencehub.errors import InputError


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _detect(path: Path, head: bytes) -> bool:
    start = json_start(path, head, 4000)
    return b'"getTests"' in start or b'"getTest"' in start or (b'"testType"' in start and b'"jira"' in start)


def _results(data: Any, path: Path) -> list[Any]:
    if isinstance(data, list):
        if all(isinstance(item, dict) and ("data" in item or "errors" in item) for item in data):
            return [test for page in data for test in _results(page, path)]
        return data
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a GraphQL answer (an object)", details={"file": str(path)})
    errors = data.get("errors")
    if errors:
        first = (
            errors[0].get("message") if isinstance(errors, list) and isinstance(errors[0], dict) else errors
        )
        raise InputError(
            f"{path}: the saved GraphQL answer is an error, not tests: {str(first)[:300]}",
            details={"file": str(path)},
        )
    payload = data.get("data", data)
    if isinstance(payload, dict):
        if isinstance(payload.get("getTests"), dict):
            return _list(payload["getTests"].get("results"))
        if isinstance(payload.get("getTest"), dict):
            return [payload["getTest"]]
        if isinstance(payload.get("results"), list):
            return _list(payload["results"])
    raise InputError(
        f"{path}: expected data.getTests.results or data.getTest from Xray Cloud's GraphQL API",
        details={"file": str(path)},
    )


def _read(path: Path, options: ReadOptions) -> list[TestCaseDocument]:
    data = read_json(path)
    documents = []
    for position, test in enumerate(_results(data, path), start=1):
        if not isinstance(test, dict):
            raise InputError(f"{path}: test #{position} is not an object", details={"file": str(path)})
        documents.append(test_document(test, f"{path}#{position}", options))
    return documents


def test_document(test: dict[str, Any], source: str, options: ReadOptions) -> TestCaseDocument:
    jira = test.get("jira") if isinstance(test.get("jira"), dict) else {}
    assert isinstance(jira, dict)
    key = jira.get("key") or test.get("key")
    fields = {name: value for name, value in jira.items() if name not in ("key", "id", "self")}
    document = issue_document({"key": key, "fields": fields}, dict(options.jira_field_names), source)
    document.source_format = SOURCE.name
    if key is None and test.get("issueId"):
        document.add("Issue id", FieldKind.JIRA_FIELD, str(test["issueId"]), location="issueId")
    test_type = test.get("testType") if isinstance(test.get("testType"), dict) else {}
    assert isinstance(test_type, dict)
    kind = str(test_type.get("name") or "")
    document.add("Test Type", FieldKind.JIRA_FIELD, kind, location="testType.name")
    steps = [
        TestStep(
            index=position,
            action=wiki_to_markdown(str(step.get("action") or "")).strip(),
            data=wiki_to_markdown(str(step.get("data") or "")).strip(),
            expected=wiki_to_markdown(str(step.get("result") or "")).strip(),
        )
        for position, step in enumerate(_list(test.get("steps")), start=1)
        if isinstance(step, dict)
    ]
    document.add("Test Steps", FieldKind.JIRA_FIELD, steps=steps, location="steps")
    document.add(
        "Generic Test Definition",
        FieldKind.JIRA_FIELD,
        str(test.get("unstructured") or ""),
        location="unstructured",
    )
    document.add(
        "Cucumber Scenario", FieldKind.JIRA_FIELD, str(test.get("gherkin") or ""), location="gherkin"
    )
    folder = test.get("folder")
    if isinstance(folder, dict):
        document.add(
            "Test Repository Path",
            FieldKind.JIRA_FIELD,
            str(folder.get("path") or ""),
            location="folder.path",
        )
    preconditions = test.get("preconditions")
    results = preconditions.get("results") if isinstance(preconditions, dict) else preconditions
    items = []
    for item in _list(results):
        if not isinstance(item, dict):
            continue
        inner = item.get("jira") if isinstance(item.get("jira"), dict) else {}
        assert isinstance(inner, dict)
        label = inner.get("key") or item.get("issueId")
        condition = str(item.get("definition") or inner.get("summary") or "").strip()
        items.append(f"{label}: {condition}" if label and condition else str(label or condition))
    document.add(
        "Pre-Conditions",
        FieldKind.JIRA_FIELD,
        items=[item for item in items if item],
        location="preconditions",
    )
    return document


SOURCE = SourceFormat(
    name="xray_cloud_graphql",
    description="Xray Cloud GraphQL test export (getTests / getTest answers)",
    detect=_detect,
    read=_read,
    suffixes=(".json",),
)
