"""Backlog coverage: linking a backlog item to tests through their ``covered_content`` field.

Octane replaces a multi-reference field's whole list on update (SPEC §4.6), so
both directions read the list, change it, and write it back — only for tests
whose list actually changes, which makes both idempotent. A backlog id that is
not a story, feature or defect of the workspace is refused before anything is
written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from evidencehub.errors import InputError, NotFoundError
from evidencehub.publish.targets.octane.client import OctaneClient
from evidencehub.publish.targets.octane.converter import TestIdentity
from evidencehub.publish.targets.octane.query import in_list

BACKLOG_SUBTYPES = ("story", "feature", "defect", "quality_story")
BATCH = 50  # values per IN list (keeps the URL near 4 KB)

Action = Literal["link", "delink"]


@dataclass(frozen=True)
class CoverageOutcome:
    action: Action
    backlog_id: str
    backlog_type: str
    backlog_name: str
    tests: int  # distinct tests of the upload
    found: int  # of those, found in Octane
    changed: int  # tests whose covered_content was written
    unchanged: int  # already linked (link) or not linked (delink)

    @property
    def missing(self) -> int:
        return self.tests - self.found

    @property
    def message(self) -> str:
        what = f"{self.backlog_type} {self.backlog_id} ({self.backlog_name})"
        if self.action == "link":
            text = f"linked {what} to {self.changed} test(s); {self.unchanged} already covered it"
        elif self.changed == 0:
            text = f"{what} was not linked to any of the {self.found} test(s) found: nothing to delink"
        else:
            text = f"delinked {what} from {self.changed} test(s); {self.unchanged} were not linked"
        if self.missing:
            text += f"; {self.missing} test(s) of the upload were not found in Octane"
        return text


def backlog_item(client: OctaneClient, backlog_id: str) -> dict[str, Any]:
    """The work item, or a clear error when it does not exist or cannot be covered by tests."""
    if not backlog_id.isdigit():
        raise InputError(
            f"backlog id {backlog_id!r} must be a number (an Octane work item id)",
            details={"parameter": "backlog"},
        )
    item = client.get("work_items", backlog_id, fields=["id", "name", "subtype"])
    if item is None:
        raise NotFoundError(
            f"backlog item {backlog_id} does not exist in Octane workspace {client.settings.workspace_id}",
            details={"backlog": backlog_id},
        )
    subtype = str(item.get("subtype") or item.get("type") or "")
    if subtype not in BACKLOG_SUBTYPES:
        raise InputError(
            f"work item {backlog_id} is a {subtype or 'work item of unknown type'}; "
            "tests cover stories, features and defects (covered_content)",
            details={"backlog": backlog_id, "subtype": subtype},
        )
    return item


def _key(test: dict[str, Any]) -> TestIdentity:
    return TestIdentity(
        module=str(test.get("component") or ""),
        package=str(test.get("package") or ""),
        class_name=str(test.get("class_name") or ""),
        name=str(test.get("name") or ""),
    )


def find_tests(
    client: OctaneClient, identities: Iterable[TestIdentity]
) -> dict[TestIdentity, dict[str, Any]]:
    """The Octane tests with these identities (queried by class, or by name for tests without a class)."""
    wanted = set(identities)
    by_class: dict[str, set[str]] = defaultdict(set)
    classless: list[str] = []
    for identity in wanted:
        if identity.class_name:
            by_class[identity.class_name].add(identity.name)
        else:
            classless.append(identity.name)
    fields = ["id", "name", "component", "package", "class_name", "covered_content"]
    queries = [in_list("class_name", chunk) for chunk in _chunks(sorted(by_class))]
    queries += [in_list("name", chunk) for chunk in _chunks(sorted(set(classless)))]
    found: dict[TestIdentity, dict[str, Any]] = {}
    for statement in queries:
        for test in client.iterate("tests", query=statement, fields=fields, page_size=1000):
            key = _key(test)
            if key in wanted and key not in found:
                found[key] = test
    return found


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def _references(test: dict[str, Any]) -> list[dict[str, Any]]:
    value = test.get("covered_content") or {}
    return [{"type": item["type"], "id": str(item["id"])} for item in value.get("data", [])]


def change_coverage(
    client: OctaneClient, action: Action, backlog_id: str, identities: Iterable[TestIdentity]
) -> CoverageOutcome:
    item = backlog_item(client, backlog_id)
    backlog_type = str(item.get("subtype") or item.get("type"))
    wanted = set(identities)
    tests = find_tests(client, wanted)
    updates: list[dict[str, Any]] = []
    for test in tests.values():
        references = _references(test)
        linked = any(reference["id"] == backlog_id for reference in references)
        if action == "link" and not linked:
            references.append({"type": backlog_type, "id": backlog_id})
        elif action == "delink" and linked:
            references = [reference for reference in references if reference["id"] != backlog_id]
        else:
            continue
        updates.append({"id": str(test["id"]), "covered_content": {"data": references}})
    if updates:
        client.update_many("tests", updates)
    return CoverageOutcome(
        action=action,
        backlog_id=backlog_id,
        backlog_type=backlog_type,
        backlog_name=str(item.get("name") or ""),
        tests=len(wanted),
        found=len(tests),
        changed=len(updates),
        unchanged=len(tests) - len(updates),
    )
