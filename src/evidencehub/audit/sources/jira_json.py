"""Jira REST issue JSON: one issue (``GET /rest/api/2/issue/KEY?expand=names``) or search results.

Custom fields are named by the ``names`` map that ``expand=names`` adds (on the
issue, or at the top of a search response), else by the configured
``audit.jira_field_names`` mapping, else they keep their ``customfield_*`` id.
Descriptions in wiki markup (Server/Data Center) and in the Atlassian Document
Format (Cloud, REST v3) are both read, and their headed sections become fields.
Xray Server's "Manual Test Steps" field becomes structured steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evidencehub.audit.schemas import FieldKind, TestCaseDocument, TestStep
from evidencehub.audit.sources.base import ReadOptions, SourceFormat, json_start, read_json
from evidencehub.audit.text import adf_to_markdown, split_sections, wiki_to_markdown
from evidencehub.errors import InputError

# Display names of Jira's system fields, as Jira spells them.
SYSTEM_FIELDS = {
    "summary": "Summary",
    "description": "Description",
    "priority": "Priority",
    "components": "Components",
    "labels": "Labels",
    "issuetype": "Issue Type",
    "status": "Status",
    "created": "Created",
    "updated": "Updated",
    "reporter": "Reporter",
    "creator": "Creator",
    "assignee": "Assignee",
    "attachment": "Attachment",
    "fixVersions": "Fix Version/s",
    "versions": "Affects Version/s",
    "environment": "Environment",
    "issuelinks": "Issue Links",
    "subtasks": "Sub-tasks",
    "project": "Project",
}
# Fields that say nothing about how well the test is documented.
_IGNORED = {"project", "status", "issuetype", "watches", "votes", "worklog", "comment", "timetracking"}
# Xray's coverage link: the test "tests" the requirement.
_REQUIREMENT_LINKS = {"test", "tests", "testing", "covers", "verifies"}


def _detect(path: Path, head: bytes) -> bool:
    start = json_start(path, head, 2000)
    return b'"fields"' in start or b'"issues"' in start


def _read(path: Path, options: ReadOptions) -> list[TestCaseDocument]:
    data = read_json(path)
    names: dict[str, str] = dict(options.jira_field_names)
    if isinstance(data, dict) and isinstance(data.get("issues"), list):
        names.update(_names(data))
        issues = data["issues"]
    elif isinstance(data, list):
        issues = data
    elif isinstance(data, dict) and isinstance(data.get("fields"), dict):
        issues = [data]
    else:
        raise InputError(
            f"{path}: expected a Jira issue ({{'key', 'fields'}}) or search results ({{'issues': [...]}})",
            details={"file": str(path)},
        )
    documents = []
    for position, issue in enumerate(issues):
        if not isinstance(issue, dict) or not isinstance(issue.get("fields"), dict):
            raise InputError(
                f"{path}: issue #{position + 1} has no 'fields' object", details={"file": str(path)}
            )
        documents.append(issue_document(issue, {**names, **_names(issue)}, str(path)))
    return documents


def _names(container: Mapping[str, Any]) -> dict[str, str]:
    names = container.get("names")
    return {str(key): str(value) for key, value in names.items()} if isinstance(names, dict) else {}


def issue_document(issue: Mapping[str, Any], names: Mapping[str, str], source: str) -> TestCaseDocument:
    """One Jira issue as a test-case document."""
    fields: Mapping[str, Any] = issue["fields"]
    key = issue.get("key")
    document = TestCaseDocument(
        key=str(key) if key else None,
        summary=_plain(fields.get("summary")) or None,
        source=source,
        source_format=SOURCE.name,
        url=_browse_url(issue),
    )
    if key:
        document.add("Key", FieldKind.DERIVED, str(key), location="issue key")
    for field_id, value in fields.items():
        if field_id in _IGNORED or value in (None, "", [], {}):
            continue
        label = names.get(field_id) or SYSTEM_FIELDS.get(field_id) or field_id
        where = f"Jira field '{label}'" + (f" ({field_id})" if label != field_id else "")
        if field_id == "issuelinks":
            _add_links(document, value)
        elif field_id == "description":
            _add_description(document, value, where)
        elif (steps := _xray_steps(value)) is not None:
            document.add(label, FieldKind.JIRA_FIELD, steps=steps, location=where)
        elif isinstance(value, list):
            document.add(
                label,
                FieldKind.JIRA_FIELD,
                items=[_plain(item) for item in value if _plain(item)],
                location=where,
            )
        else:
            document.add(label, FieldKind.JIRA_FIELD, _rich_text(value), location=where)
    return document


def _browse_url(issue: Mapping[str, Any]) -> str | None:
    self_url, key = issue.get("self"), issue.get("key")
    if isinstance(self_url, str) and "/rest/api/" in self_url and key:
        return f"{self_url.split('/rest/api/')[0]}/browse/{key}"
    return None


def _rich_text(value: Any) -> str:
    if isinstance(value, dict) and value.get("type") == "doc":
        return adf_to_markdown(value)
    if isinstance(value, str):
        return wiki_to_markdown(value)
    return _plain(value)


def _plain(value: Any) -> str:
    """A field value as one line of text: option values, user names, file names, numbers."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return _option_text(value)
    if isinstance(value, list):
        return ", ".join(filter(None, (_plain(item) for item in value)))
    return str(value).strip()


def _option_text(value: dict[str, Any]) -> str:
    """Select options (with cascading children), users, attachments, linked issues."""
    if value.get("type") == "doc":
        return adf_to_markdown(value)
    attribute = next(
        (name for name in ("value", "displayName", "name", "filename", "key", "title") if value.get(name)),
        None,
    )
    if attribute is None:
        return ""
    child = value.get("child")
    text = str(value[attribute])
    return f"{text} / {_plain(child)}" if isinstance(child, dict) else text


def _add_description(document: TestCaseDocument, value: Any, where: str) -> None:
    text = _rich_text(value)
    document.add("Description", FieldKind.JIRA_FIELD, text, location=where)
    _, sections = split_sections(text)
    for section in sections:
        document.add(
            section.heading,
            FieldKind.HEADING,
            section.body,
            location=f"Description, section '{section.heading}'",
        )


def _add_links(document: TestCaseDocument, links: Any) -> None:
    requirements: list[str] = []
    related: list[str] = []
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict):
            continue
        link_type = link.get("type") or {}
        if "outwardIssue" in link:
            other, verb = link["outwardIssue"], link_type.get("outward") or link_type.get("name", "")
        else:
            other, verb = link.get("inwardIssue") or {}, link_type.get("inward") or link_type.get("name", "")
        other_key = other.get("key")
        if not other_key:
            continue
        summary = _plain((other.get("fields") or {}).get("summary"))
        text = f"{verb} {other_key}" + (f" – {summary}" if summary else "")
        names = {str(link_type.get("name", "")).casefold(), str(verb).casefold()}
        (requirements if names & _REQUIREMENT_LINKS else related).append(text.strip())
    document.add("Requirements", FieldKind.DERIVED, items=requirements, location="Jira issue links ('tests')")
    document.add("Related Issues", FieldKind.DERIVED, items=related, location="Jira issue links")


def _xray_steps(value: Any) -> list[TestStep] | None:
    """Xray Server's "Manual Test Steps" value (several shapes across versions), else None."""
    raw = value.get("steps") if isinstance(value, dict) else value
    if not isinstance(raw, list) or not raw or not all(isinstance(item, dict) for item in raw):
        return None
    steps = []
    for position, item in enumerate(raw, start=1):
        inner = item.get("fields") if isinstance(item.get("fields"), dict) else item
        action = _step_text(inner, ("Action", "action", "step"))
        data = _step_text(inner, ("Data", "data"))
        expected = _step_text(inner, ("Expected Result", "expected", "result", "expectedResult"))
        if not (action or expected) and not any(key in inner for key in ("action", "Action", "step")):
            return None
        index = item.get("index") or item.get("id") or position
        steps.append(
            TestStep(
                index=int(index) if str(index).isdigit() else position,
                action=action,
                data=data,
                expected=expected,
            )
        )
    return steps


def _step_text(container: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = container.get(key)
        if isinstance(value, dict):
            value = value.get("raw") or value.get("rendered") or value.get("value")
        if value:
            return wiki_to_markdown(str(value)).strip()
    return ""


SOURCE = SourceFormat(
    name="jira_json",
    description="Jira REST issue JSON (one issue or search results, with expand=names)",
    detect=_detect,
    read=_read,
    suffixes=(".json",),
)
