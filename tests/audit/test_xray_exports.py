"""Xray test exports as audit sources: Server REST export JSON and Cloud GraphQL answers."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidencehub.audit.sources import ReadOptions, read_documents
from evidencehub.errors import InputError
from tests.audit.support import audit_files

SERVER_EXPORT = [
    {
        "key": "CALC-1",
        "self": "https://jira.example.com/rest/raven/1.0/api/test/CALC-1",
        "summary": "Adding two numbers",
        "reporter": "admin",
        "assignee": "qa",
        "type": "Manual",
        "status": "TODO",
        "labels": ["calculator", "smoke"],
        "requirementKeys": ["CALC-100"],
        "precondition": [{"key": "CALC-9", "condition": "The calculator is switched on", "type": "Manual"}],
        "definition": {
            "steps": [
                {
                    "id": 11,
                    "index": 1,
                    "step": {"raw": "Type 1 + 2", "rendered": "<p>Type 1 + 2</p>"},
                    "data": {"raw": "1, 2"},
                    "result": {"raw": "The display shows 3"},
                    "attachments": [],
                }
            ]
        },
    },
    {"key": "CALC-2", "type": "Generic", "status": "PASS", "definition": "calc.AddTest.test_add"},
]

CLOUD_EXPORT = {
    "data": {
        "getTests": {
            "total": 2,
            "start": 0,
            "limit": 100,
            "results": [
                {
                    "issueId": "12345",
                    "testType": {"name": "Manual", "kind": "Steps"},
                    "steps": [
                        {"id": "a1", "action": "Open the cart", "data": "", "result": "The cart is empty"}
                    ],
                    "folder": {"path": "/shop/cart"},
                    "preconditions": {
                        "results": [
                            {"issueId": "9", "definition": "A signed-in user", "jira": {"key": "SHOP-9"}}
                        ]
                    },
                    "jira": {
                        "key": "SHOP-1",
                        "summary": "An empty cart",
                        "labels": ["cart"],
                        "description": "h2. Objective\nProve the cart starts empty.",
                        "issuelinks": [
                            {
                                "type": {"name": "Test", "outward": "tests"},
                                "outwardIssue": {"key": "SHOP-100"},
                            }
                        ],
                    },
                },
                {
                    "issueId": "12346",
                    "testType": {"name": "Generic", "kind": "Unstructured"},
                    "unstructured": "shop.CartTest.test_add",
                    "jira": {"key": "SHOP-2", "summary": "Adding to the cart"},
                },
            ],
        }
    }
}


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _fields(document: Any) -> dict[str, Any]:
    return {field.label: field for field in document.fields}


def test_server_export_becomes_documents(tmp_path: Path) -> None:
    manual, generic = read_documents([_write(tmp_path, "tests.json", SERVER_EXPORT)], ReadOptions())
    assert (manual.source_format, manual.key, manual.summary) == (
        "xray_server_json",
        "CALC-1",
        "Adding two numbers",
    )
    fields = _fields(manual)
    assert fields["Test Type"].text == "Manual"
    (step,) = fields["Test Steps"].steps
    assert (step.action, step.data, step.expected) == ("Type 1 + 2", "1, 2", "The display shows 3")
    assert fields["Pre-Conditions"].items == ["CALC-9: The calculator is switched on"]
    assert fields["Requirements"].items == ["CALC-100"]
    assert fields["Labels"].items == ["calculator", "smoke"]
    assert _fields(generic)["Generic Test Definition"].text == "calc.AddTest.test_add"
    assert "Test Steps" not in _fields(generic)


def test_cloud_graphql_export_becomes_documents(tmp_path: Path) -> None:
    manual, generic = read_documents([_write(tmp_path, "tests.json", CLOUD_EXPORT)], ReadOptions())
    assert (manual.source_format, manual.key, manual.summary) == (
        "xray_cloud_graphql",
        "SHOP-1",
        "An empty cart",
    )
    fields = _fields(manual)
    assert fields["Test Type"].text == "Manual"
    assert [(step.action, step.expected) for step in fields["Test Steps"].steps] == [
        ("Open the cart", "The cart is empty")
    ]
    assert fields["Pre-Conditions"].items == ["SHOP-9: A signed-in user"]
    assert fields["Test Repository Path"].text == "/shop/cart"
    assert any("SHOP-100" in item for item in fields["Requirements"].items)
    assert (
        "Prove the cart starts empty." in fields["Objective"].text
    )  # a description section, as for Jira JSON
    assert _fields(generic)["Generic Test Definition"].text == "shop.CartTest.test_add"


def test_pages_saved_as_an_array_are_read_in_order(tmp_path: Path) -> None:
    pages = [CLOUD_EXPORT, {"data": {"getTest": CLOUD_EXPORT["data"]["getTests"]["results"][1]}}]
    documents = read_documents([_write(tmp_path, "pages.json", pages)], ReadOptions())
    assert [document.key for document in documents] == ["SHOP-1", "SHOP-2", "SHOP-2"]


def test_exports_are_audited(tmp_path: Path) -> None:
    server = audit_files(_write(tmp_path, "server.json", SERVER_EXPORT))
    statuses = {finding.field: finding.status for finding in server.tickets[0].fields}
    assert statuses["Test Type"] == "present"
    assert statuses["Requirements"] == "present"
    cloud = audit_files(_write(tmp_path, "cloud.json", CLOUD_EXPORT))
    assert [ticket.key for ticket in cloud.tickets] == ["SHOP-1", "SHOP-2"]


def test_a_graphql_error_answer_is_refused_with_its_message(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "error.json",
        {"errors": [{"message": "jql: field 'projct' does not exist"}], "data": {"getTests": None}},
    )
    with pytest.raises(InputError, match="projct"):
        read_documents([path], ReadOptions(), fmt="xray_cloud_graphql")


def test_a_server_test_without_key_is_named_by_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.json", [SERVER_EXPORT[1], {"type": "Manual", "definition": {"steps": []}}])
    with pytest.raises(InputError, match="test #2 has no 'key'"):
        read_documents([path], ReadOptions(), fmt="xray_server_json")


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
_steps = st.lists(
    st.fixed_dictionaries({"action": _text.filter(str.strip), "data": _text, "result": _text}), max_size=5
)
_keys = st.from_regex(r"[A-Z]{2,5}-[1-9][0-9]{0,4}", fullmatch=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(tests=st.lists(st.tuples(_keys, _text, _steps), min_size=1, max_size=6))
def test_server_exports_keep_every_test_key_and_step(
    tests: list[tuple[str, str, list[dict[str, str]]]],
) -> None:
    export = [
        {
            "key": key,
            "summary": summary,
            "type": "Manual",
            "definition": {
                "steps": [
                    {
                        "index": n,
                        "step": {"raw": s["action"]},
                        "data": {"raw": s["data"]},
                        "result": {"raw": s["result"]},
                    }
                    for n, s in enumerate(steps, 1)
                ]
            },
        }
        for key, summary, steps in tests
    ]
    with tempfile.TemporaryDirectory() as folder:
        documents = read_documents([_write(Path(folder), "export.json", export)], ReadOptions())
    assert [document.key for document in documents] == [key for key, _, _ in tests]
    for document, (_key, _summary, steps) in zip(documents, tests, strict=True):
        found = _fields(document).get("Test Steps")
        assert len(found.steps if found else []) == len(steps)


@settings(max_examples=80, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | _text,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "data",
                        "getTests",
                        "getTest",
                        "results",
                        "jira",
                        "testType",
                        "steps",
                        "key",
                        "errors",
                        "unstructured",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_any_json_is_read_or_refused_clearly(data: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), "any.json", data)
        for fmt in ("xray_cloud_graphql", "xray_server_json"):
            message = str(path)
            try:
                read_documents([path], ReadOptions(), fmt=fmt)
            except InputError as exc:
                message = exc.message
            assert str(path) in message  # a refusal names the file
